/**
 * The values a reply can carry, as plain JavaScript values: RESP2's five types, and RESP3's.
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

/**
 * The protocol a connection speaks: RESP2, or RESP3 after `HELLO 3`.
 *
 * RESP3 says more about a reply's shape: a map is a map (`%`), not an array of pairs; a null is
 * one `_`, not `$-1` or `*-1`; a double, a boolean, a set have types of their own. A command
 * answers with the same values either way; the encoder writes them in the connection's protocol,
 * and in RESP2 each RESP3 type falls back to the RESP2 shape Redis gives it (a map to a flat array,
 * a double to a bulk string, a boolean to `:1` or `:0`).
 */
export type Protocol = 2 | 3;

/** A RESP3 map `%<n>`, such as `HELLO`'s and `CONFIG GET`'s answers; a flat array in RESP2. */
export class MapReply {
  /**
   * Wraps key-value pairs.
   *
   * @param entries The pairs, in the order they are sent.
   */
  constructor(readonly entries: readonly (readonly [Reply, Reply])[]) {}
}

/** A RESP3 set `~<n>`: an array whose order means nothing; a plain array in RESP2. */
export class SetReply {
  /**
   * Wraps the members.
   *
   * @param items The members.
   */
  constructor(readonly items: readonly Reply[]) {}
}

/** A RESP3 push `><n>`: out-of-band data (pub/sub messages); an array in RESP2. */
export class PushReply {
  /**
   * Wraps the pushed values.
   *
   * @param items The values, the first naming the kind of push.
   */
  constructor(readonly items: readonly Reply[]) {}
}

/** A RESP3 double `,1.5`; a bulk string in RESP2. */
export class DoubleReply {
  /**
   * Wraps a floating-point number.
   *
   * @param value The number; `Infinity`, `-Infinity` and `NaN` are sent as `inf`, `-inf`, `nan`.
   */
  constructor(readonly value: number) {}
}

/** A RESP3 big number `(1234…`, past 64 bits; a bulk string in RESP2. */
export class BigNumberReply {
  /**
   * Wraps an integer of any size.
   *
   * @param value The integer.
   */
  constructor(readonly value: bigint) {}
}

/**
 * A RESP3 verbatim string `=<len>\r\ntxt:…`: text meant to be shown as it is (`INFO`,
 * `CLIENT LIST`); a bulk string of the text in RESP2.
 */
export class VerbatimString {
  /**
   * Wraps text with its format.
   *
   * @param text The text, a byte string.
   * @param format Three letters: `txt` for plain text, `mkd` for markdown.
   */
  constructor(readonly text: string, readonly format = "txt") {}
}

/**
 * Any reply, RESP2 or RESP3. Strings are byte strings: one character per byte. `true` and
 * `false` are RESP3 booleans.
 */
export type Reply =
  | string
  | number
  | bigint
  | null
  | boolean
  | SimpleString
  | ErrorReply
  | NullArray
  | MapReply
  | SetReply
  | PushReply
  | DoubleReply
  | BigNumberReply
  | VerbatimString
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
