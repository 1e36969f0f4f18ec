/**
 * The encoder: RESP values out as bytes.
 *
 * A {@link RespWriter} appends encoded values to one growable buffer. The server writes every reply
 * to a pipelined batch into the same writer and sends the whole batch with one socket write: fifty
 * replies in one system call instead of fifty. The client uses the same writer for commands.
 *
 * @module
 */

import { CapacityPolicy } from "./buffer_size.ts";
import { writeByteString } from "./bytes.ts";
import {
  BigNumberReply,
  DoubleReply,
  ErrorReply,
  MapReply,
  NullArray,
  type Protocol,
  PushReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "./reply.ts";

const CRLF_0 = 0x0d;
const CRLF_1 = 0x0a;
/**
 * A new writer's buffer: room for a few dozen short replies. The server keeps one writer per
 * connection, so this is paid once per open client; a batch that needs more doubles it, and
 * {@link RespWriter.shrink} brings it back once batches are small again (see `buffer_size.ts`).
 */
const INITIAL_CAPACITY = 1024;
/** A buffer bigger than this is dropped as soon as its batch has gone, without waiting. */
const SHRINK_ABOVE = 1024 * 1024;
const textEncoder = new TextEncoder();
/** The most bytes of a length line: a type byte, up to ten digits, CRLF. */
const MAX_LENGTH_LINE = 13;
/** The most bytes around one bulk string: its length line and the CRLF after it. */
const BULK_OVERHEAD = MAX_LENGTH_LINE + 2;
/** Up to this length {@link RespWriter.bulkArray} copies a string in its own loop. */
const SHORT_STRING = 64;

/**
 * Accumulates encoded RESP values in a reusable buffer.
 *
 * @example
 * ```ts
 * const w = new RespWriter();
 * w.write(new SimpleString("OK"));
 * w.write("hello");
 * w.take(); // bytes of "+OK\r\n$5\r\nhello\r\n"
 * ```
 */
export class RespWriter {
  #buf = new Uint8Array(INITIAL_CAPACITY);
  #pos = 0;
  #sizing = new CapacityPolicy(INITIAL_CAPACITY);

  /**
   * Called with each error reply's text as it is encoded, at any depth (an `EXEC` reply holds its
   * commands' errors). A server counts errors here, as Redis counts them where it writes them
   * (`afterErrorReply()`), so every error a client is sent is counted once and none is missed.
   */
  onError: ((message: string) => void) | undefined;

  /** Bytes written since the last {@link take}. */
  get length(): number {
    return this.#pos;
  }

  /** How many bytes the buffer holds before it has to grow. */
  get capacity(): number {
    return this.#buf.length;
  }

  /**
   * Returns the bytes written so far and starts over.
   *
   * The result is a view of the writer's own buffer, valid until the next write: send it (and await
   * the send) before writing more. That is what lets the server reuse one buffer for every batch.
   *
   * @returns The encoded bytes.
   */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#pos);
    this.#sizing.note(this.#pos);
    this.#pos = 0;
    return out;
  }

  /**
   * Forgets what was written after the first `length` bytes: how a server drops a reply it has
   * encoded but must not send (`CLIENT REPLY OFF`), once the reply has been counted.
   *
   * @param length A length this writer had earlier, since the last {@link take}.
   */
  truncate(length: number): void {
    if (length < 0 || length > this.#pos) {
      throw new RangeError(`Cannot truncate to ${length} bytes: the writer holds ${this.#pos}`);
    }
    this.#pos = length;
  }

  /**
   * Call once a batch taken with {@link take} has been sent: lets a buffer that grew for one huge
   * batch go at once, and one that grew for a burst go once the batches have stayed small for a
   * while (see `buffer_size.ts`).
   */
  shrink(): void {
    if (this.#pos !== 0) return;
    const capacity = this.#buf.length > SHRINK_ABOVE
      ? INITIAL_CAPACITY
      : this.#sizing.fit(this.#buf.length);
    if (capacity < this.#buf.length) this.#buf = new Uint8Array(capacity);
  }

  /**
   * Encodes one reply.
   *
   * @param reply Any value; strings are byte strings and become bulk strings.
   * @param protocol The connection's protocol: RESP3 types are written as RESP2 ones in RESP2.
   */
  write(reply: Reply, protocol: Protocol = 2): void {
    // The commonest replies first: this runs once per command.
    if (typeof reply === "string") this.bulk(reply);
    else if (reply === null) this.#ascii(protocol === 3 ? "_\r\n" : "$-1\r\n");
    else if (typeof reply === "number" || typeof reply === "bigint") this.integer(reply);
    else if (reply instanceof SimpleString) this.#line(0x2b, reply.value);
    else if (reply instanceof ErrorReply) {
      this.onError?.(reply.message);
      this.#line(0x2d, trimLineBreaks(reply.message));
    } else if (reply instanceof NullArray) this.#ascii(protocol === 3 ? "_\r\n" : "*-1\r\n");
    else if (Array.isArray(reply)) this.#aggregate(0x2a, reply, protocol);
    else this.#resp3(reply, protocol);
  }

  /**
   * Encodes a bulk string `$<len>\r\n<bytes>\r\n`.
   *
   * @param value A byte string.
   */
  bulk(value: string): void {
    const n = value.length;
    this.#header(0x24, n);
    this.#ensure(n + 2);
    writeByteString(value, this.#buf, this.#pos);
    this.#pos += n;
    this.#crlf();
  }

  /**
   * Encodes a bulk string from raw bytes.
   *
   * @param value The bytes.
   */
  bulkBytes(value: Uint8Array): void {
    this.#header(0x24, value.length);
    this.#ensure(value.length + 2);
    this.#buf.set(value, this.#pos);
    this.#pos += value.length;
    this.#crlf();
  }

  /**
   * Encodes an integer `:<n>\r\n`.
   *
   * @param value A whole number.
   */
  integer(value: number | bigint): void {
    this.#header(0x3a, value);
  }

  /**
   * Encodes the header of an array `*<n>\r\n`; the caller then writes `n` values.
   *
   * @param length How many values follow.
   */
  arrayHeader(length: number): void {
    this.#header(0x2a, length);
  }

  /**
   * Encodes byte strings as an array of bulk strings — a command as a client sends it — in one
   * pass: one capacity check for the whole array, then one loop.
   *
   * The same bytes as {@link arrayHeader} followed by {@link bulk} for each string, but each of
   * those costs a method call, a capacity check and a helper for the bytes. That matters on lab 4's
   * hot path, its append-only log, which encodes most write commands (measured in
   * `bench/README.md`).
   *
   * @param args Byte strings.
   * @returns How many bytes it took.
   */
  bulkArray(args: readonly string[]): number {
    const count = args.length;
    let room = MAX_LENGTH_LINE;
    for (let i = 0; i < count; i++) room += args[i].length + BULK_OVERHEAD;
    this.#ensure(room);
    const buf = this.#buf;
    const start = this.#pos;
    let pos = writeLengthLine(buf, start, 0x2a, count);
    for (let i = 0; i < count; i++) {
      const arg = args[i];
      const n = arg.length;
      pos = writeLengthLine(buf, pos, 0x24, n);
      if (n <= SHORT_STRING) {
        for (let k = 0; k < n; k++) buf[pos + k] = arg.charCodeAt(k);
      } else {
        writeByteString(arg, buf, pos);
      }
      pos += n;
      buf[pos++] = CRLF_0;
      buf[pos++] = CRLF_1;
    }
    this.#pos = pos;
    return pos - start;
  }

  /**
   * Encodes a command as clients send it: an array of bulk strings.
   *
   * @param args The command name and its arguments. A `string` is user text and is sent as UTF-8;
   *   a `Uint8Array` is sent as it is.
   */
  command(args: readonly (string | Uint8Array)[]): void {
    this.arrayHeader(args.length);
    for (const arg of args) this.bulkBytes(typeof arg === "string" ? textEncoder.encode(arg) : arg);
  }

  /**
   * Writes `+text\r\n` or `-text\r\n`. A line cannot hold CR or LF, so, as Redis does, they become
   * spaces rather than letting an error message break the framing.
   *
   * The bytes are copied one by one, checking each for CR and LF on the way: a status line is a
   * few bytes (`+OK`), and a regular expression test per reply cost more than the copy itself
   * (measured in `bench/README.md`).
   */
  #line(prefix: number, text: string): void {
    const n = text.length;
    this.#ensure(n + 3);
    const buf = this.#buf;
    let pos = this.#pos;
    buf[pos++] = prefix;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      buf[pos++] = c === CRLF_0 || c === CRLF_1 ? 0x20 : c;
    }
    this.#pos = pos;
    this.#crlf();
  }

  /**
   * Writes a type byte, a decimal number and CRLF.
   *
   * Every reply has at least one such header (`$32` before a value), so the common case, a
   * non-negative whole number below 2^31, writes its digits straight into the buffer rather than
   * making a string with `String(n)` and copying it. Anything else (negative, huge, bigint) takes
   * the string route.
   */
  #header(prefix: number, n: number | bigint): void {
    if (typeof n === "number" && n >= 0 && n <= 0x7fffffff && Number.isInteger(n)) {
      this.#ensure(MAX_LENGTH_LINE);
      this.#pos = writeLengthLine(this.#buf, this.#pos, prefix, n);
      return;
    }
    // Room for the digits themselves, not a fixed 24 bytes: a bigint can be longer than any
    // 64-bit number, and a typed array silently drops what is written past its end.
    const digits = String(n);
    this.#ensure(digits.length + 3);
    this.#buf[this.#pos++] = prefix;
    writeByteString(digits, this.#buf, this.#pos);
    this.#pos += digits.length;
    this.#crlf();
  }

  /** An array, set or push: its header, then each item. */
  #aggregate(prefix: number, items: readonly Reply[], protocol: Protocol): void {
    this.#header(protocol === 3 ? prefix : 0x2a, items.length);
    for (const item of items) this.write(item, protocol);
  }

  /** The types RESP3 added, in RESP3, or in the RESP2 shape Redis gives each. */
  #resp3(reply: Reply, protocol: Protocol): void {
    if (typeof reply === "boolean") {
      if (protocol === 3) this.#ascii(reply ? "#t\r\n" : "#f\r\n");
      else this.integer(reply ? 1 : 0);
    } else if (reply instanceof MapReply) {
      this.#header(protocol === 3 ? 0x25 : 0x2a, reply.entries.length * (protocol === 3 ? 1 : 2));
      for (const [key, value] of reply.entries) {
        this.write(key, protocol);
        this.write(value, protocol);
      }
    } else if (reply instanceof SetReply) this.#aggregate(0x7e, reply.items, protocol);
    else if (reply instanceof PushReply) this.#aggregate(0x3e, reply.items, protocol);
    else if (reply instanceof DoubleReply) {
      const text = formatDouble(reply.value);
      if (protocol === 3) this.#line(0x2c, text);
      else this.bulk(text);
    } else if (reply instanceof BigNumberReply) {
      if (protocol === 3) this.#line(0x28, String(reply.value));
      else this.bulk(String(reply.value));
    } else if (reply instanceof VerbatimString) {
      if (protocol !== 3) return this.bulk(reply.text);
      const payload = `${reply.format}:${reply.text}`;
      this.#header(0x3d, payload.length);
      this.#ascii(payload);
      this.#crlf();
    } else {
      throw new TypeError(`Cannot encode a reply of type ${typeof reply}`);
    }
  }

  #ascii(text: string): void {
    this.#ensure(text.length);
    writeByteString(text, this.#buf, this.#pos);
    this.#pos += text.length;
  }

  #crlf(): void {
    this.#buf[this.#pos++] = CRLF_0;
    this.#buf[this.#pos++] = CRLF_1;
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    let capacity = this.#buf.length * 2;
    while (capacity < this.#pos + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }
}

