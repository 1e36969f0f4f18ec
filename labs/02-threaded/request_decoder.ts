/**
 * Lab 2's streaming decoder: lab 1's `decoder.ts`, made fast where a benchmark showed the time
 * going. Same input, same commands, same errors (`request_decoder_fuzz_test.ts` checks that on
 * thousands of random inputs); what differs is how little work each byte costs. Read lab 1's
 * first: this one is the same idea with the measured optimisations added, each explained where it
 * is made and justified in lab 2's lesson ("Many clients, fast").
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
 * `next()` consumes nothing until a whole command is there, so `buffered` always counts from the
 * start of the frame in progress. An array frame does remember how far it got, though: the bulk
 * strings already decoded and where the next one starts. Rescanning from the first byte instead
 * would be simpler, but a big command (an `MSET` of 100,000 keys arrives in a few hundred reads)
 * would then be decoded a few hundred times over, which costs seconds, not milliseconds. Redis
 * keeps the same two numbers for the same reason.
 *
 * Every limit and every error text below is Redis 7's, so that a client sees the same thing from
 * this server as from Redis, and the lab suites can be checked against a real `redis-server`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { CapacityPolicy } from "../../shared/resp/buffer_size.ts";
import { SHORT_BYTE_STRING, shortByteString } from "../../shared/resp/bytes.ts";
import { ProtocolError } from "../../shared/resp/errors.ts";
import { type DecoderLimits, parseStrictInteger, withDefaults } from "../../shared/resp/limits.ts";
import { splitArgs } from "../../shared/resp/split_args.ts";

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const ZERO = 0x30;

/**
 * Redis's limits for a client that has not yet given the password (`requirepass`): a command of at
 * most 10 arguments, none longer than 16 KiB. They were added after CVE-2021-32675, in which a
 * client that had not authenticated could make Redis allocate gigabytes by announcing huge arrays
 * and bulk strings. `AUTH` and `HELLO ... AUTH` need at most 7 arguments of a few bytes each, so
 * nothing a client may legitimately send first comes near them.
 */
export const UNAUTHENTICATED_LIMITS: Readonly<
  Pick<DecoderLimits, "maxBulkLength" | "maxArrayLength">
> = Object.freeze({ maxBulkLength: 16 * 1024, maxArrayLength: 10 });

/**
 * The buffer starts small, because every open connection keeps one: a client that sends a
 * command now and then needs a few dozen bytes. It doubles for a pipeline or a big value and
 * shrinks back once traffic is small again (see `buffer_size.ts`).
 */
const INITIAL_CAPACITY = 1024;
/** A buffer bigger than this is dropped as soon as its frame has been decoded, without waiting. */
const SHRINK_ABOVE = 1024 * 1024;
/**
 * The most one read is offered while a client's traffic grows: Redis reads 16 KiB at a time
 * (`PROTO_IOBUF_LEN`). A frame bigger than that still gets a buffer of its size.
 */
const MAX_READ = 16 * 1024;

/** `next()`'s internal answer for a frame that was consumed but holds no command (`*0`, a blank line). */
const SKIPPED = Symbol("skipped");

/**
 * Command names, remembered. A client sends the same few names over and over (`SET`, `GET`), and
 * making a new string for each costs twice: once to create it, and once more when the command
 * table's `Map` looks it up, because the first time a string is used as a `Map` key V8 hashes it
 * and searches its table of unique strings for it. A string used before has both done already.
 * Handing back the string made last time for the same bytes skips all of that; comparing a few
 * bytes is cheaper. Measured with `deno bench bench/server_path_bench.ts` (bench/README.md has the
 * numbers).
 *
 * It is a small direct-mapped table, like a CPU cache: a slot is chosen from the name's length and
 * first and last bytes, and a different name landing on the same slot simply replaces it. Only
 * argument 0 goes through it, so it holds at most a handful of short strings, whatever a client
 * sends. The same trick for keys (16,384 slots, a hash of the bytes) was tried and dropped: the
 * hashing and comparing in JavaScript cost about what they saved. The keyspace avoids the search
 * another way: its hash table is not a `Map` (see `shared/hash_table.ts`).
 */
