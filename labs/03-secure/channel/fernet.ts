/**
 * Fernet: authenticated encryption packaged as a text token, exactly as the Fernet specification
 * (github.com/fernet/spec) defines it. It is what the Python security project this course is
 * modelled on used (`cryptography.fernet`), so lab 3 keeps it as a second record format (`--cipher fernet`) and
 * checks this module against the specification's own test vectors.
 *
 * A token is base64url text (with `=` padding) of these bytes:
 *
 * ```
 * offset  size  field
 *      0     1  version, always 0x80
 *      1     8  timestamp: seconds since 1970, unsigned big-endian
 *      9    16  IV: random for every token
 *     25     N  ciphertext: AES-128-CBC of the plaintext with PKCS#7 padding (N a multiple of 16)
 *   25+N    32  HMAC-SHA256 over every byte before it (version … ciphertext)
 * ```
 *
 * The 32-byte key is two keys side by side: the first 16 bytes sign (HMAC), the last 16 encrypt
 * (AES-128). This is "encrypt-then-MAC": the receiver checks the HMAC before it decrypts anything,
 * so a tampered token is rejected without ever touching the padding — which is what keeps CBC's
 * padding-oracle attacks out.
 *
 * Fernet next to the channel's main format, AES-256-GCM: both authenticate and encrypt, but a
 * Fernet token costs two passes over the data (CBC, then HMAC), 57 bytes of overhead plus padding,
 * and a third more for base64; a GCM record costs one pass and 24 bytes. Fernet has no associated
 * data and no sequence number, so the channel puts its own counter inside the plaintext.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";

/** The one version byte the specification defines. */
export const FERNET_VERSION = 0x80;
/** How far ahead a token's timestamp may be when a TTL is checked (as in the reference code). */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/** Bytes before the ciphertext: version, timestamp, IV. */
const HEADER_SIZE = 1 + 8 + 16;
/** Bytes of HMAC after it. */
const MAC_SIZE = 32;
/** Shorter than this, a token cannot even hold its header and MAC. */
const MIN_TOKEN_SIZE = HEADER_SIZE + MAC_SIZE;

/** Why a token was refused. */
export type FernetFailure =
  | "bad-base64"
  | "too-short"
  | "bad-version"
  | "bad-length"
  | "bad-mac"
  | "expired"
  | "from-the-future"
  | "bad-padding";

/** A token failed verification; `reason` says which check. */
export class FernetError extends Error {
  /** The check that failed. */
  readonly reason: FernetFailure;

  /**
   * Makes the error.
   *
   * @param reason The check that failed.
   * @param message What happened.
   */
  constructor(reason: FernetFailure, message: string) {
    super(message);
    this.reason = reason;
    this.name = "FernetError";
  }
}

/** Options for {@link Fernet.generate}. */
export interface FernetGenerateOptions {
  /** The token's timestamp: a `Date`, or seconds since 1970. Default: now. */
  now?: Date | number;
  /** The 16-byte IV. Default: random. Only tests should pass one; reusing an IV leaks data. */
  iv?: Uint8Array;
}

/** Options for {@link Fernet.verify}. */
export interface FernetVerifyOptions {
  /** Refuse tokens older than this many seconds (and more than a minute in the future). */
  ttlSeconds?: number;
  /** The verifier's clock: a `Date`, or seconds since 1970. Default: now. */
  now?: Date | number;
}

/** A Fernet key: encrypts plaintext into tokens and verifies and decrypts tokens. */
export class Fernet {
  readonly #signingKey: Buffer;
  readonly #encryptionKey: Buffer;

  /**
   * Makes a Fernet from a key.
   *
   * @param key 32 bytes, or their base64url text (as {@link Fernet.generateKey} returns).
   * @throws {TypeError} When the key is not 32 bytes.
   */
  constructor(key: string | Uint8Array) {
    const bytes = typeof key === "string" ? decodeBase64url(key) : key;
    if (bytes === undefined || bytes.length !== 32) {
      throw new TypeError("Invalid Fernet key: expected 32 bytes of base64url");
    }
    this.#signingKey = Buffer.from(bytes.subarray(0, 16));
    this.#encryptionKey = Buffer.from(bytes.subarray(16, 32));
  }

