/**
 * The memcached connection's streaming decoder: bytes in, requests out.
 *
 * Like the RESP decoders (lab 1's `decoder.ts`, lab 2's `request_decoder.ts`), it keeps the bytes
 * it has not used and `next()` returns one whole request or `null` for "not enough bytes yet": a
 * command line split across two reads, or a data block still arriving, is the normal case.
 *
 * Memcached framing has two shapes, and which one comes next depends on what came before:
 *
 * ```
 * get k1 k2\r\n                       a line, ended by \n (a \r before it is dropped)
 * set k 0 0 5\r\nhello\r\n            a line announcing 5 bytes, then exactly 5 + 2 bytes
 * ```
 *
 * So after a storage command's line the decoder switches to counting bytes, and the data may hold
 * anything, `\r\n` included: that is what makes memcached binary safe.
 *
 * Limits, as memcached has them, so that one client cannot make the server buffer without bound:
 *
 * - A line: if 2048 bytes have arrived with no `\n`, memcached closes the connection without a
 *   word (`try_read_command_ascii()`), except for `get`/`gets`, whose key lists may be long. Those
 *   memcached lets grow without limit; here they stop at `maxGetLine` (1 MiB by default).
 * - A data block: at most one item (1 MiB). A larger one is refused with
 *   `SERVER_ERROR object too large for cache`, and its bytes are *swallowed*, counted and thrown
 *   away as they arrive, never held: a client announcing 2 GB costs nothing.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type ItemLimits, parseCommandLine, type Request, type StoreRequest } from "./protocol.ts";

const LF = 0x0a;
const CR = 0x0d;

/** Limits a connection's decoder enforces. */
export interface DecoderLimits extends ItemLimits {
  /** Longest command line without a `\n` before the connection is closed (memcached: 2048). */
  maxLine: number;
  /** Longest `get`/`gets` line. */
  maxGetLine: number;
}

/** Memcached 1.6's defaults; `maxGetLine` is this server's own bound. */
export const DEFAULT_DECODER_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxItemSize: 1024 * 1024,
  maxLine: 2048,
  maxGetLine: 1024 * 1024,
});

/** Thrown when the connection must be closed: the byte stream cannot be followed any more. */
export class FramingError extends Error {
  /** The error's name, as stack traces and logs print it. */
  override name = "FramingError";
}

const INITIAL_CAPACITY = 16 * 1024;

/**
 * Decodes memcached text-protocol requests from a byte stream.
 *
 * @example
 * ```ts
 * const decoder = new MemcacheDecoder();
 * decoder.push(new TextEncoder().encode("set k 0 0 5\r\nhel"));
 * decoder.next(); // null: the data block is not complete
 * decoder.push(new TextEncoder().encode("lo\r\nget k\r\n"));
 * decoder.next(); // { kind: "store", command: "set", key: "k", data: "hello", ... }
 * decoder.next(); // { kind: "get", withCas: false, keys: ["k"] }
 * ```
 */
export class MemcacheDecoder {
  #limits: DecoderLimits;
  #buf = new Uint8Array(INITIAL_CAPACITY);
  // A Node Buffer over the same memory, for its native latin1 conversion (see shared/resp/bytes.ts).
  #view = Buffer.from(this.#buf.buffer);
  #start = 0;
  #end = 0;
  /** A storage command whose data block has not fully arrived. */
  #awaiting: StoreRequest | null = null;
  /** Bytes of a refused data block still to throw away, and the request to answer after that. */
  #swallow = 0;
  #refused: StoreRequest | null = null;
  /** Nothing decoded yet: the first byte tells memcached's binary protocol apart. */
  #fresh = true;

  /**
   * Creates a decoder with an empty buffer.
   *
   * @param limits Overrides for {@link DEFAULT_DECODER_LIMITS}.
   */
  constructor(limits: Partial<DecoderLimits> = {}) {
    this.#limits = { ...DEFAULT_DECODER_LIMITS, ...limits };
  }

