/**
 * Lab 2's remaining everyday string commands: INCRBYFLOAT, SETRANGE, GETRANGE (and its old name
 * SUBSTR), MSETNX. Ready-made, like `keyspace_commands.ts`: each is a read, some arithmetic on
 * byte strings, and a write, with no `await` in between, so each is atomic.
 *
 * A value is a byte string: one JavaScript character per byte (see `shared/resp/bytes.ts`), so a
 * byte offset is a string index and `"\0"` is a zero byte.
 *
 * @module
 */

import { err, type ErrorReply, type Reply } from "../../shared/resp/reply.ts";
import { type CommandSpec, wrongArity } from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";
import { parseInt64 } from "./integers.ts";
import {
  addLongDouble,
  formatLongDouble,
  type LongDouble,
  parseLongDouble,
} from "./long_double.ts";

const NOT_AN_INTEGER = err("value is not an integer or out of range");
const NOT_A_FLOAT = err("value is not a valid float");
const NAN_OR_INFINITY = err("increment would produce NaN or Infinity");
const TOO_LONG = err("string exceeds maximum allowed size (proto-max-bulk-len)");
const ZERO: LongDouble = { negative: false, mantissa: 0n, exponent: 0 };
const ONE_KEY = { first: 1, last: 1, step: 1 } as const;
const KEY = { name: "key", type: "key" } as const;

/** Parses a 64-bit integer argument as a `number` (offsets past 2^53 are refused anyway). */
function int64(text: string): number | ErrorReply {
  const n = parseInt64(text);
  return n === null ? NOT_AN_INTEGER : Number(n);
}

/**
 * `INCRBYFLOAT key increment`: the value (a missing key is 0) plus the increment, both read as
 * C's `long double`, stored and returned as Redis prints it (see `long_double.ts` for why that
 * takes a 64-bit mantissa). Like INCR it keeps the key's TTL in lab 4; lab 4's log records the
 * result, `SET key <result> KEEPTTL`, not the addition, as Redis's AOF does, so a replay never
 * depends on floating point.
 */
function incrbyfloat({ db }: Session, args: string[]): Reply {
  const [, key, increment] = args;
  const current = db.get(key);
  const value = current === undefined ? ZERO : parseLongDouble(current);
  const delta = parseLongDouble(increment);
  // The current value is checked first: a bad one is reported even if the increment is bad too.
  if (value === null || delta === null) return NOT_A_FLOAT;
  if (typeof value === "string" || typeof delta === "string") return NAN_OR_INFINITY;
  const sum = addLongDouble(value, delta);
  if (sum === null) return NAN_OR_INFINITY;
  const text = formatLongDouble(sum);
  db.update(key, text);
  return text;
}

/**
 * `SETRANGE key offset value`: overwrites the value from `offset` on, padding with zero bytes
 * when it starts past the end; replies with the new length. After Redis's `setrangeCommand()`:
 * an empty value writes nothing (and creates no key), and a result longer than
 * `proto-max-bulk-len` is refused.
 */
function setrange({ db, server }: Session, args: string[]): Reply {
  const [, key, , patch] = args;
  const offset = int64(args[2]);
  if (typeof offset !== "number") return offset;
  if (offset < 0) return err("offset is out of range");
  const old = db.get(key);
  if (patch.length === 0) return old?.length ?? 0;
  if (offset + patch.length > server.limits.maxBulkLength) return TOO_LONG;
  const base = old ?? "";
  // V8's longest string is just under 2^29 characters, a few bytes short of Redis's 512 MiB
  // default: a result that long is refused with the same error rather than crash the handler.
  if (offset + patch.length >= 2 ** 29 - 24) return TOO_LONG;
  const value = base.length >= offset
    ? base.slice(0, offset) + patch + base.slice(offset + patch.length)
    : base + "\0".repeat(offset - base.length) + patch;
  db.update(key, value);
  return value.length;
}

/**
 * `GETRANGE key start end` (inclusive, negative counting from the end) after Redis's
 * `getrangeCommand()`, including its quirk: two negative indexes with start after end give an
 * empty string before anything is clamped.
 */
function getrange({ db }: Session, args: string[]): Reply {
  let start = int64(args[2]);
  if (typeof start !== "number") return start;
  let end = int64(args[3]);
  if (typeof end !== "number") return end;
  const value = db.get(args[1]);
  if (value === undefined) return "";
  const length = value.length;
  if (start < 0 && end < 0 && start > end) return "";
  if (start < 0) start = length + start;
  if (end < 0) end = length + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= length) end = length - 1;
  if (start > end || length === 0) return "";
  return value.slice(start, end + 1);
}

/** `MSETNX key value [key value ...]`: sets every pair only if none of the keys exists. */
function msetnx({ db }: Session, args: string[]): Reply {
  if (args.length % 2 === 0) return wrongArity("msetnx");
  for (let i = 1; i < args.length; i += 2) if (db.has(args[i])) return 0;
  for (let i = 1; i < args.length; i += 2) db.set(args[i], args[i + 1]);
  return 1;
}

const RANGE_ARGUMENTS = [KEY, { name: "start", type: "integer" }, {
  name: "end",
  type: "integer",
}] as const;

/** The string commands of lab 2 beyond the lesson's. */
export const stringCommands: readonly CommandSpec[] = [
  {
    name: "incrbyfloat",
    arity: 3,
    flags: ["write", "denyoom", "fast"],
    group: "string",
    summary: "Increments the floating-point value of a key",
    arguments: [KEY, { name: "increment", type: "double" }],
    keys: ONE_KEY,
    handler: incrbyfloat,
  },
  {
    name: "setrange",
    arity: 4,
    flags: ["write", "denyoom"],
    group: "string",
    summary: "Overwrites part of a value from an offset, padding with zero bytes",
    arguments: [KEY, { name: "offset", type: "integer" }, { name: "value", type: "string" }],
    keys: ONE_KEY,
    handler: setrange,
  },
  {
    name: "getrange",
    arity: 4,
    flags: ["readonly"],
    group: "string",
    summary: "Returns a substring of a value",
    arguments: RANGE_ARGUMENTS,
    keys: ONE_KEY,
    handler: getrange,
  },
  {
    // GETRANGE's name before Redis 2.0, still accepted by Redis 7.
    name: "substr",
    arity: 4,
    flags: ["readonly"],
    group: "string",
    summary: "Returns a substring of a value (GETRANGE's old name)",
    arguments: RANGE_ARGUMENTS,
    keys: ONE_KEY,
    handler: getrange,
  },
  {
    name: "msetnx",
    arity: -3,
    flags: ["write", "denyoom"],
    group: "string",
    summary: "Sets several keys to several values, only if none of them exists",
    arguments: [{
      name: "data",
      type: "block",
      flags: ["multiple"],
      arguments: [KEY, { name: "value", type: "string" }],
    }],
    keys: { first: 1, last: -1, step: 2 },
    handler: msetnx,
  },
];
