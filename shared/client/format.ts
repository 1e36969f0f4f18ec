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

import { formatDouble } from "../resp/encoder.ts";
import {
  BigNumberReply,
  DoubleReply,
  ErrorReply,
  MapReply,
  NullArray,
  PushReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "../resp/reply.ts";

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
 * @param reply Any reply, RESP2 or RESP3; strings are byte strings.
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
  // RESP2 has two nulls, `$-1` and `*-1`, RESP3 one, `_`; redis-cli prints all as (nil).
  if (reply === null || reply instanceof NullArray) return "(nil)\n";
  if (reply instanceof SimpleString) return `${reply.value}\n`;
  if (reply instanceof ErrorReply) return `(error) ${reply.message}\n`;
  if (typeof reply === "boolean") return reply ? "(true)\n" : "(false)\n";
  if (reply instanceof DoubleReply) return `(double) ${formatDouble(reply.value)}\n`;
  if (reply instanceof BigNumberReply) return `(big number) ${reply.value}\n`;
  // Text meant to be shown as it is: INFO, CLIENT LIST.
  if (reply instanceof VerbatimString) return `${reply.text}\n`;
  if (reply instanceof MapReply) return formatItems(reply.entries, "#", "(empty hash)", prefix);
  if (reply instanceof SetReply) return formatItems(reply.items, "~", "(empty set)", prefix);
  if (reply instanceof PushReply) return formatItems(reply.items, ")", "(empty push)", prefix);
  return formatItems(reply, ")", "(empty array)", prefix);
}

/**
 * The items of an aggregate, numbered: `1) ` for arrays, `1~ ` for sets, `1# key => value` for a
 * map's pairs, as `redis-cli` 7 numbers them.
 */
function formatItems(
  items: readonly (Reply | readonly [Reply, Reply])[],
  mark: string,
  empty: string,
  prefix: string,
): string {
  if (items.length === 0) return `${empty}\n`;
  const width = String(items.length).length;
  const inner = prefix + " ".repeat(width + 2);
  let out = "";
  for (let i = 0; i < items.length; i++) {
    const number = String(i + 1).padStart(width);
    out += `${i === 0 ? "" : prefix}${number}${mark} `;
    const item = items[i];
    if (mark === "#") {
      const [key, value] = item as readonly [Reply, Reply];
      // A value of several lines starts on a line of its own, lined up under the key.
      const linebreak = isMultiline(value) ? `\n${inner}` : "";
      out += `${formatNested(key, inner).slice(0, -1)} => ${linebreak}${
        formatNested(value, inner)
      }`;
    } else {
      out += formatNested(item as Reply, inner);
    }
  }
  return out;
}

/** Whether a reply takes more than one line at a terminal (`cliIsMultilineValueTTY`). */
function isMultiline(reply: Reply): boolean {
  if (reply instanceof MapReply) {
    if (reply.entries.length === 0) return false;
    return reply.entries.length > 1 || isMultiline(reply.entries[0][1]);
  }
  const items = reply instanceof SetReply || reply instanceof PushReply
    ? reply.items
    : Array.isArray(reply)
    ? reply
    : null;
  if (items === null || items.length === 0) return false;
  return items.length > 1 || isMultiline(items[0]);
}

/**
 * Formats a reply as `redis-cli --raw` prints it: bare values, array items one per line.
 *
 * Nothing is quoted or escaped, so the result holds the value's exact bytes. A null prints as an
 * empty line, and an error ends with an extra `\n` (a quirk of `redis-cli` kept here so that scripts
 * see the same output).
 *
 * @param reply Any reply, RESP2 or RESP3; strings are byte strings.
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

/**
 * One reply as {@link formatRaw} prints it, without the line ending it adds once per command:
 * how `redis-cli` prints the text of `INFO` and `CLIENT LIST` in every style.
 *
 * @param reply Any reply.
 * @returns A byte string.
 */
export function formatRawValue(reply: Reply): string {
  if (typeof reply === "string") return reply;
  if (typeof reply === "number" || typeof reply === "bigint") return String(reply);
  if (reply === null || reply instanceof NullArray) return "";
  if (reply instanceof SimpleString) return reply.value;
  if (reply instanceof ErrorReply) return `${reply.message}\n`;
  if (typeof reply === "boolean") return reply ? "(true)" : "(false)";
  if (reply instanceof DoubleReply) return formatDouble(reply.value);
  if (reply instanceof BigNumberReply) return String(reply.value);
  if (reply instanceof VerbatimString) return reply.text;
  // A map's pair shares a line: `key value`.
  if (reply instanceof MapReply) {
    return reply.entries.map(([k, v]) => `${formatRawValue(k)} ${formatRawValue(v)}`).join("\n");
  }
  const items = reply instanceof SetReply || reply instanceof PushReply ? reply.items : reply;
  // Nested arrays are flattened: every item at any depth gets its own line.
  return items.map(formatRawValue).join("\n");
}