/**
 * Writes `*3\r\n` or `$16\r\n`: a type byte, a whole number from 0 to 2^31 - 1 in decimal, CRLF.
 * The caller makes sure `buf` has {@link MAX_LENGTH_LINE} bytes of room at `pos`.
 *
 * @returns Where the line ends.
 */
function writeLengthLine(buf: Uint8Array, pos: number, prefix: number, n: number): number {
  buf[pos] = prefix;
  if (n < 10) {
    // Most lengths in a command are one digit: `*3`, `$3` for SET.
    buf[pos + 1] = 0x30 + n;
    pos += 2;
  } else {
    let digits = 1;
    for (let rest = n; rest >= 10; rest = (rest / 10) | 0) digits++;
    // Digits from the last to the first, each the remainder of a division by ten.
    let at = pos + digits;
    for (let rest = n; at > pos; rest = (rest / 10) | 0) buf[at--] = 0x30 + rest % 10;
    pos += digits + 1;
  }
  buf[pos++] = CRLF_0;
  buf[pos++] = CRLF_1;
  return pos;
}

/**
 * Encodes one reply into a new array; convenient in tests, too slow for the hot path.
 *
 * @param reply Any RESP2 value.
 * @param protocol RESP2 (the default) or RESP3.
 * @returns Its bytes.
 */
