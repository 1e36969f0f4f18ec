/**
 * The secure channel itself: a {@link Transport} whose `read` returns plaintext and whose `write`
 * sends sealed records, so lab 2's connection loop runs over it without a single change.
 *
 * ```
 *   serveClient ──write("+OK\r\n")──▶ SecureChannel ──seal──▶ [len|seq|ciphertext|tag] ──▶ socket
 *   serveClient ◀──read()── plaintext ◀──open── SecureChannel ◀── records ◀────────────── socket
 * ```
 *
 * `acceptSecure` (server) and `connectSecure` (client) run the handshake in `handshake.ts` under
 * a deadline, then return the channel. Every failure closes the connection and throws a
 * {@link ChannelError} whose `reason` says what happened, so a server can log it.
 *
 * @module
 */

import type { Transport } from "../../../shared/transport.ts";
import { writeAll } from "../../../shared/transport.ts";
import { ByteReader } from "./byte_reader.ts";
import { HandshakeError, RecordError } from "./errors.ts";
import {
  type CipherName,
  clientHandshake,
  type HandshakeResult,
  MAX_RECORD_SIZE_LIMIT,
  MIN_RECORD_SIZE_LIMIT,
  serverHandshake,
} from "./handshake.ts";
import { hexDump } from "./hex_dump.ts";
import type { Identity } from "./identity.ts";
import type { AeadLibrary } from "./aead.ts";
import { type RecordFormat, recordFormat, recordLimitFor } from "./records.ts";

/** How long a handshake may take by default, in milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
/** The largest record payload accepted by default: 16 KiB, as in TLS. */
export const DEFAULT_MAX_RECORD_SIZE = 16 * 1024;
/**
 * About how much plaintext one write seals before it lets other clients run: big enough that a
 * pipelined batch is one slice (no change to the common case), small enough that sealing it
 * takes well under a millisecond.
 */
export const SEAL_SLICE = 64 * 1024;
/** `--trace` shows at most this many bytes of each frame. */
const TRACE_BYTES = 512;

/** Options for {@link acceptSecure}. */
export interface ServerChannelOptions {
  /** Proves the server is who the client pinned. */
  identity: Identity;
  /** The record format this server speaks. Default `aes-256-gcm`. */
  cipher?: CipherName;
  /** Give up on a handshake that has not finished by then. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Largest record payload accepted. Default 16384; 4 KiB to 16 MiB. */
  maxRecordSize?: number;
  /** `--trace`: receives lines showing each frame before and after encryption. */
  trace?: (line: string) => void;
  /**
   * Records each direction may carry before the channel closes: never more than the cipher's
   * own limit ({@link recordLimitFor}), so only a lower value has any effect. Tests lower it to
   * see the limit enforced without sending millions of records.
   */
  recordLimit?: number;
  /** Which library seals AES-GCM and ChaCha20-Poly1305 records (`aead.ts`). Default: the best found. */
  crypto?: AeadLibrary;
}

/** Options for {@link connectSecure}. */
export interface ClientChannelOptions {
  /**
   * Decides whether to trust the server's identity key (known-hosts or a pinned fingerprint).
   * Throws to abort before any command is sent.
   */
  verifyServerKey: (publicKey: Uint8Array, fingerprint: string) => void | Promise<void>;
  /** Give up on a handshake that has not finished by then. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Largest record payload accepted. Default 16384; 4 KiB to 16 MiB. */
  maxRecordSize?: number;
  /** `--trace`. */
  trace?: (line: string) => void;
  /**
   * The record formats this client accepts, most preferred first; the server picks the one it is
   * configured for. Default: both.
   */
  ciphers?: readonly CipherName[];
  /** As {@link ServerChannelOptions.recordLimit}. */
  recordLimit?: number;
  /** As {@link ServerChannelOptions.crypto}. */
  crypto?: AeadLibrary;
}

/** An established channel: reads and writes plaintext, sends records. */
export interface SecureChannel extends Transport {
  /** The record format agreed in the handshake. */
  readonly cipher: CipherName;
  /** The server's fingerprint. */
  readonly fingerprint: string;
  /** The server's raw 32-byte identity key. */
  readonly serverPublicKey: Uint8Array;
  /**
   * Records each direction may carry under its key; the channel closes rather than send or
   * accept one more (see `records.ts`).
   */
  readonly recordLimit: number;
}