const NAME_SLOTS = 64;
const MAX_NAME_LENGTH = 24;
const names: string[] = new Array<string>(NAME_SLOTS).fill("");

/**
 * Decodes client requests from a byte stream.
 *
 * @example
 * ```ts
 * const decoder = new RequestDecoder();
 * decoder.push(new TextEncoder().encode("*1\r\n$4\r\nPI"));
 * decoder.next(); // null: the frame is not complete
 * decoder.push(new TextEncoder().encode("NG\r\nECHO hi\r\n"));
 * decoder.next(); // ["PING"]
 * decoder.next(); // ["ECHO", "hi"]
 * ```
 */
export class RequestDecoder {
  #limits: DecoderLimits;
  #buf = new Uint8Array(INITIAL_CAPACITY);
  // A Node Buffer over the same memory, for its native latin1 conversion (see bytes.ts).
  #view = Buffer.from(this.#buf.buffer);
  #start = 0;
  #end = 0;
  // The array frame at #start while it is incomplete: its arguments array, how many slots of it
  // are filled, how many it will have, and where the next bulk header starts (relative to #start,
  // because #start moves when the buffer is compacted).
  #partial: string[] | null = null;
  #partialDone = 0;
  #partialCount = 0;
  #partialOffset = 0;
  /** Where {@link #shortHeader} found the `\r` of the header it read. */
  #lineEnd = 0;
  // The size of the frame at #start, once a bulk header has told it; 0 when unknown.
  #frameLength = 0;
  // How much room spare() makes for the next read, and how much it offered the one in progress.
  #readRoom = INITIAL_CAPACITY;
  #offered = 0;
  #sizing = new CapacityPolicy(INITIAL_CAPACITY);
  // Whether {@link UNAUTHENTICATED_LIMITS} apply as well (see `unauthenticated`).
  #unauthenticated = false;

  /**
   * Creates a decoder with an empty buffer.
   *
   * @param limits Overrides for {@link DEFAULT_LIMITS}.
   */
  constructor(limits: Partial<DecoderLimits> = {}) {
    this.#limits = withDefaults(limits);
  }

  /**
   * Whether the client has yet to authenticate. While it is `true`, {@link UNAUTHENTICATED_LIMITS}
   * apply on top of the decoder's own, with Redis's errors (`unauthenticated multibulk length`,
   * `unauthenticated bulk length`). The server sets it when a client connects and clears it the
   * moment `AUTH` succeeds, so the very next command is decoded with the ordinary limits: a client
   * may pipeline `AUTH` and a big `SET` in one write, as it may with Redis.
   *
   * The check sits in the decoder rather than in the `AUTH` gate because by the time a command
   * reaches the gate, its bytes have already been buffered: the point is to refuse the header
   * that announces them.
   */
  get unauthenticated(): boolean {
    return this.#unauthenticated;
  }

  set unauthenticated(value: boolean) {
    this.#unauthenticated = value;
  }

  /** How many received bytes are waiting to be decoded. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** How many bytes the buffer can hold before it has to grow: what a client has made it allocate. */
  get capacity(): number {
    return this.#buf.length;
  }