export function encodeReply(reply: Reply, protocol: Protocol = 2): Uint8Array {
  const w = new RespWriter();
  w.write(reply, protocol);
  return w.take().slice();
}

/**
 * Encodes a command as an array of bulk strings.
 *
 * @param args The command name and arguments; strings are sent as UTF-8.
 * @returns Its bytes.
 * @example
 * ```ts
 * encodeCommand(["GET", "k"]); // bytes of "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
 * ```
 */
export function encodeCommand(args: readonly (string | Uint8Array)[]): Uint8Array {
  const w = new RespWriter();
  w.command(args);
  return w.take().slice();
}

/**
 * A double as RESP3 writes one: `inf`, `-inf`, `nan`, else the shortest decimal that reads back as
 * the same number (Redis 7.2 writes the same; 7.0's `%.17g` can add digits, as in
 * `0.10000000000000001`).
 *
 * @param value Any number.
 * @returns Its text, as it goes on the wire.
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  return String(value);
}

/**
 * Cuts CR and LF off both ends of an error's text, as Redis's `addReplyErrorFormat()` does
 * (`sdstrim(s, "\r\n")`) before it turns the ones in the middle into spaces: an error quoting a
 * client's `"ab\n"` reads `Unsupported option ab`, not `ab ` with a trailing space.
 */
function trimLineBreaks(text: string): string {
  return text.replace(/^[\r\n]+|[\r\n]+$/g, "");
}
