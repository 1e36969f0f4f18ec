/**
 * The request decoder: bytes in, commands out.
 *
 * TCP delivers a stream, not messages. One read may hold half a command, or forty commands and the
 * first bytes of the forty-first. So the decoder keeps the bytes it has not used yet, and `next()`
 * either returns one whole command or `null` for "not enough bytes yet". A partial frame is the
 * normal case, not an error.
 *
 * Clients send commands in one of two forms on the same port, told apart by the first byte:
 *
 * ```
 * *3\r\n$3\r\nSET\r\n$4\r\nname\r\n$5\r\nAlice\r\n     an array of bulk strings (every client library)
 * SET name Alice\r\n                                     an inline command (nc, telnet)
 * ```
 *
 * `next()` works in two passes over the bytes, as tokio's mini-redis does:
 *
 * 1. **check** — is a whole frame here? Walk the headers, skip over each bulk string's bytes by its
 *    length, and answer with the frame's length, or "not yet". Nothing is copied, nothing is
 *    consumed, so "not yet" costs nothing to undo.
 * 2. **parse** — the frame is whole, so walk it again and make the strings. No "not yet" can
 *    happen here, which keeps this pass short.
 *
 * After "not yet", the next `next()` checks from the start of the frame again. That is simple and
 * cheap: the check reads header lines and skips values by their length. What must not start over
 * is the copying, for a big value arriving in many reads: the buffer doubles when it is full, so a
 * 512 MiB value is copied a few times in all, not once per read. And once a bulk header has said
 * how many bytes follow, the decoder remembers where they end: it does not check again until they
 * are all here, and it grows the buffer to that size rather than double.
 * Lab 2's decoder (`labs/02-threaded/request_decoder.ts`) goes further, measured: it resumes a
 * half-checked array where it stopped, reads straight from the socket into its buffer, and caches
 * command names.
 *
 * Every limit and every error text is Redis 7's (`processMultibulkBuffer` and
 * `processInlineBuffer` in Redis's `networking.c`), so a client sees the same thing from this
 * server as from Redis, and the lab suites can be checked against a real `redis-server`.
 *
 * @module
 */

import { bytesToByteString } from "../../shared/resp/bytes.ts";
import { ProtocolError } from "../../shared/resp/errors.ts";
import { type DecoderLimits, parseStrictInteger, withDefaults } from "../../shared/resp/limits.ts";
import { splitArgs } from "../../shared/resp/split_args.ts";

const CR = 0x0d; // "\r"
const LF = 0x0a; // "\n"
const STAR = 0x2a; // "*": an array frame
const DOLLAR = 0x24; // "$": a bulk string

/** What the check pass answers when the frame is not all here yet. */
const NOT_YET = -1;

/** A new decoder's buffer: room for a few commands; it doubles when a read brings more. */
const INITIAL_CAPACITY = 4096;
/** A buffer that grew past this for one big frame is dropped once that frame is decoded. */
const SHRINK_ABOVE = 1024 * 1024;

/**
 * Decodes client requests from a byte stream.
 *
 * @example
 * ```ts
 * const decoder = new Decoder();
 * decoder.push(new TextEncoder().encode("*1\r\n$4\r\nPI"));
 * decoder.next(); // null: the frame is not complete
 * decoder.push(new TextEncoder().encode("NG\r\nECHO hi\r\n"));
 * decoder.next(); // ["PING"]
 * decoder.next(); // ["ECHO", "hi"]
 * decoder.next(); // null
 * ```
 */
export class Decoder {
  #limits: DecoderLimits;
  // The bytes received: [#start, #end) are not decoded yet.
  #buf: Uint8Array = new Uint8Array(INITIAL_CAPACITY);
  #start = 0;
  #end = 0;
  // How many bytes, from #start, the frame in progress needs at the least, once a bulk header has
  // said so; 0 when not known. Until they have come there is nothing new to check.
  #needed = 0;

  /**
   * Creates a decoder with an empty buffer.
   *
   * @param limits Overrides for Redis's limits (`DEFAULT_LIMITS` in `shared/resp/limits.ts`).
   */
  constructor(limits: Partial<DecoderLimits> = {}) {
    this.#limits = withDefaults(limits);
  }