  /**
   * Appends bytes received from the socket. The decoder copies them, so the caller may reuse
   * its read buffer at once.
   *
   * @param chunk The bytes just read.
   */
  push(chunk: Uint8Array): void {
    if (this.#start === this.#end) this.#rewind(chunk.length);
    if (this.#end + chunk.length > this.#buf.length) this.#makeRoom(chunk.length);
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
    this.#sizing.note(this.#end - this.#start);
  }

  /**
   * The free end of the buffer, for the socket to read into; {@link commit} then adds what the
   * read wrote. Reading straight into the decoder's buffer spares the server a second buffer per
   * connection, and a copy per read, that {@link push} would cost.
   *
   * The room offered starts small and doubles each time a read fills it (the client had more to
   * say), up to 16 KiB a read as in Redis; it follows the buffer back down when that shrinks.
   *
   * @returns A view of the buffer, valid until the next call on this decoder.
   * @example
   * ```ts
   * const n = await conn.read(decoder.spare());
   * if (n !== null) decoder.commit(n);
   * ```
   */
  spare(): Uint8Array {
    if (this.#start === this.#end) this.#rewind(this.#readRoom);
    if (this.#buf.length - this.#end < this.#readRoom) this.#makeRoom(this.#readRoom);
    this.#offered = this.#buf.length - this.#end;
    return this.#buf.subarray(this.#end);
  }

  /**
   * Adds the bytes a read wrote into {@link spare}.
   *
   * @param n How many bytes the read returned.
   * @throws {RangeError} If `n` is more than {@link spare} offered.
   */
  commit(n: number): void {
    if (!(n >= 0 && n <= this.#offered)) {
      throw new RangeError(`Cannot commit ${n} bytes: the last spare() offered ${this.#offered}`);
    }
    if (n === this.#offered && this.#readRoom < MAX_READ) this.#readRoom *= 2;
    this.#offered = 0;
    this.#end += n;
    this.#sizing.note(this.#end - this.#start);
  }

  /**
   * Returns the next whole command, or `null` if the buffered bytes do not hold one yet.
   *
   * @returns The command name and its arguments as byte strings, or `null`.
   * @throws {ProtocolError} When the bytes cannot be a valid request. The connection cannot be
   *   resynchronised after that: the server replies with the error and closes it.
   */
  next(): string[] | null {
    while (this.#start < this.#end) {
      const command = this.#buf[this.#start] === STAR ? this.#parseArray() : this.#parseInline();
      if (command === null) return null;
      if (command !== SKIPPED) return command;
    }
    return null;
  }

  /** Parses `*<count>\r\n` followed by `count` bulk strings `$<len>\r\n<bytes>\r\n`. */
  #parseArray(): string[] | null | typeof SKIPPED {
    const buf = this.#buf;
    const limits = this.#limits;
    let args = this.#partial;
    let count = this.#partialCount;
    let i = this.#partialDone;
    let pos = this.#start + this.#partialOffset;

    if (args === null) {
      pos = this.#start;
      count = this.#shortHeader(pos);
      let countEnd = this.#lineEnd;
      if (count < 0) {
        countEnd = this.#findLineEnd(pos, "too big mbulk count string");
        if (countEnd < 0) return null;
        count = parseStrictInteger(buf, pos + 1, countEnd);
      }
      if (!(count <= limits.maxArrayLength)) {
        return this.#rejectHeader(
          pos,
          countEnd,
          "too big mbulk count string",
          "invalid multibulk length",
        );
      }
      if (count > UNAUTHENTICATED_LIMITS.maxArrayLength && this.#unauthenticated) {
        throw new ProtocolError("unauthenticated multibulk length");
      }
      pos = countEnd + 2;
      if (count <= 0) {
        // Redis reads `*0` and `*-1` as "no command" and carries on.
        this.#start = pos;
        return SKIPPED;
      }
      // Like Redis, believe a count only up to 1024 slots in advance: `*2147483647` is 13 bytes.
      args = count <= 1024 ? new Array<string>(count) : [];
      i = 0;
    }

    for (; i < count; i++) {
      let length = buf[pos] === DOLLAR ? this.#shortHeader(pos) : -1;
      let lengthEnd = this.#lineEnd;
      if (length < 0) {
        lengthEnd = this.#findLineEnd(pos, "too big bulk count string");
        if (lengthEnd < 0) return this.#suspend(args, i, count, pos);
        length = buf[pos] === DOLLAR ? parseStrictInteger(buf, pos + 1, lengthEnd) : NaN;
      }
      if (!(length >= 0 && length <= limits.maxBulkLength)) {
        this.#rejectHeader(
          pos,
          lengthEnd,
          "too big bulk count string",
          buf[pos] === DOLLAR
            ? "invalid bulk length"
            : `expected '$', got '${String.fromCharCode(buf[pos])}'`,
        );
        return this.#suspend(args, i, count, pos);
      }
      if (length > UNAUTHENTICATED_LIMITS.maxBulkLength && this.#unauthenticated) {
        throw new ProtocolError("unauthenticated bulk length");
      }
      // Like Redis, take the byte after a header's "\r" for "\n" without looking (but see below).
      const dataStart = lengthEnd + 2;
      if (dataStart + length + 2 > this.#end) {
        // Not all here yet. Nothing is allocated for the claim itself: a client must not make the
        // server hold 512 MiB because it sent `$536870912` and then nothing; the buffer grows as
        // bytes arrive. For the last argument the claim does tell the whole frame's size, and
        // the buffer then grows to that size rather than doubling past it.
        this.#frameLength = i === count - 1 ? dataStart + length + 2 - this.#start : 0;
        return this.#suspend(args, i, count, pos);
      }
      args[i] = i === 0 && length <= MAX_NAME_LENGTH
        ? this.#name(dataStart, length)
        : length <= SHORT_BYTE_STRING
        ? shortByteString(buf, dataStart, length)
        : this.#view.toString("latin1", dataStart, dataStart + length);
      // Like Redis, skip the two bytes after the data without checking they are "\r\n".
      pos = dataStart + length + 2;
    }
    this.#partial = null;
    this.#partialDone =
      this.#partialCount =
      this.#partialOffset =
      this.#frameLength =
        0;
    this.#start = pos;
    return args;
  }

  /** Reads a command name of at most {@link MAX_NAME_LENGTH} bytes, reusing the last such string. */
  #name(start: number, length: number): string {
    const buf = this.#buf;
    const slot = length === 0
      ? 0
      : (length * 7 + buf[start] * 3 + buf[start + length - 1]) & (NAME_SLOTS - 1);
    const known = names[slot];
    if (known.length === length) {
      let i = 0;
      while (i < length && known.charCodeAt(i) === buf[start + i]) i++;
      if (i === length) return known;
    }
    return names[slot] = shortByteString(buf, start, length);
  }

  /** Remembers how far an incomplete array frame got, so that the next call resumes there. */
  #suspend(args: string[], done: number, count: number, pos: number): null {
    this.#partial = args;
    this.#partialDone = done;
    this.#partialCount = count;
    this.#partialOffset = pos - this.#start;
    return null;
  }

  /** Parses one inline command: everything up to `\n`, split like `redis-cli` splits a line. */
  #parseInline(): string[] | null | typeof SKIPPED {
    const start = this.#start;
    const newline = this.#indexOf(LF, start);
    // Redis finds the newline with C's `strchr`, which stops at a NUL byte. So a NUL before the
    // newline hides it, and Redis keeps waiting (up to the inline limit) as if none had come.
    if (newline < 0 || this.#hasNul(start, newline)) {
      if (this.#end - start > this.#limits.maxInlineLength) {
        throw new ProtocolError("too big inline request");
      }
      return null;
    }
    const lineEnd = newline > start && this.#buf[newline - 1] === CR ? newline - 1 : newline;
    const args = splitArgs(this.#view.toString("latin1", start, lineEnd));
    this.#start = newline + 1;
    if (args === null) throw new ProtocolError("unbalanced quotes in request");
    return args.length === 0 ? SKIPPED : args;
  }

  /**
   * The common header, read in one pass: its type byte (`*` or `$`, which the caller checked), one
   * to nine digits without a leading zero, and a `\r\n` already in the buffer. Returns the number
   * and leaves the `\r`'s offset in `#lineEnd`; returns -1 for anything else (`$0`, a sign, a line
   * not here yet, a bad byte), which the general path reads and judges as before. Finding the end
   * of the line and reading the number in the same pass spares a second walk over every header
   * (`bench/README.md` has the measurement).
   */
  #shortHeader(pos: number): number {
    const buf = this.#buf;
    const end = this.#end;
    let i = pos + 1;
    let value = buf[i] - ZERO;
    if (!(value >= 1 && value <= 9)) return -1;
    const stop = Math.min(end, pos + 11);
    for (i++; i < stop; i++) {
      const digit = buf[i] - ZERO;
      if (!(digit >= 0 && digit <= 9)) break;
      value = value * 10 + digit;
    }
    if (i + 1 >= end || buf[i] !== CR) return -1;
    this.#lineEnd = i;
    return value;
  }

