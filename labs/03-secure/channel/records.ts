/**
 * The record layer: how plaintext becomes sealed, length-prefixed records on the wire, and back.
 *
 * # AES-256-GCM records (the default)
 *
 * ```
 * offset  size  field
 *      0     4  length L of what follows the header: ciphertext + 16-byte tag (big-endian)
 *      4     4  sequence number: 0 for this direction's first record, then 1, 2, …
 *      8  L-16  ciphertext (exactly as long as the plaintext: GCM is a stream cipher)
 *    L-8    16  authentication tag
 *
 * nonce (12 bytes)     = 00 00 00 00 00 00 00 00 | sequence number (4)
 * associated data      = the 8 header bytes
 * ```
 *
 * - **A key per direction, nonces from a counter.** GCM must never use one nonce twice with one
 *   key (two records under the same nonce leak the XOR of their plaintexts and let an attacker
 *   forge tags). Each connection has fresh keys, one per direction, and each direction counts its
 *   records, so every (key, nonce) pair is used once. A random nonce would also work, but 96
 *   random bits start colliding after about 2^32 records; a counter never does. (TLS 1.3 also
 *   XORs a secret IV into the counter, which matters when many keys are attacked at once.)
 * - **The header is authenticated too**, as associated data: change the length or the sequence
 *   number and the tag fails, just as if the ciphertext had been changed.
 * - **The sequence number is sent, then checked after the tag.** TLS 1.3 leaves it implicit
 *   (both sides count), so a replayed or reordered record simply fails its tag. Sending it costs
 *   four bytes and lets the error name the attack: a tampered record fails the tag; a replayed one
 *   passes the tag (it is a genuine record) but carries a number already seen; a reordered or
 *   dropped one carries a number from the future.
 * - **A key carries a bounded number of records.** Counters must never wrap (wrapping would
 *   reuse nonces), and AES-GCM must stop well before that: each record a key seals gives an
 *   attacker a little more to work with, and RFC 8446 §5.5 caps an AES-GCM key at the number of
 *   full-size records where a forgery is still negligibly likely ({@link AES_GCM_RECORD_LIMIT}).
 *   ChaCha20-Poly1305's margin outlasts the counter, and Fernet draws a fresh random IV for every
 *   record, so those two stop only where the counter would wrap ({@link RECORD_LIMIT}). A
 *   direction that reaches its limit stops sending, and a record past it is refused on arrival:
 *   the connection ends with a logged reason, and the client reconnects with fresh keys. TLS
 *   sends a KeyUpdate instead, which keeps the connection; this channel does not rekey (the
 *   lesson says how much data the limit allows, and how a rekey would work).
 * - **A maximum record size**, announced by each side in its hello, bounds what a reader must
 *   buffer: a header announcing more is refused before a byte of the body is read. Writes larger
 *   than the peer's limit are split into several records.
 *
 * # ChaCha20-Poly1305 records
 *
 * The same layout, nonce and associated data, with ChaCha20-Poly1305 (RFC 8439, TLS 1.3's other
 * AEAD) in place of AES-256-GCM. It is designed to be fast in plain software, where AES needs the
 * CPU's special instructions to be quick; servers offer it for machines without them. A client
 * offers it by default; a server uses it only when configured to.
 *
 * # Who computes the cipher
 *
 * `aead.ts`: the system's OpenSSL when the process may load it (`--allow-ffi`), else Deno's
 * `node:crypto`. The bytes are the same either way; the speed is not (8× for AES-GCM records here).
 *
 * # Fernet records (`--cipher fernet`)
 *
 * ```
 *      0    4  length L of the token
 *      4    L  a Fernet token (base64url text, see fernet.ts) whose plaintext is
 *              sequence number (4) | data
 * ```
 *
 * Fernet has no associated data and no counter of its own, so the sequence number travels inside
 * the encrypted payload; the HMAC covers it, and it is checked just as for GCM. The length prefix
 * is not authenticated, but changing it misaligns the token, whose HMAC then fails. That holds
 * only because the token's text is decoded strictly (`decodeBase64url`): a lenient decoder reads
 * the token with its `=` padding dropped, or its last letter's unused bits changed, as the same
 * bytes, and then a shorter prefix and a rewritten token pass together. The token's
 * timestamp is not checked: clocks on two machines disagree, and the sequence number already
 * makes every record fresh.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomFillSync } from "node:crypto";
import { type Aead, type AeadAlgorithm, type AeadLibrary, aeadLibrary } from "./aead.ts";
import { RecordError } from "./errors.ts";
import { decodeBase64url, FernetError, openToken, sealToken } from "./fernet.ts";
import type { CipherName } from "./handshake.ts";

/** Records a direction may send before it must close: its 32-bit counter must never wrap. */
export const RECORD_LIMIT = 2 ** 32;

/**
 * Records one AES-256-GCM key may seal: TLS 1.3's bound (RFC 8446 §5.5), rounded down. Past it
 * the margin against forgery shrinks below what TLS accepts.
 */
export const AES_GCM_RECORD_LIMIT: number = Math.floor(2 ** 24.5);