  /** How many received bytes are waiting to be decoded. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends bytes received from the socket. They are copied, or counted away while a refused
   * data block is being swallowed.
   *
   * @param chunk The bytes just read.
   */
  push(chunk: Uint8Array): void {
    if (this.#swallow > 0 && this.#start === this.#end) {
      const skipped = Math.min(this.#swallow, chunk.length);
      this.#swallow -= skipped;
      chunk = chunk.subarray(skipped);
    }
    if (chunk.length === 0) return;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // A big data block made the buffer grow; give the memory back once it is consumed.
      if (this.#buf.length > INITIAL_CAPACITY && chunk.length <= INITIAL_CAPACITY) {
        this.#resize(INITIAL_CAPACITY);
      }
    }
    if (this.#end + chunk.length > this.#buf.length) this.#makeRoom(chunk.length);
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * Returns the next whole request, or `null` if the buffered bytes do not hold one yet.
   *
   * @returns The request, or `null`.
   * @throws {FramingError} When memcached would close the connection: a line too long, or the
   *   binary protocol (this server speaks only the text one).
   */
  next(): Request | null {
    for (;;) {
      if (this.#swallow > 0) {
        const skipped = Math.min(this.#swallow, this.#end - this.#start);
        this.#swallow -= skipped;
        this.#start += skipped;
        if (this.#swallow > 0) return null;
      }
      if (this.#refused !== null) {
        const request = this.#refused;
        this.#refused = null;
        return { kind: "too_large", request };
      }
      if (this.#awaiting !== null) return this.#readData(this.#awaiting);
      if (this.#start === this.#end) return null;

      if (this.#fresh && this.#buf[this.#start] === 0x80) {
        throw new FramingError(
          "binary protocol request (this server speaks the text protocol only)",
        );
      }
      this.#fresh = false;
      // exercise memcache step 1: a line ends at "\n" (none yet: check the line's length, and wait); drop a "\r" before it if the line is longer than that byte
      const newline = this.#indexOf(LF);
      if (newline < 0) {
        this.#checkLineLength();
        return null;
      }
      // Memcached drops the \r before \n only if the line has more than that one byte.
      const lineEnd = newline - this.#start > 1 && this.#buf[newline - 1] === CR
        ? newline - 1
        : newline;
      const line = this.#view.toString("latin1", this.#start, lineEnd);
      this.#start = newline + 1;
      // exercise starter: // For now, every read is one whole line.
      // exercise starter: const line = this.#view.toString("latin1", this.#start, this.#end).trimEnd();
      // exercise starter: this.#start = this.#end;
      const request = parseCommandLine(line, this.#limits);
      if (request.kind === "store") {
        this.#awaiting = request;
        continue;
      }
      if (request.kind === "too_large") {
        this.#swallow = request.request.bytes + 2;
        this.#refused = request.request;
        continue;
      }
      return request;
    }
  }

  /** The data block of a storage command: `bytes` of data, then `\r\n`. */
  #readData(request: StoreRequest): Request | null {
    // exercise memcache step 1: wait for the block's bytes and its "\r\n", counted, never searched for; no "\r\n" after them is a bad_chunk
    const need = request.bytes + 2;
    if (this.#end - this.#start < need) {
      // Make room for the whole block now, so that a big value does not grow the buffer read by read.
      if (need > this.#buf.length - this.#start) this.#makeRoom(need - (this.#end - this.#start));
      return null;
    }
    const dataEnd = this.#start + request.bytes;
    const terminated = this.#buf[dataEnd] === CR && this.#buf[dataEnd + 1] === LF;
    if (terminated) request.data = this.#view.toString("latin1", this.#start, dataEnd);
    this.#start += need;
    this.#awaiting = null;
    // Memcached reads exactly the announced bytes either way; what follows is the next command.
    return terminated ? request : { kind: "bad_chunk", noreply: request.noreply };
    // exercise starter: throw new NotImplementedError(1, "memcached: read a data block");
  }

  /**
   * No `\n` yet: past the limit memcached gives up on the connection, unless the line is a `get`
   * (allowing up to 100 leading spaces, as memcached does).
   */
  #checkLineLength(): void {
    // exercise memcache step 1: past maxLine bytes with no "\n" yet, throw a FramingError, unless the line is a get (then up to maxGetLine)
    const buffered = this.#end - this.#start;
    if (buffered <= this.#limits.maxLine) return;
    let i = this.#start;
    while (i < this.#end && this.#buf[i] === 0x20) i++;
    const head = this.#view.toString("latin1", i, Math.min(i + 5, this.#end));
    const isGet = i - this.#start <= 100 && (head.startsWith("get ") || head === "gets ");
    if (!isGet) {
      throw new FramingError(`command line longer than ${this.#limits.maxLine} bytes`);
    }
    if (buffered > this.#limits.maxGetLine) {
      throw new FramingError(`get line longer than ${this.#limits.maxGetLine} bytes`);
    }
    // exercise starter: // Not checked yet: a line may grow without bound.
  }

  #indexOf(byte: number): number {
    const i = this.#buf.subarray(this.#start, this.#end).indexOf(byte);
    return i < 0 ? -1 : this.#start + i;
  }

  /** Makes room for `extra` more bytes at the end, first by moving unread bytes to the front. */
  #makeRoom(extra: number): void {
    const unread = this.#end - this.#start;
    if (unread + extra <= this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      let capacity = this.#buf.length;
      while (capacity < unread + extra) capacity *= 2;
      const bigger = new Uint8Array(capacity);
      bigger.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = bigger;
      this.#view = Buffer.from(bigger.buffer);
    }
    this.#end = unread;
    this.#start = 0;
  }

  #resize(capacity: number): void {
    this.#buf = new Uint8Array(capacity);
    this.#view = Buffer.from(this.#buf.buffer);
  }
}
