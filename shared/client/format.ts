/**
 * Replies as `redis-cli` prints them, in its two everyday styles.
 *
 * At a terminal, `redis-cli` shows what type each reply is, so that `"1"` (a bulk string) and
 * `(integer) 1` look different, and quotes strings so that invisible bytes become visible:
 *
 * ```
 * 127.0.0.1:6379> COMMAND INFO get
 * 1)  1) "get"
 *     2) (integer) 2
 *     3) 1) readonly
 *        2) fast
 * ```
 *
 * Into a pipe (or with `--raw`) it prints bare values, one per line, so that scripts can use them.
 * Both functions here reproduce `redis-cli` 7 byte for byte (`cliFormatReplyTTY` and
 * `cliFormatReplyRaw` in its source); the tests hold the outputs of the real tool.
 *
 * @module
 */

import { ErrorReply, NullArray, type Reply, SimpleString } from "../resp/reply.ts";

/** Escapes for the bytes `redis-cli` shows with a backslash and a letter (`sdscatrepr`). */
const ESCAPES: Record<number, string> = {
  0x5c: "\\\\",
  0x22: '\\"',
  0x0a: "\\n",
  0x0d: "\\r",
  0x09: "\\t",
  0x07: "\\a",
  0x08: "\\b",
};

/**
 * Quotes a byte string the way Redis's `sdscatrepr` does: printable ASCII as it is, the escapes
 * above, and every other byte as `\xHH`. Bytes of UTF-8 text count as "other", because `redis-cli`
 * decides with C's `isprint` in the C locale; that is why it shows `é` as `"\xc3\xa9"`.
 */
function quote(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const escape = ESCAPES[c];
    if (escape !== undefined) out += escape;
    else if (c >= 0x20 && c < 0x7f) out += value[i];
    else out += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return out + '"';
}

/**
 * Formats a reply as `redis-cli` shows it at a terminal.
 *
 * @param reply Any RESP2 reply; strings are byte strings.
 * @returns The lines, each ending in `\n`. Pure ASCII except inside simple strings and errors,
 *   which are printed as the server sent them.
 * @example
 * ```ts
 * format(["a", 1, null]); // '1) "a"\n2) (integer) 1\n3) (nil)\n'
 * format([]);             // "(empty array)\n"
 * ```
 */
export function format(reply: Reply): string {
  return formatNested(reply, "");
}

/**
 * The recursive part of {@link format}. `prefix` is the indentation of the array this reply sits
 * in. An array's first item goes on the line its parent has already started (`1)  1) "get"`);
 * every later item starts a new line with `prefix`. Numbers are right-aligned to the width of
 * the largest one, and the indentation grows by that width plus two (for `) `), which is how
 * `redis-cli` lines up ` 9)` under `10)`.
 */
function formatNested(reply: Reply, prefix: string): string {
  if (typeof reply === "string") return `${quote(reply)}\n`;
  if (typeof reply === "number" || typeof reply === "bigint") return `(integer) ${reply}\n`;
  // RESP2 has two nulls, `$-1` and `*-1`; redis-cli prints both as (nil).
  if (reply === null || reply instanceof NullArray) return "(nil)\n";
  if (reply instanceof SimpleString) return `${reply.value}\n`;
  if (reply instanceof ErrorReply) return `(error) ${reply.message}\n`;
  if (reply.length === 0) return "(empty array)\n";

  const width = String(reply.length).length;
  const inner = prefix + " ".repeat(width + 2);
  let out = "";
  for (let i = 0; i < reply.length; i++) {
    const number = String(i + 1).padStart(width);
    out += `${i === 0 ? "" : prefix}${number}) ${formatNested(reply[i], inner)}`;
  }
  return out;
}

/**
 * Formats a reply as `redis-cli --raw` prints it: bare values, array items one per line.
 *
 * Nothing is quoted or escaped, so the result holds the value's exact bytes. A null prints as an
 * empty line, and an error ends with an extra `\n` (a quirk of `redis-cli` kept here so that scripts
 * see the same output).
 *
 * @param reply Any RESP2 reply; strings are byte strings.
 * @returns A byte string ending in `\n`; write it with `byteStringToBytes`, not as UTF-8 text.
 * @example
 * ```ts
 * formatRaw(["a", 1, null]); // "a\n1\n\n"
 * formatRaw(new SimpleString("OK")); // "OK\n"
 * ```
 */
export function formatRaw(reply: Reply): string {
  return `${formatRawValue(reply)}\n`;
}

/** One reply without the line ending that {@link formatRaw} adds once per command. */
function formatRawValue(reply: Reply): string {
  if (typeof reply === "string") return reply;
  if (typeof reply === "number" || typeof reply === "bigint") return String(reply);
  if (reply === null || reply instanceof NullArray) return "";
  if (reply instanceof SimpleString) return reply.value;
  if (reply instanceof ErrorReply) return `${reply.message}\n`;
  // Nested arrays are flattened: every item at any depth gets its own line.
  return reply.map(formatRawValue).join("\n");
}