/**
 * How many records each direction may carry under one key, for a record format.
 *
 * @param cipher The format the handshake agreed on.
 * @returns {@link AES_GCM_RECORD_LIMIT} for AES-256-GCM; {@link RECORD_LIMIT} (where the counter
 *   would wrap) for ChaCha20-Poly1305 and Fernet.
 * @example
 * ```ts
 * recordLimitFor("aes-256-gcm"); // 23726566
 * ```
 */
export function recordLimitFor(cipher: CipherName): number {
  return cipher === "aes-256-gcm" ? AES_GCM_RECORD_LIMIT : RECORD_LIMIT;
}

const TAG_SIZE = 16;
const SEQUENCE_SIZE = 4;

/** One record format: sizes, sealing and opening. Stateless: the channel keeps the counters. */
export interface RecordFormat {
  /** Bytes to read before {@link recordSize} can tell a record's length. */
  readonly headerSize: number;
  /**
   * A record's total size on the wire, from its header.
   *
   * @throws {RecordError} When it exceeds the largest record this side accepts.
   */
  recordSize(header: Uint8Array): number;
  /** How many bytes a record carrying `payload` bytes takes on the wire. */
  wireSize(payload: number): number;
  /** Seals `data` as record `sequence` into `out` at `offset` (exactly {@link wireSize} bytes). */
  seal(data: Uint8Array, sequence: number, out: Uint8Array, offset: number): void;
  /**
   * Checks and decrypts one whole record.
   *
   * @returns The sequence number it carries and its plaintext.
   * @throws {RecordError} When authentication fails or it is malformed.
   */
  open(record: Uint8Array): { sequence: number; plaintext: Uint8Array };
  /** Describes a record's parts, for `--trace`. */
  describe(wireSize: number): string;
  /** Frees what the format holds outside JavaScript's heap (OpenSSL's cipher contexts). */
  dispose(): void;
}

/**
 * Makes the record format the handshake agreed on.
 *
 * @param cipher Its name.
 * @param sendKey This side's 32-byte sending key.
 * @param receiveKey This side's 32-byte receiving key.
 * @param maxRecordSize The largest payload this side accepts.
 * @param library Which library computes AES-GCM and ChaCha20-Poly1305 (see `aead.ts`); Fernet's
 *   AES-CBC and HMAC always come from `node:crypto`.
 * @returns The format.
 */
export function recordFormat(
  cipher: CipherName,
  sendKey: Uint8Array,
  receiveKey: Uint8Array,
  maxRecordSize: number,
  library: AeadLibrary = aeadLibrary(),
): RecordFormat {
  return cipher === "fernet"
    ? new FernetRecords(sendKey, receiveKey, maxRecordSize)
    : new AeadRecords(cipher, sendKey, receiveKey, maxRecordSize, library);
}

/** AES-256-GCM (or ChaCha20-Poly1305) records; see the module documentation for the layout. */
class AeadRecords implements RecordFormat {
  readonly headerSize = 8;
  readonly #sealer: Aead;
  readonly #opener: Aead;
  readonly #maxWire: number;
  // One nonce buffer per direction, rewritten for each record: no allocation per record.
  readonly #sendNonce = new Uint8Array(12);
  readonly #receiveNonce = new Uint8Array(12);

  constructor(
    algorithm: AeadAlgorithm,
    sendKey: Uint8Array,
    receiveKey: Uint8Array,
    maxRecordSize: number,
    library: AeadLibrary,
  ) {
    this.#sealer = library.create(algorithm, sendKey, "seal");
    this.#opener = library.create(algorithm, receiveKey, "open");
    this.#maxWire = this.headerSize + maxRecordSize + TAG_SIZE;
  }

  recordSize(header: Uint8Array): number {
    const length = readUint32(header, 0);
    const size = this.headerSize + length;
    if (size > this.#maxWire) {
      throw tooLarge(length - TAG_SIZE, this.#maxWire - this.headerSize - TAG_SIZE);
    }
    if (length < TAG_SIZE) {
      throw new RecordError("malformed-record", `Record of ${length} bytes cannot hold its tag`);
    }
    return size;
  }

  wireSize(payload: number): number {
    return this.headerSize + payload + TAG_SIZE;
  }

  seal(data: Uint8Array, sequence: number, out: Uint8Array, offset: number): void {
    // exercise step 4: write the header, make the nonce from the sequence, seal with header as AAD
    const body = offset + this.headerSize;
    writeUint32(out, offset, data.length + TAG_SIZE);
    writeUint32(out, offset + 4, sequence);
    writeUint32(this.#sendNonce, 8, sequence);
    this.#sealer.seal(
      this.#sendNonce,
      out.subarray(offset, body),
      data,
      out.subarray(body, body + data.length + TAG_SIZE),
    );
    // exercise starter: throw new NotImplementedError(4, "seal a record");
  }

  open(record: Uint8Array): { sequence: number; plaintext: Uint8Array } {
    // exercise step 4: read the sequence from the header, make the nonce from it, open with the header as AAD; a failed tag is a RecordError
    const sequence = readUint32(record, 4);
    const tagStart = record.length - TAG_SIZE;
    writeUint32(this.#receiveNonce, 8, sequence);
    const plaintext = this.#opener.open(
      this.#receiveNonce,
      record.subarray(0, this.headerSize),
      record.subarray(this.headerSize, tagStart),
      record.subarray(tagStart),
    );
    if (plaintext === undefined) {
      throw new RecordError(
        "bad-record-mac",
        `Record ${sequence} failed authentication: its bytes were altered in transit ` +
          "(or it was not made with this connection's key)",
      );
    }
    return { sequence, plaintext };
    // exercise starter: throw new NotImplementedError(4, "open a record");
  }

  describe(wireSize: number): string {
    return `${this.headerSize} header + ${wireSize - this.headerSize - TAG_SIZE} ciphertext + ` +
      `${TAG_SIZE} tag`;
  }

  dispose(): void {
    this.#sealer.dispose();
    this.#opener.dispose();
  }
}

/** Fernet tokens as records; see the module documentation for the layout. */
class FernetRecords implements RecordFormat {
  readonly headerSize = 4;
  readonly #send: { signing: Buffer; encryption: Buffer };
  readonly #receive: { signing: Buffer; encryption: Buffer };
  readonly #maxWire: number;
  readonly #maxRecordSize: number;
  readonly #iv = Buffer.alloc(16);
  readonly #sequence = new Uint8Array(SEQUENCE_SIZE);

