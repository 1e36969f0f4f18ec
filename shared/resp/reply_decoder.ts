/**
 * The client's streaming decoder: reply bytes in, {@link Reply} values out.
 *
 * It works like the server's request decoder (lab 2's `RequestDecoder` most closely): keep unread
 * bytes, try to parse one whole value from the front, return `undefined` (not `null`, which is a
 * real reply: the null bulk string) when the bytes run out. Unlike a request, a reply can be any RESP2 or RESP3 type, and aggregates (arrays,
 * maps, sets, pushes) can nest.
 *
 * Like the request decoder, it consumes nothing until a whole reply is there, but it remembers how
 * far it got: the arrays it has started, with the elements decoded so far, and where the next
 * element starts. Starting over from the first byte after every read would be simpler, but a big
 * reply (`KEYS *` over a million keys, a few hundred reads) would then be decoded a few hundred
 * times over: quadratic time, seconds instead of milliseconds.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { SHORT_BYTE_STRING, shortByteString } from "./bytes.ts";
import { ProtocolError } from "./errors.ts";
import {
  BigNumberReply,
  DoubleReply,
  ErrorReply,
  MapReply,
  NULL_ARRAY,
  PushReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "./reply.ts";
import { parseStrictInteger } from "./limits.ts";

const CR = 0x0d;

/**
 * How deeply arrays may nest. No Redis reply comes near it: the deepest ones (`COMMAND DOCS`,
 * `XINFO STREAM FULL`, inside an `EXEC`) nest fewer than ten arrays. A stream that nests deeper is
 * broken or hostile, and each level it opens holds an unfinished array in memory.
 */
const MAX_DEPTH = 1000;

/**
 * An aggregate the decoder has started: its elements so far, and how many it will have. A map's
 * keys and values count as elements (`%2` holds four); an attribute (`|`) is a map that annotates
 * the reply after it and is dropped.
 */
interface OpenArray {
  kind: "array" | "map" | "set" | "push" | "attribute";
  items: Reply[];
  filled: number;
  count: number;
}