/**
 * Runs the server side of the handshake on an accepted connection.
 *
 * A client that does not start with the handshake's magic (a plaintext RESP client, say) is sent
 * a RESP error explaining what to run instead; the promise then rejects. On any failure the
 * connection is closed.
 *
 * @param conn The accepted connection.
 * @param options Identity, cipher, limits.
 * @returns The channel, once both sides have confirmed the keys.
 * @throws {HandshakeError} With the reason: `plaintext-client`, `handshake-timeout`, ….
 * @example
 * ```ts
 * const identity = await loadOrCreateIdentity("data");
 * const channel = await acceptSecure(await listener.accept(), { identity });
 * ```
 */
export async function acceptSecure(
  conn: Transport,
  options: ServerChannelOptions,
): Promise<SecureChannel> {
  const maxRecordSize = checkedMaxRecordSize(options.maxRecordSize);
  const reader = new ByteReader(conn);
  const result = await withDeadline(
    conn,
    options.handshakeTimeoutMs,
    "client",
    () =>
      serverHandshake(conn, reader, {
        identity: options.identity,
        cipher: options.cipher ?? "aes-256-gcm",
        maxRecordSize,
        trace: options.trace,
      }),
  );
  return new RecordChannel(conn, reader, result, maxRecordSize, options);
}

/**
 * Runs the client side of the handshake.
 *
 * `verifyServerKey` runs once the server has proved it holds its identity key, and before
 * anything else is sent: throw from it (as {@link KnownHosts} and {@link pinnedFingerprint} do) to
 * refuse the server. Its time counts against the handshake timeout. On any failure the
 * connection is closed.
 *
 * @param conn A connection to the server.
 * @param options How to verify the server.
 * @returns The channel, once both sides have confirmed the keys.
 * @throws {HandshakeError} With the reason; or what `verifyServerKey` threw.
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 6379 });
 * const channel = await connectSecure(conn, {
 *   verifyServerKey: pinnedFingerprint("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"),
 * });
 * ```
 */
export async function connectSecure(
  conn: Transport,
  options: ClientChannelOptions,
): Promise<SecureChannel> {
  const maxRecordSize = checkedMaxRecordSize(options.maxRecordSize);
  const reader = new ByteReader(conn);
  const result = await withDeadline(
    conn,
    options.handshakeTimeoutMs,
    "server",
    () =>
      clientHandshake(conn, reader, {
        ciphers: options.ciphers ?? ["aes-256-gcm", "chacha20-poly1305", "fernet"],
        maxRecordSize,
        verifyServerKey: options.verifyServerKey,
        trace: options.trace,
      }),
  );
  return new RecordChannel(conn, reader, result, maxRecordSize, options);
}

function checkedMaxRecordSize(size: number | undefined): number {
  const value = size ?? DEFAULT_MAX_RECORD_SIZE;
  if (
    !Number.isSafeInteger(value) || value < MIN_RECORD_SIZE_LIMIT || value > MAX_RECORD_SIZE_LIMIT
  ) {
    throw new RangeError(
      `Invalid maxRecordSize: ${value} is not a whole number of bytes in ` +
        `${MIN_RECORD_SIZE_LIMIT}..${MAX_RECORD_SIZE_LIMIT}`,
    );
  }
  return value;
}

/**
 * Runs a handshake against a deadline. When time is up the connection is closed, which makes the
 * handshake's pending read fail, so nothing is left waiting on a peer that went silent.
 */
