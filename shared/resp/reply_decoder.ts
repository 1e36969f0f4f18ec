/**
 * The client's streaming decoder: reply bytes in, {@link Reply} values out.
 *
 * It works like the server's `RequestDecoder`: keep unread bytes, try to parse one whole value from
 * the front, return `undefined` (not `null`, which is a real reply: the null bulk string) when the
 * bytes run out. Unlike a request, a reply can be any RESP2 type and arrays can nest.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { ProtocolError } from "./errors.ts";
import { ErrorReply, NULL_ARRAY, type Reply, SimpleString } from "./reply.ts";
import { parseStrictInteger } from "./request_decoder.ts";

const CR = 0x0d;

/** A marker for "the value is not complete yet", thrown and caught inside one `next()` call. */
const INCOMPLETE = Symbol("incomplete");

/**
 * How deeply arrays may nest. The parser recurses once per level, so without a bound a few hundred
 * kilobytes of `*1\r\n` would overflow the stack. No Redis reply comes near it: the deepest ones
 * (`COMMAND DOCS`, `XINFO STREAM FULL`, inside an `EXEC`) nest fewer than ten arrays.
 */
const MAX_DEPTH = 1000;

/**
 * Decodes server replies from a byte stream.
 *
 * @example
 * ```ts
 * const d = new ReplyDecoder();
 * d.push(new TextEncoder().encode("+OK\r\n:4"));
 * d.next(); // SimpleString { value: "OK" }
 * d.next(); // undefined: the integer has no line ending yet
 * ```
 */
export class ReplyDecoder {
  #buf = new Uint8Array(16 * 1024);
  #view = Buffer.from(this.#buf.buffer);
  #start = 0;
  #end = 0;
  #pos = 0;

  /** How many received bytes are waiting to be decoded. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends received bytes (copied).
   *
   * @param chunk The bytes just read.
   */
  push(chunk: Uint8Array): void {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end + chunk.length > this.#buf.length) {
      const unread = this.#end - this.#start;
      let capacity = this.#buf.length;
      while (capacity < unread + chunk.length) capacity *= 2;
      if (capacity === this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const next = new Uint8Array(capacity);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
        this.#view = Buffer.from(next.buffer);
      }
      this.#start = 0;
      this.#end = unread;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * Returns the next whole reply, or `undefined` if it has not fully arrived.
   *
   * @returns A reply value, or `undefined`.
   * @throws {ProtocolError} When the bytes are not RESP2.
   */
  next(): Reply | undefined {
    if (this.#start === this.#end) return undefined;
    this.#pos = this.#start;
    try {
      const value = this.#value(0);
      this.#start = this.#pos;
      return value;
    } catch (e) {
      if (e === INCOMPLETE) return undefined;
      throw e;
    }
  }

  #value(depth: number): Reply {
    if (this.#pos >= this.#end) throw INCOMPLETE;
    const type = this.#buf[this.#pos];
    const lineEnd = this.#lineEnd();
    const lineStart = this.#pos + 1;
    this.#pos = lineEnd + 2;
    switch (type) {
      case 0x2b: // +
        return new SimpleString(this.#view.toString("latin1", lineStart, lineEnd));
      case 0x2d: // -
        return new ErrorReply(this.#view.toString("latin1", lineStart, lineEnd));
      case 0x3a: // :
        return this.#integer(lineStart, lineEnd);
      case 0x24: { // $
        const length = this.#length(lineStart, lineEnd, "bulk");
        if (length < 0) return null;
        const dataStart = this.#pos;
        if (dataStart + length + 2 > this.#end) throw INCOMPLETE;
        this.#pos = dataStart + length + 2;
        return this.#view.toString("latin1", dataStart, dataStart + length);
      }
      case 0x2a: { // *
        const length = this.#length(lineStart, lineEnd, "multibulk");
        if (length < 0) return NULL_ARRAY;
        if (depth >= MAX_DEPTH) throw new ProtocolError(`arrays nested deeper than ${MAX_DEPTH}`);
        // Preallocate only a modest count: the header is a claim, and `*99999999999` is too big for
        // any JavaScript array (and would throw a RangeError instead of waiting for the elements).
        const items: Reply[] = length <= 1024 ? new Array(length) : [];
        for (let i = 0; i < length; i++) items[i] = this.#value(depth + 1);
        return items;
      }
      default:
        throw new ProtocolError(`unexpected reply type '${String.fromCharCode(type)}'`);
    }
  }

  /**
   * Finds the CR ending the line at `#pos`, or signals that the line is incomplete. A plain loop
   * that stops at `#end`, as in the request decoder: the built-in `indexOf` would search the stale
   * rest of the buffer too.
   */
  #lineEnd(): number {
    const buf = this.#buf;
    const end = this.#end;
    for (let i = this.#pos; i + 1 < end; i++) if (buf[i] === CR) return i;
    throw INCOMPLETE;
  }

  #length(start: number, end: number, what: string): number {
    const n = parseStrictInteger(this.#buf, start, end);
    if (Number.isNaN(n) || n < -1) throw new ProtocolError(`invalid ${what} length`);
    return n;
  }

  /** Integers are 64-bit in Redis; past 2^53 a `number` would round, so those become `bigint`. */
  #integer(start: number, end: number): number | bigint {
    const text = this.#view.toString("latin1", start, end);
    if (!/^-?\d+$/.test(text)) throw new ProtocolError(`invalid integer '${text}'`);
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
}
