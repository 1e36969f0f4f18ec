/**
 * Counting replies without decoding them.
 *
 * A load generator does not care what the server said, only that it answered, and how often it
 * answered with an error. `shared/resp/reply_decoder.ts` builds a JavaScript value for every reply
 * (a string for each bulk, an object for `+OK`), which is the right thing for a client and pure
 * overhead here: the generator shares the machine's cores with the server it measures, so every
 * microsecond it spends is one the server does not get.
 *
 * {@link ReplyCounter} walks only the RESP framing. It reads the type byte, the header line and
 * the length of a bulk string, and then skips the payload without looking at it. It is a state
 * machine that keeps its place between chunks, so a reply cut in two by TCP costs nothing extra
 * and no byte is ever copied or read twice.
 *
 * ```
 * +OK\r\n                  type '+', skip to LF                       one reply
 * $32\r\nxxxx…xxxx\r\n     type '$', read 32, skip 32 + 2 bytes       one reply
 * $-1\r\n                  type '$', read -1 (null)                   one reply
 * *2\r\n:1\r\n:2\r\n       type '*', read 2, then two more values     one reply
 * ```
 *
 * @module
 */

import { ProtocolError } from "../shared/resp/errors.ts";

const LF = 0x0a;
const CR = 0x0d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const COLON = 0x3a;
const DOLLAR = 0x24;
const STAR = 0x2a;

/** Waiting for the type byte that starts a value. */
const AT_TYPE = 0;
/** Inside a header line (`+OK`, `$32`, `*2`, …), up to its LF. */
const IN_LINE = 1;
/** Skipping the payload of a bulk string and its CRLF. */
const IN_BULK = 2;

/** The longest error text kept as an example; the rest of a long error is only counted. */
const ERROR_SAMPLE_LENGTH = 200;

/**
 * Counts whole top-level RESP2 replies in a byte stream, and how many of them were errors.
 *
 * @example
 * ```ts
 * const counter = new ReplyCounter();
 * const bytes = new TextEncoder().encode("+OK\r\n$3\r\nab");
 * counter.feed(bytes); // 1: the bulk string is not complete yet
 * counter.feed(new TextEncoder().encode("c\r\n-ERR no\r\n")); // 2
 * counter.replies; // 3
 * counter.errors; // 1
 * ```
 */
export class ReplyCounter {
  /** Whole top-level replies seen so far. */
  replies = 0;
  /** How many of them were error replies (`-ERR …`). */
  errors = 0;
  /** The text of the first error reply, so that a report can say what went wrong. */
  firstError: string | undefined;

  #state = AT_TYPE;
  /** Type byte of the value whose header line is being read. */
  #type = 0;
  /** The number in a `$` or `*` header, accumulated digit by digit since it may span chunks. */
  #number = 0;
  #negative = false;
  #digits = 0;
  /** Bytes of a bulk payload (plus its CRLF) still to skip. */
  #skip = 0;
  /** For nested arrays: how many elements each open array still expects, innermost last. */
  #open: number[] = [];
  /** The first error's text, collected while its line arrives. */
  #errorText: string | undefined;

  /**
   * Scans received bytes.
   *
   * @param bytes The buffer a read filled.
   * @param end How many bytes of it are valid (default: all).
   * @returns How many top-level replies this chunk completed.
   * @throws {ProtocolError} When a value starts with a byte that is not a RESP2 type.
   */
  feed(bytes: Uint8Array, end: number = bytes.length): number {
    const before = this.replies;
    let i = 0;
    while (i < end) {
      if (this.#state === AT_TYPE) {
        this.#startValue(bytes[i++]);
      } else if (this.#state === IN_BULK) {
        // The payload is skipped, never read: this is where a GET of a large value stays cheap.
        const take = Math.min(this.#skip, end - i);
        i += take;
        this.#skip -= take;
        if (this.#skip === 0) this.#valueDone();
      } else if (this.#type === DOLLAR || this.#type === STAR) {
        i = this.#readLength(bytes, i, end);
      } else {
        // `+`, `-` and `:` lines: their content does not matter here, so jump to the LF natively.
        const lf = bytes.indexOf(LF, i);
        const lineEnd = lf < 0 || lf >= end ? end : lf;
        if (this.#errorText !== undefined) this.#collectError(bytes, i, lineEnd);
        i = lineEnd;
        if (i < end) {
          i++; // past the LF
          this.#lineDone();
        }
      }
    }
    return this.replies - before;
  }

  #startValue(type: number): void {
    if (type !== PLUS && type !== MINUS && type !== COLON && type !== DOLLAR && type !== STAR) {
      throw new ProtocolError(`unexpected reply type byte 0x${type.toString(16).padStart(2, "0")}`);
    }
    this.#type = type;
    this.#state = IN_LINE;
    this.#number = 0;
    this.#negative = false;
    this.#digits = 0;
    // Only a top-level error counts as a failed request; keep the text of the first one.
    if (type === MINUS && this.#open.length === 0 && this.firstError === undefined) {
      this.#errorText = "";
    }
  }

  /** Reads the digits of a `$` or `*` header up to its LF; returns where it stopped. */
  #readLength(bytes: Uint8Array, start: number, end: number): number {
    for (let i = start; i < end; i++) {
      const c = bytes[i];
      if (c >= 0x30 && c <= 0x39) {
        this.#number = this.#number * 10 + (c - 0x30);
        this.#digits++;
      } else if (c === MINUS && this.#digits === 0) {
        this.#negative = true;
      } else if (c === LF) {
        this.#lineDone();
        return i + 1;
      } else if (c !== CR) {
        throw new ProtocolError(`invalid length byte 0x${c.toString(16).padStart(2, "0")}`);
      }
    }
    return end;
  }

  #collectError(bytes: Uint8Array, start: number, end: number): void {
    let text = this.#errorText ?? "";
    for (let i = start; i < end && text.length < ERROR_SAMPLE_LENGTH; i++) {
      if (bytes[i] !== CR) text += String.fromCharCode(bytes[i]);
    }
    this.#errorText = text;
  }

  /** A header line has ended: decide what it was. */
  #lineDone(): void {
    const n = this.#negative ? -this.#number : this.#number;
    switch (this.#type) {
      case DOLLAR:
        if (n < 0) {
          this.#valueDone(); // `$-1`: the null bulk string, no payload
        } else {
          this.#skip = n + 2;
          this.#state = IN_BULK;
        }
        return;
      case STAR:
        if (n <= 0) {
          this.#valueDone(); // `*0` or `*-1`: nothing follows
        } else {
          this.#open.push(n);
          this.#state = AT_TYPE;
        }
        return;
      case MINUS:
        if (this.#errorText !== undefined) {
          this.firstError = this.#errorText;
          this.#errorText = undefined;
        }
        if (this.#open.length === 0) this.errors++;
        this.#valueDone();
        return;
      default:
        this.#valueDone();
    }
  }

  /** A value is complete: count it, or count it towards the array that holds it. */
  #valueDone(): void {
    this.#state = AT_TYPE;
    const open = this.#open;
    for (;;) {
      if (open.length === 0) {
        this.replies++;
        return;
      }
      const left = open[open.length - 1] - 1;
      if (left > 0) {
        open[open.length - 1] = left;
        return;
      }
      // That was the last element: the array itself is now a complete value of its parent.
      open.pop();
    }
  }
}
