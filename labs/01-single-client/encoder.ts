/**
 * The reply encoder: reply values out as RESP bytes.
 *
 * Every reply starts with one byte that says its type, and every line ends with `\r\n`:
 *
 * ```
 * new SimpleString("OK")       +OK\r\n
 * new ErrorReply("ERR no")     -ERR no\r\n
 * 42                           :42\r\n
 * "Alice"                      $5\r\nAlice\r\n      a bulk string: its length, then its bytes
 * null                         $-1\r\n              (RESP3: _\r\n)
 * ["a", 1]                     *2\r\n$1\r\na\r\n:1\r\n
 * ```
 *
 * A {@link ReplyWriter} appends each reply to one growing buffer, so the replies to a whole
 * pipelined batch leave in a single socket write (see `connection.ts`). This is the plain version,
 * written to be read: lab 2 and later use `shared/resp/encoder.ts`, which writes the same bytes
 * and is tuned, measured, for the hot path.
 *
 * @module
 */

import { writeByteString } from "../../shared/resp/bytes.ts";
import { formatDouble } from "../../shared/resp/encoder.ts";
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
} from "../../shared/resp/reply.ts";

const CR = 0x0d;
const LF = 0x0a;
/** A new writer's buffer: room for a few dozen short replies; it doubles when a batch needs more. */
const INITIAL_CAPACITY = 1024;
/** A buffer that grew past this for one big reply is let go once that reply has been sent. */
const SHRINK_ABOVE = 1024 * 1024;

/**
 * Encodes replies into one reusable buffer.
 *
 * @example
 * ```ts
 * const out = new ReplyWriter();
 * out.write(new SimpleString("OK"));
 * out.write("hello");
 * out.take(); // the bytes of "+OK\r\n$5\r\nhello\r\n"
 * ```
 */
export class ReplyWriter {
  #buf = new Uint8Array(INITIAL_CAPACITY);
  #pos = 0;

  /**
   * Called with each error reply's text as it is encoded, at any depth: the server counts the
   * errors it sends here (`INFO errorstats`), as Redis counts them where it writes them.
   */
  onError: ((message: string) => void) | undefined;

  /** Bytes written since the last {@link take}. */
  get length(): number {
    return this.#pos;
  }