  /** How many received bytes are waiting to be decoded. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends bytes received from the socket. The decoder copies them, so the caller may reuse its
   * read buffer at once.
   *
   * @param chunk The bytes just read.
   */
  push(chunk: Uint8Array): void {
    this.#makeRoom(chunk.length);
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * Returns the next whole command, or `null` if the buffered bytes do not hold one yet.
   *
   * @returns The command name and its arguments as byte strings (one character per byte), or
   *   `null`.
   * @throws {ProtocolError} When the bytes cannot be a valid request. Nobody can tell where the
   *   next command would start after that: the server replies with the error and closes.
   */
  next(): string[] | null {
    // exercise step 2: while bytes are left: wait for #needed, check for a whole frame (#check), parse it, consume it; skip empty frames
    while (this.#start < this.#end) {
      if (this.#end - this.#start < this.#needed) return null; // still waiting for a bulk string
      const length = this.#check();
      if (length === NOT_YET) return null;
      const args = this.#parse(length);
      this.#start += length;
      this.#needed = 0;
      // `*0\r\n`, `*-1\r\n` and a blank line are frames with no command: Redis skips them.
      if (args.length > 0) return args;
    }
    return null;
    // exercise starter: // For now, every read holds exactly one whole command: parse it all.
    // exercise starter: if (this.#start === this.#end) return null;
    // exercise starter: const args = this.#parse(this.#end - this.#start);
    // exercise starter: this.#start = this.#end;
    // exercise starter: return args;
  }

  // ---------------------------------------------------------------------------------------------
  // Pass 1: is a whole frame here?

  /** The length of the whole frame at `#start`, or {@link NOT_YET}; throws if it cannot be one. */
  #check(): number {
    return this.#buf[this.#start] === STAR ? this.#checkArray() : this.#checkInline();
  }

  /** `*<count>\r\n`, then `count` times `$<length>\r\n<bytes>\r\n`. */
  #checkArray(): number {
    const buf = this.#buf;
    let pos = this.#start;
    const countEnd = this.#lineEnd(pos, "too big mbulk count string");
    if (countEnd === NOT_YET) return NOT_YET;
    // exercise step 7: a count that is not a number, or past the limit, is a protocol error (#badHeader)
    const count = parseStrictInteger(buf, pos + 1, countEnd);
    // `!(a <= b)` rather than `a > b`, so that NaN (not a number at all) fails too.
    if (!(count <= this.#limits.maxArrayLength)) {
      return this.#badHeader(
        pos,
        countEnd,
        "too big mbulk count string",
        "invalid multibulk length",
      );
    }
    // exercise starter: const count = parseStrictInteger(buf, pos + 1, countEnd);
    // Like Redis, take the byte after a header's "\r" to be "\n" without looking.
    pos = countEnd + 2;
    // A count of 0 or less runs no loop: a frame with no command, which next() skips.
    for (let i = 0; i < count; i++) {
      const lengthEnd = this.#lineEnd(pos, "too big bulk count string");
      if (lengthEnd === NOT_YET) return NOT_YET;
      // exercise step 7: a header that is not "$" and a length within the limit is a protocol error (#badHeader)
      const isBulk = buf[pos] === DOLLAR;
      const length = isBulk ? parseStrictInteger(buf, pos + 1, lengthEnd) : NaN;
      if (!(length >= 0 && length <= this.#limits.maxBulkLength)) {
        return this.#badHeader(
          pos,
          lengthEnd,
          "too big bulk count string",
          isBulk ? "invalid bulk length" : `expected '$', got '${String.fromCharCode(buf[pos])}'`,
        );
      }
      // exercise starter: const length = parseStrictInteger(buf, pos + 1, lengthEnd);
      // Skip the data by its length: it may hold any bytes, "\r\n" included. Like Redis, skip the
      // two bytes after it without checking that they are "\r\n".
      // exercise step 2: if the bulk string's last byte has not arrived, remember how far and wait
      pos = lengthEnd + 2 + length + 2;
      if (pos > this.#end) {
        // The header has told us where this bulk string ends: nothing is worth checking again
        // before then. A claim is not bytes, though: nothing is allocated for it here.
        this.#needed = pos - this.#start;
        return NOT_YET;
      }
      // exercise starter: pos = lengthEnd + 2 + length + 2;
    }
    return pos - this.#start;
  }

