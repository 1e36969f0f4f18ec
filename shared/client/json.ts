/**
 * Replies as JSON, one object per command, for scripts and tests that would rather parse than
 * read: `{"command":["SET","a","b"],"response":"OK"}`.
 *
 * JSON has no bytes, so bulk strings are decoded as UTF-8 text (bytes that are not valid UTF-8
 * become U+FFFD; use `--raw` when the exact bytes matter). Integers become numbers, both nulls
 * become `null`, arrays become arrays, and an error becomes an `"error"` field instead of
 * `"response"`, so a script can tell them apart without parsing the message.
 *
 * @module
 */

import { byteStringToUtf8 } from "../resp/bytes.ts";
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

/** A byte string as a JSON string literal. */
function jsonText(value: string): string {
  return JSON.stringify(byteStringToUtf8(value));
}

/** One reply as JSON text. Built by hand because `JSON.stringify` refuses `bigint`. */
function jsonValue(reply: Reply): string {
  if (typeof reply === "string") return jsonText(reply);
  // A JSON number may have any number of digits, so a 64-bit integer keeps its exact value.
  if (typeof reply === "number" || typeof reply === "bigint") return String(reply);
  if (reply === null || reply instanceof NullArray) return "null";
  if (reply instanceof SimpleString) return jsonText(reply.value);
  // An error inside an array (a failed command in EXEC) cannot use the top-level "error" field.
  if (reply instanceof ErrorReply) return `{"error":${jsonText(reply.message)}}`;
  if (typeof reply === "boolean") return String(reply);
  // JSON has no infinity and no NaN: those go as the strings the server sent.
  if (reply instanceof DoubleReply) {
    return Number.isFinite(reply.value) ? String(reply.value) : jsonText(String(reply.value));
  }
  if (reply instanceof BigNumberReply) return String(reply.value);
  if (reply instanceof VerbatimString) return jsonText(reply.text);
  // A RESP3 map becomes an object; its keys are strings in every reply Redis sends.
  if (reply instanceof MapReply) {
    const pairs = reply.entries.map(([k, v]) => `${jsonText(mapKey(k))}:${jsonValue(v)}`);
    return `{${pairs.join(",")}}`;
  }
  const items = reply instanceof SetReply || reply instanceof PushReply ? reply.items : reply;
  return `[${items.map(jsonValue).join(",")}]`;
}

/** A map's key as an object key: its text, or its JSON for a key that is not a string. */
function mapKey(key: Reply): string {
  if (typeof key === "string") return key;
  return key instanceof SimpleString ? key.value : jsonValue(key);
}

/**
 * Formats one command and its reply as a line of JSON.
 *
 * @param command The command as it was sent: byte strings, decoded here as UTF-8.
 * @param reply The server's reply.
 * @returns One JSON object, without a line ending.
 * @example
 * ```ts
 * formatJson(["INCR", "n"], 3);                       // '{"command":["INCR","n"],"response":3}'
 * formatJson(["FOO"], new ErrorReply("ERR unknown")); // '{"command":["FOO"],"error":"ERR unknown"}'
 * ```
 */
export function formatJson(command: readonly string[], reply: Reply): string {
  const sent = `[${command.map(jsonText).join(",")}]`;
  return reply instanceof ErrorReply
    ? `{"command":${sent},"error":${jsonText(reply.message)}}`
    : `{"command":${sent},"response":${jsonValue(reply)}}`;
}