  /**
   * Returns the bytes written so far and starts over. The result is a view of the writer's own
   * buffer: send it (and wait for the send) before writing more.
   *
   * @returns The encoded bytes.
   */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#pos);
    this.#pos = 0;
    return out;
  }

  /**
   * Forgets what was written after the first `length` bytes: how the server drops a reply the
   * client asked not to get (`CLIENT REPLY OFF`).
   *
   * @param length A length this writer had earlier, since the last {@link take}.
   */
  truncate(length: number): void {
    if (length < 0 || length > this.#pos) {
      throw new RangeError(`Cannot truncate to ${length} bytes: the writer holds ${this.#pos}`);
    }
    this.#pos = length;
  }

  /** Lets a buffer that grew for one big reply go, once the bytes taken have been sent. */
  shrink(): void {
    if (this.#pos === 0 && this.#buf.length > SHRINK_ABOVE) {
      this.#buf = new Uint8Array(INITIAL_CAPACITY);
    }
  }

  /**
   * Encodes one reply.
   *
   * @param reply Any reply value; a string is a byte string and becomes a bulk string.
   * @param protocol The connection's protocol: in RESP2, RESP3's types take RESP2's shapes.
   */
  write(reply: Reply, protocol: Protocol = 2): void {
    // exercise step 1: write each RESP2 reply by its type: bulk string, null, integer, status, error (tell onError), array
    if (typeof reply === "string") this.#bulk(reply);
    else if (reply === null) this.#ascii(protocol === 3 ? "_\r\n" : "$-1\r\n");
    else if (typeof reply === "number" || typeof reply === "bigint") this.#ascii(`:${reply}\r\n`);
    else if (reply instanceof SimpleString) this.#line("+", reply.value);
    else if (reply instanceof ErrorReply) {
      this.onError?.(reply.message);
      // Redis trims line breaks off both ends of an error's text; #line blanks the rest.
      this.#line("-", reply.message.replace(/^[\r\n]+|[\r\n]+$/g, ""));
    } else if (reply instanceof NullArray) this.#ascii(protocol === 3 ? "_\r\n" : "*-1\r\n");
    else if (Array.isArray(reply)) this.#aggregate("*", reply, protocol);
    else this.#resp3(reply, protocol);
    // exercise starter: throw new NotImplementedError(1, "encode the reply");
  }

  /** The types RESP3 added: their own bytes in RESP3, the shape Redis gives each in RESP2. */
  #resp3(reply: Reply, protocol: Protocol): void {
    const resp3 = protocol === 3;
    // exercise step 8: RESP3's types (boolean, map, set, push, double, big number, verbatim), or their RESP2 shapes
    if (typeof reply === "boolean") {
      this.#ascii(resp3 ? (reply ? "#t\r\n" : "#f\r\n") : (reply ? ":1\r\n" : ":0\r\n"));
    } else if (reply instanceof MapReply) {
      // A map is its pairs; RESP2 has no map, so it is an array of keys and values in turn.
      this.#ascii(resp3 ? `%${reply.entries.length}\r\n` : `*${reply.entries.length * 2}\r\n`);
      for (const [key, value] of reply.entries) {
        this.write(key, protocol);
        this.write(value, protocol);
      }
    } else if (reply instanceof SetReply) this.#aggregate("~", reply.items, protocol);
    else if (reply instanceof PushReply) this.#aggregate(">", reply.items, protocol);
    else if (reply instanceof DoubleReply || reply instanceof BigNumberReply) {
      // A double (`,`) or a big number (`(`) is a line in RESP3, a bulk string in RESP2.
      const double = reply instanceof DoubleReply;
      const text = double ? formatDouble(reply.value) : String(reply.value);
      if (resp3) this.#line(double ? "," : "(", text);
      else this.#bulk(text);
    } else if (reply instanceof VerbatimString) {
      this.#bulk(resp3 ? `${reply.format}:${reply.text}` : reply.text, resp3 ? "=" : "$");
    } else throw new TypeError(`Cannot encode a reply of type ${typeof reply}`);
    // exercise starter: throw new NotImplementedError(8, "encode RESP3's types");
  }

  /** An array, or in RESP3 a set (`~`) or push (`>`): its length, then each item. */
  #aggregate(type: string, items: readonly Reply[], protocol: Protocol): void {
    this.#ascii(`${protocol === 3 ? type : "*"}${items.length}\r\n`);
    for (const item of items) this.write(item, protocol);
  }

  /** `$<length>\r\n<bytes>\r\n` (a verbatim string has the same shape after `=`). */
  #bulk(value: string, type = "$"): void {
    this.#ascii(`${type}${value.length}\r\n`);
    this.#ascii(value);
    this.#ascii("\r\n");
  }

  /** `+text\r\n` or `-text\r\n`: a line cannot hold CR or LF, so, as in Redis, they become spaces. */
  #line(type: string, text: string): void {
    this.#ascii(type);
    const start = this.#pos;
    this.#ascii(text);
    for (let i = start; i < this.#pos; i++) {
      if (this.#buf[i] === CR || this.#buf[i] === LF) this.#buf[i] = 0x20;
    }
    this.#ascii("\r\n");
  }

  /** Appends a byte string (one character per byte), growing the buffer if it must. */
  #ascii(text: string): void {
    const end = this.#pos + text.length;
    if (end > this.#buf.length) {
      // Double, so a batch of many replies is copied a few times in all, not once per reply.
      const grown = new Uint8Array(Math.max(end, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#pos));
      this.#buf = grown;
    }
    writeByteString(text, this.#buf, this.#pos);
    this.#pos = end;
  }
}