  /**
   * Finds the `\r` that ends the header line starting at `pos` and checks that the byte after it
   * has arrived too. Returns -1 if the line is incomplete; throws if no `\r` has come within the
   * inline limit.
   *
   * Only a missing `\r` counts against the limit, as in Redis: a long line whose `\r` is the last
   * byte so far is waited for, and then rejected for its content, not its length.
   */
  #findLineEnd(pos: number, tooLong: string): number {
    const cr = this.#indexOf(CR, pos);
    if (cr >= 0 && cr + 1 < this.#end) return cr;
    // A `\r` behind a NUL is invisible to Redis (see #rejectHeader), so then it counts as missing.
    if (this.#end - pos > this.#limits.maxInlineLength && (cr < 0 || this.#hasNul(pos, cr))) {
      throw new ProtocolError(tooLong);
    }
    return -1;
  }

  /**
   * Handles a header line that does not parse: throws its protocol error, or returns `null` to wait
   * when the line holds a NUL byte.
   *
   * Redis finds a header's `\r` with C's `strchr`, which stops at a NUL. To Redis, `$4\0\r\n` has
   * no `\r` yet, so it waits for one (failing only past the inline limit) where we, having found
   * the `\r`, would report the bad number. A header holding a NUL never parses, so the check sits on
   * this error path and costs valid frames nothing.
   */
  #rejectHeader(pos: number, cr: number, tooLong: string, detail: string): null {
    if (!this.#hasNul(pos, cr)) throw new ProtocolError(detail);
    if (this.#end - pos > this.#limits.maxInlineLength) throw new ProtocolError(tooLong);
    return null;
  }

  /** Is there a NUL byte in `[from, to)`? */
  #hasNul(from: number, to: number): boolean {
    const buf = this.#buf;
    for (let i = from; i < to; i++) if (buf[i] === 0) return true;
    return false;
  }

