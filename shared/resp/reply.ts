/**
 * The values a RESP2 reply can carry, as plain JavaScript values.
 *
 * RESP2 has five reply types. The most common ones are the cheapest here: a bulk string is a byte
 * string (see `bytes.ts`), a null bulk is `null`, an integer is a `number` (or a `bigint` past 2^53,
 * because Redis integers are 64-bit). Simple strings and errors are wrapped in small classes so that
 * `"OK"` the bulk string and `+OK` the status can be told apart.
 *
 * ```
 * +OK\r\n                  new SimpleString("OK")
 * -ERR syntax error\r\n    new ErrorReply("ERR syntax error")
 * :42\r\n                  42
 * $5\r\nhello\r\n          "hello"
 * $-1\r\n                  null
 * *2\r\n:1\r\n:2\r\n       [1, 2]
 * *-1\r\n                  NULL_ARRAY
 * ```
 *
 * The server's encoder writes these values and the client's decoder produces them, so a test can
 * compare what the server meant to say with what the client heard.
 *
 * @module
 */

/** A status reply such as `+OK` or `+PONG`: short ASCII text, never binary. */
export class SimpleString {
  /**
   * Wraps status text.
   *
   * @param value The text after `+`, without the line ending.
   * @example
   * ```ts
   * new SimpleString("OK"); // +OK
   * ```
   */
  constructor(readonly value: string) {}
}

/**
 * An error reply such as `-ERR syntax error`. By convention the first word is the error code.
 *
 * It is a value, not a thrown exception: an error is an ordinary answer in RESP, and one can sit
 * inside an array (a failed command inside `EXEC`).
 */
export class ErrorReply {
  /**
   * Wraps an error message.
   *
   * @param message The text after `-`, for example `ERR syntax error`.
   * @example
   * ```ts
   * new ErrorReply("WRONGTYPE Operation against a key holding the wrong kind of value");
   * ```
   */
  constructor(readonly message: string) {}

  /** The error code: the first word of the message (`ERR`, `WRONGTYPE`, `NOAUTH`, ...). */
  get code(): string {
    const space = this.message.indexOf(" ");
    return space < 0 ? this.message : this.message.slice(0, space);
  }
}

/** The null array `*-1`, which RESP2 uses where a command has no array to give (EXEC after WATCH). */
export class NullArray {
  private constructor() {}
  /** The one instance. */
  static readonly instance: NullArray = new NullArray();
}

/** The null array `*-1`. */
export const NULL_ARRAY: NullArray = NullArray.instance;

/** Any RESP2 reply. Strings are byte strings: one character per byte. */
export type Reply =
  | string
  | number
  | bigint
  | null
  | SimpleString
  | ErrorReply
  | NullArray
  | readonly Reply[];

/** `+OK`, the commonest reply; shared so that the hot path allocates nothing for it. */
export const OK: SimpleString = new SimpleString("OK");

/** `+PONG`. */
export const PONG: SimpleString = new SimpleString("PONG");

/**
 * Cuts a byte string the way C's `%s` (or `%.Ns`) does in Redis's error messages: at the first NUL,
 * and at `max` bytes if given. Use it for every client-supplied word an error quotes, so that
 * `EXPIRE k 100 "a\0b"` gets Redis's `-ERR Unsupported option a`.
 *
 * @param s A byte string from the client.
 * @param max At most this many bytes.
 * @returns The part of `s` that C would print.
 */
export function cString(s: string, max = Infinity): string {
  const nul = s.indexOf("\0");
  return (nul < 0 ? s : s.slice(0, nul)).slice(0, max);
}

/**
 * Builds an error reply with Redis's generic `ERR` code.
 *
 * @param text The message after `ERR `.
 * @returns The error reply.
 * @example
 * ```ts
 * err("syntax error"); // -ERR syntax error
 * ```
 */
export function err(text: string): ErrorReply {
  return new ErrorReply(`ERR ${text}`);
}