  /**
   * Makes a new random key.
   *
   * @returns 32 random bytes as base64url text, the form the reference implementations use.
   */
  static generateKey(): string {
    return encodeBase64url(randomBytes(32));
  }

  /**
   * Encrypts and signs `data`.
   *
   * @param data The plaintext.
   * @param options The timestamp and IV, for reproducible tokens in tests.
   * @returns The token, base64url text.
   * @example
   * ```ts
   * const f = new Fernet(Fernet.generateKey());
   * const token = f.generate(new TextEncoder().encode("hello"));
   * f.verify(token); // the bytes of "hello"
   * ```
   */
  generate(data: Uint8Array, options: FernetGenerateOptions = {}): string {
    const iv = options.iv ?? randomBytes(16);
    return encodeBase64url(
      sealToken(this.#signingKey, this.#encryptionKey, seconds(options.now), iv, [data]),
    );
  }

  /**
   * Verifies a token and returns its plaintext.
   *
   * @param token The token, base64url text.
   * @param options A maximum age, and the clock to measure it with.
   * @returns The plaintext.
   * @throws {FernetError} When any check fails; `reason` says which.
   */
  verify(token: string, options: FernetVerifyOptions = {}): Uint8Array {
    const raw = decodeBase64url(token);
    if (raw === undefined) throw new FernetError("bad-base64", "Fernet token is not base64url");
    const plaintext = openToken(this.#signingKey, this.#encryptionKey, raw);
    if (options.ttlSeconds !== undefined) {
      checkAge(tokenTimestamp(raw), seconds(options.now), options.ttlSeconds);
    }
    return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length);
  }
}

/** Seconds since 1970 from a `Date`, a number of seconds, or now. */
function seconds(now: Date | number | undefined): number {
  if (now === undefined) return Math.floor(Date.now() / 1000);
  return typeof now === "number" ? Math.floor(now) : Math.floor(now.getTime() / 1000);
}

/**
 * Builds a token's bytes: version, timestamp, IV, ciphertext of the concatenated `parts`, HMAC.
 * The channel passes its sequence number and the data as two parts, to avoid a copy.
 *
 * @param signingKey The first half of the Fernet key.
 * @param encryptionKey The second half.
 * @param timestamp Seconds since 1970.
 * @param iv 16 bytes, fresh for every token.
 * @param parts The plaintext, in pieces.
 * @returns The token's bytes (not yet base64url).
 */
export function sealToken(
  signingKey: Uint8Array,
  encryptionKey: Uint8Array,
  timestamp: number,
  iv: Uint8Array,
  parts: readonly Uint8Array[],
): Buffer {
  if (iv.length !== 16) throw new TypeError(`Invalid Fernet IV: ${iv.length} bytes, expected 16`);
  const cipher = createCipheriv("aes-128-cbc", encryptionKey, iv);
  const pieces: Uint8Array[] = [new Uint8Array(HEADER_SIZE)];
  for (const part of parts) pieces.push(cipher.update(part));
  pieces.push(cipher.final());
  pieces.push(new Uint8Array(MAC_SIZE));
  const token = Buffer.concat(pieces);
  token[0] = FERNET_VERSION;
  // 64-bit timestamp; seconds fit comfortably in 53 bits, so the number converts exactly.
  token.writeBigUInt64BE(BigInt(timestamp), 1);
  token.set(iv, 9);
  const macStart = token.length - MAC_SIZE;
  const mac = createHmac("sha256", signingKey).update(token.subarray(0, macStart)).digest();
  token.set(mac, macStart);
  return token;
}

/**
 * Checks a token's version, length and HMAC, then decrypts it. The timestamp is not checked here:
 * that needs a clock and a TTL, which only {@link Fernet.verify}'s caller has.
 *
 * @param signingKey The first half of the Fernet key.
 * @param encryptionKey The second half.
 * @param raw The token's bytes.
 * @returns The plaintext.
 * @throws {FernetError} When a check fails.
 */
export function openToken(
  signingKey: Uint8Array,
  encryptionKey: Uint8Array,
  raw: Uint8Array,
): Buffer {
  if (raw.length < MIN_TOKEN_SIZE) {
    throw new FernetError(
      "too-short",
      `Fernet token is too short: ${raw.length} bytes, the least is ${MIN_TOKEN_SIZE}`,
    );
  }
  if (raw[0] !== FERNET_VERSION) {
    throw new FernetError("bad-version", `Fernet token has version 0x${hex(raw[0])}, not 0x80`);
  }
  const macStart = raw.length - MAC_SIZE;
  // At least one block: even an empty plaintext is padded to 16 bytes.
  const ciphertextSize = macStart - HEADER_SIZE;
  if (ciphertextSize === 0 || ciphertextSize % 16 !== 0) {
    throw new FernetError(
      "bad-length",
      `Fernet ciphertext is ${ciphertextSize} bytes, not a whole number of 16-byte blocks`,
    );
  }
  // Authenticate first, decrypt second: nothing about an unauthenticated token is acted upon.
  const expected = createHmac("sha256", signingKey).update(raw.subarray(0, macStart)).digest();
  // timingSafeEqual: a comparison that stops at the first wrong byte would tell an attacker, by
  // its timing, how many leading bytes of a forged MAC are right.
  if (!timingSafeEqual(expected, raw.subarray(macStart))) {
    throw new FernetError("bad-mac", "Fernet token's HMAC does not verify");
  }
  const decipher = createDecipheriv("aes-128-cbc", encryptionKey, raw.subarray(9, HEADER_SIZE));
  try {
    const head = decipher.update(raw.subarray(HEADER_SIZE, macStart));
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    // Only the holder of the signing key can produce a token that gets this far.
    throw new FernetError("bad-padding", "Fernet token's padding is invalid");
  }
}

/**
 * Reads a token's timestamp.
 *
 * @param raw The token's bytes (at least 9).
 * @returns Seconds since 1970.
 */
export function tokenTimestamp(raw: Uint8Array): number {
  return Number(Buffer.from(raw.buffer, raw.byteOffset, raw.length).readBigUInt64BE(1));
}

function checkAge(timestamp: number, now: number, ttlSeconds: number): void {
  if (timestamp + ttlSeconds < now) {
    throw new FernetError(
      "expired",
      `Fernet token has expired: issued ${now - timestamp} s ago, TTL ${ttlSeconds} s`,
    );
  }
  if (timestamp > now + MAX_CLOCK_SKEW_SECONDS) {
    throw new FernetError(
      "from-the-future",
      `Fernet token is dated ${timestamp - now} s in the future, more than the ` +
        `${MAX_CLOCK_SKEW_SECONDS} s of clock skew allowed`,
    );
  }
}

/**
 * Encodes bytes as base64url with `=` padding, the form the specification's tokens use (Node's
 * `"base64url"` encoding leaves the padding off).
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function encodeBase64url(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("base64url");
  return text + "==".slice(0, (4 - (text.length % 4)) % 4);
}

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes base64url text, strictly: only the one text {@link encodeBase64url} makes for the same
 * bytes is accepted, `=` padding included.
 *
 * Node's decoder is lenient three ways, and each lets a token change on the wire and still decode
 * to the same bytes, so its HMAC still passes: it skips characters it does not know (`%%%%`
 * decodes to nothing), it ignores the unused low bits of the last character (`_-8=` and `_-9=`
 * are the same two bytes), and it takes the text with or without padding. A token that can be
 * written several ways is a record whose length prefix can change without anyone noticing; one
 * written only one way makes every change to it visible.
 *
 * @param text The text.
 * @returns The bytes, or `undefined` if the text is not canonical padded base64url.
 */
export function decodeBase64url(text: string): Uint8Array | undefined {
  if (!BASE64URL.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, "base64url");
  // Encoding again gives back the same text only if nothing above was lenient.
  if (encodeBase64url(bytes) !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