  /**
   * `indexOf` limited to the bytes that are really buffered.
   *
   * `Uint8Array.prototype.indexOf` from `from` would search on through the stale rest of the buffer
   * whenever a frame is incomplete, which is most calls for a client that sends a few bytes at a
   * time. So the search stops at `#end`: a plain loop first, which finds the end of a short header
   * faster than any call could, then the built-in search on a view, which is faster per byte for a
   * long inline line.
   */
  #indexOf(byte: number, from: number): number {
    const buf = this.#buf;
    const end = this.#end;
    const stop = Math.min(end, from + 32);
    for (let i = from; i < stop; i++) if (buf[i] === byte) return i;
    if (stop === end) return -1;
    const i = buf.subarray(stop, end).indexOf(byte);
    return i < 0 ? -1 : stop + i;
  }

  /**
   * Makes room for `extra` more bytes at the end, first by moving unread bytes to the front.
   *
   * A buffer that must grow doubles, so that a big value arriving in many reads is copied a few
   * times in all rather than once per read; but it grows no bigger than the frame being received,
   * once the last bulk header has told that size: a 512 MiB value gets a 512 MiB buffer, not 1 GiB.
   */
  #makeRoom(extra: number): void {
    const unread = this.#end - this.#start;
    const needed = unread + extra;
    if (needed <= this.#buf.length) {
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      let capacity = this.#buf.length;
      while (capacity < needed) capacity *= 2;
      if (this.#frameLength > needed) capacity = Math.min(capacity, this.#frameLength);
      this.#resize(Math.max(capacity, needed));
    }
    this.#start = 0;
    this.#end = unread;
  }

  /**
   * Starts over at the front of the buffer once every byte has been decoded, and shrinks a buffer
   * that recent traffic has not needed: at once if it is huge and `incoming` bytes are not, or
   * when the {@link CapacityPolicy} says so. Nothing is buffered, so nothing is copied.
   */
  #rewind(incoming: number): void {
    this.#start = this.#end = 0;
    const capacity = this.#buf.length > SHRINK_ABOVE && incoming <= MAX_READ
      ? INITIAL_CAPACITY
      : this.#sizing.fit(this.#buf.length);
    if (capacity < this.#buf.length) {
      this.#resize(capacity);
      this.#readRoom = Math.min(this.#readRoom, capacity);
    }
  }

  #resize(capacity: number): void {
    const next = new Uint8Array(capacity);
    next.set(this.#buf.subarray(this.#start, this.#end));
    this.#end -= this.#start;
    this.#start = 0;
    this.#buf = next;
    this.#view = Buffer.from(next.buffer);
  }
}