async function withDeadline<T>(
  conn: Transport,
  timeoutMs: number | undefined,
  peer: string,
  handshake: () => Promise<T>,
): Promise<T> {
  const ms = timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new HandshakeError(
          "handshake-timeout",
          `The handshake did not finish within ${ms} ms: the ${peer} stalled`,
        ),
      );
    }, ms);
  });
  try {
    return await Promise.race([handshake(), deadline]);
  } catch (error) {
    closeQuietly(conn);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The {@link SecureChannel} both sides get once the handshake is done. */
class RecordChannel implements SecureChannel {
  readonly cipher: CipherName;
  readonly fingerprint: string;
  readonly serverPublicKey: Uint8Array;
  readonly recordLimit: number;
  readonly #conn: Transport;
  readonly #reader: ByteReader;
  readonly #format: RecordFormat;
  /** The most plaintext per record the peer accepts: writes are cut into pieces this big. */
  readonly #sendChunk: number;
  /** How much plaintext is sealed before the channel yields: whole records, about 64 KiB. */
  readonly #sliceSize: number;
  readonly #trace: ((line: string) => void) | undefined;
  #sendSequence = 0;
  #receiveSequence = 0;
  /** Plaintext decrypted but not yet returned, because the caller's buffer was full. */
  #pending: Uint8Array | undefined;
  /** Set when a record failed a check: every later call throws it again. */
  #failure: Error | undefined;
  #closed = false;
  /** How many bytes the record being assembled needs in all, so the read buffer can grow to it. */
  #wanted = 0;
  /** The write in progress; the next one waits for it, so records leave in sequence order. */
  #writing: Promise<unknown> = Promise.resolve();

  constructor(
    conn: Transport,
    reader: ByteReader,
    result: HandshakeResult,
    maxRecordSize: number,
    options: { trace?: (line: string) => void; recordLimit?: number; crypto?: AeadLibrary },
  ) {
    this.#conn = conn;
    this.#reader = reader;
    this.cipher = result.cipher;
    this.fingerprint = result.fingerprint;
    this.serverPublicKey = result.serverPublicKey;
    this.#format = recordFormat(
      result.cipher,
      result.sendKey,
      result.receiveKey,
      maxRecordSize,
      options.crypto,
    );
    // The keys now live only inside the record format.
    this.#sendChunk = result.peerMaxRecordSize;
    this.#sliceSize = Math.max(1, Math.floor(SEAL_SLICE / this.#sendChunk)) * this.#sendChunk;
    // The cipher's bound is a ceiling: a caller may ask for fewer records, never for more.
    this.recordLimit = Math.min(
      options.recordLimit ?? Number.POSITIVE_INFINITY,
      recordLimitFor(result.cipher),
    );
    this.#trace = options.trace;
  }

  /**
   * Reads plaintext: decrypts as many whole records as are buffered and fit, and waits on the
   * socket only when none is.
   */
  async read(buffer: Uint8Array): Promise<number | null> {
    this.#check();
    if (buffer.length === 0) return 0;
    let n = this.#drainPending(buffer);
    for (;;) {
      while (n < buffer.length) {
        const plaintext = this.#nextRecord();
        if (plaintext === undefined) break;
        const fits = Math.min(plaintext.length, buffer.length - n);
        buffer.set(plaintext.subarray(0, fits), n);
        n += fits;
        if (fits < plaintext.length) this.#pending = plaintext.subarray(fits);
      }
      if (n > 0) return n;
      if (!(await this.#reader.fill(this.#wanted))) {
        this.#check();
        if (this.#reader.available === 0) return null;
        throw this.#fail(
          new RecordError(
            "truncated-record",
            `The stream ended in the middle of a record (${this.#reader.available} bytes of it ` +
              "arrived): the connection was cut, or someone cut it",
          ),
        );
      }
      // The channel may have been closed while this read waited; its keys are gone then.
      this.#check();
    }
  }

  /**
   * Seals `data` into records (as few as the peer's size limit allows) and sends them.
   *
   * A big write is sealed and sent a slice at a time ({@link SEAL_SLICE} bytes of plaintext),
   * waiting for each slice to be written before sealing the next. Sealing is synchronous work on
   * the one thread every client shares: sealed whole, a 100 MB reply would stop every other
   * client until the last record was done, and would hold all its ciphertext in memory at once.
   * Between slices the event loop serves everyone else, and at most one slice of ciphertext
   * waits per connection, whatever the record format adds to it on the wire.
   */
  write(data: Uint8Array): Promise<number> {
    try {
      this.#check();
    } catch (error) {
      return Promise.reject(error);
    }
    if (data.length === 0) return Promise.resolve(0);
    // Sealing happens in the chain, so records are numbered in the order writes were called and
    // leave in that order, even if a caller starts a second write before the first finished.
    const sent = this.#writing.then(() =>
      data.length <= this.#sliceSize
        ? writeAll(this.#conn, this.#seal(data))
        : this.#sendInSlices(data)
    );
    this.#writing = sent.catch(() => {});
    return sent.then(() => data.length);
  }

  async #sendInSlices(data: Uint8Array): Promise<void> {
    for (let start = 0; start < data.length; start += this.#sliceSize) {
      // Closed while the last slice was being written: the keys are gone.
      this.#check();
      await writeAll(this.#conn, this.#seal(data.subarray(start, start + this.#sliceSize)));
    }
  }

  /** Closes the connection. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = undefined;
    this.#format.dispose();
    closeQuietly(this.#conn);
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw new Deno.errors.BadResource("The secure channel is closed");
  }

  /** Records the failure, closes the connection, and returns the error for throwing. */
  #fail(error: Error): Error {
    this.#failure ??= error;
    if (!this.#closed) {
      this.#closed = true;
      this.#format.dispose();
      closeQuietly(this.#conn);
    }
    return error;
  }

  #drainPending(buffer: Uint8Array): number {
    const pending = this.#pending;
    if (pending === undefined) return 0;
    const n = Math.min(pending.length, buffer.length);
    buffer.set(pending.subarray(0, n));
    this.#pending = n < pending.length ? pending.subarray(n) : undefined;
    return n;
  }

  /** Opens the next record if all of it is buffered; `undefined` if more bytes are needed. */
  #nextRecord(): Uint8Array | undefined {
    const reader = this.#reader;
    const format = this.#format;
    if (reader.available < format.headerSize) {
      this.#wanted = format.headerSize;
      return undefined;
    }
    let size: number;
    try {
      // Checked on the header alone: a huge length is refused before its body is waited for.
      size = format.recordSize(reader.peek(format.headerSize));
    } catch (error) {
      throw this.#fail(error as Error);
    }
    if (reader.available < size) {
      // Not all here: the next fill() must make room for the whole record.
      this.#wanted = size;
      return undefined;
    }
    if (this.#receiveSequence >= this.recordLimit) {
      // Refused before it is opened: the peer's key has carried all it may.
      throw this.#fail(
        new RecordError(
          "sequence-exhausted",
          `The peer sent a record past the ${this.recordLimit} records one ${this.cipher} key ` +
            "may carry; it should have closed the connection",
        ),
      );
    }
    const record = reader.take(size);
    if (this.#trace !== undefined) {
      this.#traceFrame(
        "recv",
        `record, ${size} bytes on the wire (${format.describe(size)})`,
        record,
      );
    }
    let opened: { sequence: number; plaintext: Uint8Array };
    try {
      opened = format.open(record);
    } catch (error) {
      throw this.#fail(error as Error);
    }
    const expected = this.#receiveSequence;
    // exercise step 4: a genuine record with the wrong sequence number ends the connection: a lower one is a replay, a higher one a reordering
    if (opened.sequence !== expected) {
      // The record is genuine (its tag verified), so it was sent by the peer: at the wrong time.
      throw this.#fail(
        opened.sequence < expected
          ? new RecordError(
            "replayed-record",
            `Record ${opened.sequence} arrived again (record ${expected} was next): a replay`,
          )
          : new RecordError(
            "reordered-record",
            `Record ${opened.sequence} arrived when record ${expected} was next: records were ` +
              "reordered or one was dropped",
          ),
      );
    }
    // exercise starter: // Not checked yet: a record is taken whatever its sequence number.
    this.#receiveSequence++;
    if (this.#trace !== undefined) {
      const title =
        `record ${opened.sequence} decrypted: ${opened.plaintext.length} bytes of plaintext`;
      this.#traceFrame("recv", title, opened.plaintext);
    }
    return opened.plaintext;
  }

  #seal(data: Uint8Array): Uint8Array {
    const chunk = this.#sendChunk;
    const records = Math.ceil(data.length / chunk);
    if (this.#sendSequence + records > this.recordLimit) {
      throw this.#fail(
        new RecordError(
          "sequence-exhausted",
          `This direction has sent ${this.#sendSequence} records and may send at most ` +
            `${this.recordLimit} under one ${this.cipher} key; closing the connection (the ` +
            "client reconnects with fresh keys)",
        ),
      );
    }
    const format = this.#format;
    const last = data.length - (records - 1) * chunk;
    const wire = new Uint8Array(
      (records - 1) * format.wireSize(chunk) + format.wireSize(last),
    );
    let offset = 0;
    for (let start = 0; start < data.length; start += chunk) {
      const piece = data.subarray(start, start + chunk);
      const size = format.wireSize(piece.length);
      const sequence = this.#sendSequence++;
      format.seal(piece, sequence, wire, offset);
      if (this.#trace !== undefined) {
        this.#traceFrame("send", `record ${sequence}: ${piece.length} bytes of plaintext`, piece);
        this.#traceFrame(
          "send",
          `record ${sequence} sealed, ${size} bytes on the wire (${format.describe(size)})`,
          wire.subarray(offset, offset + size),
        );
      }
      offset += size;
    }
    return wire;
  }

  /** Writes a title and a hex dump; callers check `#trace` first, to skip building the title. */
  #traceFrame(direction: "send" | "recv", title: string, bytes: Uint8Array): void {
    const trace = this.#trace;
    if (trace === undefined) return;
    trace(`${direction} ${title}`);
    for (const line of hexDump(bytes, { maxBytes: TRACE_BYTES })) trace(line);
  }
}

function closeQuietly(conn: Transport): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