  /** One line of words, ended by `\n` (a `\r` before it is dropped by the parse). */
  #checkInline(): number {
    // exercise step 6: the frame runs to the first "\n"; none yet (or a NUL before it) is "not yet", unless past the inline limit
    const start = this.#start;
    const newline = this.#indexOf(LF, start);
    // Redis finds the newline with C's `strchr`, which stops at a NUL byte. So a NUL before the
    // newline hides it, and Redis keeps waiting (up to the limit) as if none had come.
    if (newline === NOT_YET || this.#hasNul(start, newline)) {
      if (this.#end - start > this.#limits.maxInlineLength) {
        throw new ProtocolError("too big inline request");
      }
      return NOT_YET;
    }
    return newline + 1 - start;
    // exercise starter: throw new NotImplementedError(6, "find the end of an inline command");
  }

  /**
   * Finds the `\r` that ends the header line starting at `pos`, once the byte after it has come
   * too; {@link NOT_YET} before that. Throws `tooLong` if no `\r` has come within the inline limit.
   *
   * Only a missing `\r` counts against the limit, as in Redis: a long line whose `\r` has come is
   * judged by its content, not its length.
   */
  #lineEnd(pos: number, tooLong: string): number {
    const cr = this.#indexOf(CR, pos);
    if (cr !== NOT_YET && cr + 1 < this.#end) return cr;
    // A `\r` behind a NUL is invisible to Redis (see #badHeader), so then it counts as missing.
    if (
      this.#end - pos > this.#limits.maxInlineLength && (cr === NOT_YET || this.#hasNul(pos, cr))
    ) {
      throw new ProtocolError(tooLong);
    }
    return NOT_YET;
  }

  /**
   * A header line `[pos, cr)` that does not parse: throws its protocol error, except when the line
   * holds a NUL byte. Redis finds a header's `\r` with `strchr`, which stops at the NUL, so to Redis
   * `$4\0\r\n` has no `\r` yet: it waits, failing only past the inline limit. So do we.
   */
  #badHeader(pos: number, cr: number, tooLong: string, detail: string): number {
    if (!this.#hasNul(pos, cr)) throw new ProtocolError(detail);
    if (this.#end - pos > this.#limits.maxInlineLength) throw new ProtocolError(tooLong);
    return NOT_YET;
  }

  // ---------------------------------------------------------------------------------------------
  // Pass 2: the frame is whole, so make its strings.

  /** The arguments of the whole frame of `length` bytes at `#start` (none for an empty frame). */
  #parse(length: number): string[] {
    const buf = this.#buf;
    const start = this.#start;
    if (buf[start] !== STAR) {
      // exercise step 6: the line without its "\n" (and a "\r" before it), split as redis-cli splits (splitArgs); null is unbalanced quotes
      const newline = start + length - 1;
      const lineEnd = newline > start && buf[newline - 1] === CR ? newline - 1 : newline;
      const args = splitArgs(bytesToByteString(buf, start, lineEnd));
      if (args === null) throw new ProtocolError("unbalanced quotes in request");
      return args;
      // exercise starter: throw new NotImplementedError(6, "split an inline command into words");
    }
    // The check pass has seen every header, so each `\r` is there and each number is valid.
    let cr = this.#indexOf(CR, start);
    const count = parseStrictInteger(buf, start + 1, cr);
    const args: string[] = [];
    let pos = cr + 2;
    for (let i = 0; i < count; i++) {
      cr = this.#indexOf(CR, pos);
      const dataStart = cr + 2;
      const dataEnd = dataStart + parseStrictInteger(buf, pos + 1, cr);
      // Bytes become a byte string, one character per byte: binary-safe (see bytes.ts).
      args.push(bytesToByteString(buf, dataStart, dataEnd));
      pos = dataEnd + 2;
    }
    return args;
  }

  // ---------------------------------------------------------------------------------------------
  // Bytes

  /** Where `byte` first occurs in the buffered bytes from `from` on, or {@link NOT_YET}. */
  #indexOf(byte: number, from: number): number {
    // Searching a view stops at #end: past it lie stale bytes from earlier frames.
    const i = this.#buf.subarray(from, this.#end).indexOf(byte);
    return i < 0 ? NOT_YET : from + i;
  }

  /** Is there a NUL byte in `[from, to)`? */
  #hasNul(from: number, to: number): boolean {
    return this.#buf.subarray(from, to).includes(0);
  }

  /** Makes room for `extra` more bytes at the end of the buffer. */
  #makeRoom(extra: number): void {
    if (this.#start === this.#end) {
      // Everything has been decoded: start over at the front, and let a buffer that grew for one
      // big frame go, so an idle client holds a few kilobytes, not the last value's size.
      this.#start = this.#end = 0;
      if (this.#buf.length > SHRINK_ABOVE && extra <= INITIAL_CAPACITY) {
        this.#buf = new Uint8Array(INITIAL_CAPACITY);
      }
    }
    const unread = this.#end - this.#start;
    const required = unread + extra;
    if (required <= this.#buf.length) {
      // It fits once the decoded bytes at the front are dropped.
      if (this.#end + extra > this.#buf.length) this.#moveTo(this.#buf);
      return;
    }
    // Double, so that a value arriving in many reads is copied a few times in all, not once per
    // read. But once a header has told the frame's size, no bigger than that: a 512 MiB value gets
    // a 512 MiB buffer, not 1 GiB.
    let capacity = Math.max(required, this.#buf.length * 2);
    if (this.#needed >= required) capacity = Math.min(capacity, this.#needed);
    this.#moveTo(new Uint8Array(capacity));
  }

  /** Moves the unread bytes to the front of `target` (a new buffer, or this one), which is kept. */
  #moveTo(target: Uint8Array): void {
    const unread = this.#end - this.#start;
    if (target === this.#buf) target.copyWithin(0, this.#start, this.#end);
    else target.set(this.#buf.subarray(this.#start, this.#end));
    this.#buf = target;
    this.#start = 0;
    this.#end = unread;
  }
}