/** The aggregate types' first bytes. */
const AGGREGATES: Record<number, OpenArray["kind"]> = {
  0x2a: "array", // *
  0x25: "map", // %
  0x7e: "set", // ~
  0x3e: "push", // >
  0x7c: "attribute", // |
};

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
  // The reply at #start while it is incomplete: the arrays it has opened, outermost first, and
  // where the next value starts, relative to #start (which moves when the buffer is compacted).
  #open: OpenArray[] = [];
  #resumeOffset = 0;
  // While waiting for the end of a line: how far, relative to #start, it has been searched already.
  #lineSearched = 0;

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
   * @throws {ProtocolError} When the bytes are not RESP.
   */
  next(): Reply | undefined {
    const open = this.#open;
    let pos = this.#start + this.#resumeOffset;
    for (;;) {
      // One value, or the header of an array, starting at `pos`.
      if (pos >= this.#end) return this.#suspend(pos);
      const type = this.#buf[pos];
      const lineEnd = this.#lineEnd(pos);
      if (lineEnd < 0) return this.#suspend(pos);
      const lineStart = pos + 1;
      // Where the value's bytes end: after its line, or after a bulk string's payload.
      let after = lineEnd + 2;
      let value: Reply;
      switch (type) {
        case 0x2b: // +
          value = new SimpleString(this.#string(lineStart, lineEnd));
          break;
        case 0x2d: // -
          value = new ErrorReply(this.#string(lineStart, lineEnd));
          break;
        case 0x3a: // :
          value = this.#integer(lineStart, lineEnd);
          break;
        case 0x24: // $ bulk string
        case 0x3d: // = verbatim string (RESP3): "txt:" and the text
        case 0x21: { // ! blob error (RESP3)
          const length = this.#length(lineStart, lineEnd, "bulk");
          if (length < 0) {
            value = null;
            break;
          }
          const dataStart = lineEnd + 2;
          // Wait at the header for the whole payload; checking again later is one comparison.
          if (dataStart + length + 2 > this.#end) return this.#suspend(pos);
          const text = this.#string(dataStart, dataStart + length);
          if (type === 0x24) value = text;
          else if (type === 0x21) value = new ErrorReply(text);
          else value = new VerbatimString(text.slice(4), text.slice(0, 3));
          after = dataStart + length + 2;
          break;
        }
        case 0x5f: // _ null (RESP3)
          value = null;
          break;
        case 0x23: // # boolean (RESP3)
          value = this.#boolean(lineStart, lineEnd);
          break;
        case 0x2c: // , double (RESP3)
          value = new DoubleReply(this.#double(lineStart, lineEnd));
          break;
        case 0x28: // ( big number (RESP3)
          value = new BigNumberReply(this.#bigNumber(lineStart, lineEnd));
          break;
        case 0x2a: // * array
        case 0x25: // % map (RESP3)
        case 0x7e: // ~ set (RESP3)
        case 0x3e: // > push (RESP3)
        case 0x7c: { // | attribute (RESP3)
          const kind = AGGREGATES[type];
          const length = this.#length(lineStart, lineEnd, "multibulk");
          if (length < 0) {
            value = NULL_ARRAY;
            break;
          }
          if (open.length >= MAX_DEPTH) {
            throw new ProtocolError(`arrays nested deeper than ${MAX_DEPTH}`);
          }
          const count = kind === "map" || kind === "attribute" ? length * 2 : length;
          if (count === 0) {
            if (kind === "attribute") {
              pos = after;
              continue;
            }
            value = aggregate(kind, []);
            break;
          }
          // Preallocate only a modest count: the header is a claim, and `*99999999999` is too big
          // for any JavaScript array (and would throw a RangeError instead of waiting).
          open.push({ kind, items: count <= 1024 ? new Array(count) : [], filled: 0, count });
          pos = after;
          continue;
        }
        default:
          throw new ProtocolError(`unexpected reply type '${String.fromCharCode(type)}'`);
      }
      pos = after;
      // The value completes the innermost open array, which may complete the one around it...
      for (;;) {
        const top = open.at(-1);
        if (top === undefined) {
          // ...until a whole reply is done.
          this.#start = pos;
          this.#resumeOffset = this.#lineSearched = 0;
          return value;
        }
        top.items[top.filled++] = value;
        if (top.filled < top.count) break;
        open.pop();
        // An attribute annotates the value that follows it: drop it and read that value.
        if (top.kind === "attribute") break;
        value = aggregate(top.kind, top.items);
      }
    }
  }

  /** Remembers where the incomplete reply stopped, so that the next call resumes there. */
  #suspend(pos: number): undefined {
    this.#resumeOffset = pos - this.#start;
    return undefined;
  }

  /**
   * Finds the CR ending the line at `pos`, or returns -1 if it has not arrived with its LF. A plain
   * loop that stops at `#end`, as in the request decoder: the built-in `indexOf` would search the
   * stale rest of the buffer too. A long line arriving in pieces is searched once, not once per
   * piece: the search resumes where the last one gave up.
   */
  #lineEnd(pos: number): number {
    const buf = this.#buf;
    const end = this.#end;
    let i = Math.max(pos, this.#start + this.#lineSearched);
    for (; i + 1 < end; i++) {
      if (buf[i] === CR) {
        this.#lineSearched = 0;
        return i;
      }
    }
    // The last byte may be a CR whose LF has not come: search it again next time.
    this.#lineSearched = Math.max(pos, end - 1) - this.#start;
    return -1;
  }

  #string(start: number, end: number): string {
    return end - start <= SHORT_BYTE_STRING
      ? shortByteString(this.#buf, start, end - start)
      : this.#view.toString("latin1", start, end);
  }

  #length(start: number, end: number, what: string): number {
    const n = parseStrictInteger(this.#buf, start, end);
    if (Number.isNaN(n) || n < -1) throw new ProtocolError(`invalid ${what} length`);
    return n;
  }

  #boolean(start: number, end: number): boolean {
    const text = this.#string(start, end);
    if (text !== "t" && text !== "f") throw new ProtocolError(`invalid boolean '${text}'`);
    return text === "t";
  }

  #double(start: number, end: number): number {
    const text = this.#string(start, end);
    if (text === "inf") return Infinity;
    if (text === "-inf") return -Infinity;
    if (text === "nan") return NaN;
    const value = Number(text);
    if (text === "" || Number.isNaN(value)) throw new ProtocolError(`invalid double '${text}'`);
    return value;
  }

  #bigNumber(start: number, end: number): bigint {
    const text = this.#string(start, end);
    if (!/^-?\d+$/.test(text)) throw new ProtocolError(`invalid big number '${text}'`);
    return BigInt(text);
  }

  /** Integers are 64-bit in Redis; past 2^53 a `number` would round, so those become `bigint`. */
  #integer(start: number, end: number): number | bigint {
    const text = this.#view.toString("latin1", start, end);
    if (!/^-?\d+$/.test(text)) throw new ProtocolError(`invalid integer '${text}'`);
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
}

/** A finished aggregate as its reply type: a map's flat items become pairs. */
function aggregate(kind: OpenArray["kind"], items: Reply[]): Reply {
  switch (kind) {
    case "map":
    case "attribute": {
      const entries: [Reply, Reply][] = [];
      for (let i = 0; i < items.length; i += 2) entries.push([items[i], items[i + 1]]);
      return new MapReply(entries);
    }
    case "set":
      return new SetReply(items);
    case "push":
      return new PushReply(items);
    case "array":
      return items;
  }
}