  constructor(sendKey: Uint8Array, receiveKey: Uint8Array, maxRecordSize: number) {
    // The Fernet key layout: signing key first, encryption key second.
    this.#send = {
      signing: Buffer.from(sendKey.subarray(0, 16)),
      encryption: Buffer.from(sendKey.subarray(16)),
    };
    this.#receive = {
      signing: Buffer.from(receiveKey.subarray(0, 16)),
      encryption: Buffer.from(receiveKey.subarray(16)),
    };
    this.#maxRecordSize = maxRecordSize;
    this.#maxWire = this.wireSize(maxRecordSize);
  }

  recordSize(header: Uint8Array): number {
    const size = this.headerSize + readUint32(header, 0);
    if (size > this.#maxWire) {
      throw tooLarge(size - this.headerSize, this.#maxWire - this.headerSize, "token of");
    }
    return size;
  }

  wireSize(payload: number): number {
    // Header (version, time, IV), CBC blocks of sequence + data with at least one byte of
    // padding, HMAC; then base64 makes every 3 bytes 4.
    const raw = 25 + (Math.floor((SEQUENCE_SIZE + payload) / 16) + 1) * 16 + 32;
    return this.headerSize + Math.ceil(raw / 3) * 4;
  }

  seal(data: Uint8Array, sequence: number, out: Uint8Array, offset: number): void {
    writeUint32(this.#sequence, 0, sequence);
    // CBC needs an unpredictable IV for every token; a counter would not do here.
    randomFillSync(this.#iv);
    const token = sealToken(
      this.#send.signing,
      this.#send.encryption,
      Math.floor(Date.now() / 1000),
      this.#iv,
      [this.#sequence, data],
    );
    const text = token.toString("base64url");
    const padded = text + "==".slice(0, (4 - (text.length % 4)) % 4);
    writeUint32(out, offset, padded.length);
    Buffer.from(out.buffer, out.byteOffset, out.length).write(padded, offset + 4, "latin1");
  }

  open(record: Uint8Array): { sequence: number; plaintext: Uint8Array } {
    const text = Buffer.from(record.buffer, record.byteOffset + 4, record.length - 4)
      .toString("latin1");
    const raw = decodeBase64url(text);
    if (raw === undefined) {
      throw new RecordError("malformed-record", "Record is not a base64url Fernet token");
    }
    let plaintext: Uint8Array;
    try {
      plaintext = openToken(this.#receive.signing, this.#receive.encryption, raw);
    } catch (error) {
      if (!(error instanceof FernetError)) throw error;
      const forged = error.reason === "bad-mac" || error.reason === "bad-padding";
      throw new RecordError(
        forged ? "bad-record-mac" : "malformed-record",
        `Record failed authentication: ${error.message}`,
      );
    }
    if (
      plaintext.length < SEQUENCE_SIZE || plaintext.length - SEQUENCE_SIZE > this.#maxRecordSize
    ) {
      throw new RecordError("malformed-record", `Fernet record holds ${plaintext.length} bytes`);
    }
    return { sequence: readUint32(plaintext, 0), plaintext: plaintext.subarray(SEQUENCE_SIZE) };
  }

  describe(wireSize: number): string {
    return `${this.headerSize} length + ${wireSize - this.headerSize} of base64url token`;
  }

  dispose(): void {
    // Nothing outside the heap: node:crypto's objects are garbage-collected.
  }
}

function tooLarge(announced: number, limit: number, what = "payload of"): RecordError {
  return new RecordError(
    "record-too-large",
    `Record header announces a ${what} ${announced} bytes; the most this side accepts is ${limit}`,
  );
}

function readUint32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) |
    bytes[offset + 3]) >>> 0;
}

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}
