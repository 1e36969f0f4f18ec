/**
 * Lab 2's string and keyspace commands: counters, APPEND, STRLEN, MSET/MGET, SETNX, SET with
 * NX/XX/GET, GETSET, GETDEL, KEYS, DBSIZE, FLUSHDB/FLUSHALL, and the classic socket-programming
 * assignment's
 * `PUT key = value` and `DUMP`.
 *
 * Every handler here runs from start to finish without an `await`. On Deno's single-threaded event
 * loop that makes each command atomic: no other client's command can run between `INCR`'s read and
 * its write. That is why fifty clients hammering one counter never lose an update here — and why a
 * handler that *did* await between the read and the write would (see `race/lost_update.ts`).
 *
 * @module
 */

import { globMatch } from "../../shared/glob.ts";
import { err, ErrorReply, OK, type Reply } from "../../shared/resp/reply.ts";
import { type CommandSpec, wrongArity } from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";
import { addInt64, INT64_MIN, parseInt64 } from "./integers.ts";

const NOT_AN_INTEGER = err("value is not an integer or out of range");
const OVERFLOW = err("increment or decrement would overflow");
const SYNTAX = err("syntax error");
/** Redis's reply when APPEND (or SETRANGE) would make a value longer than `proto-max-bulk-len`. */
const STRING_TOO_LONG = err("string exceeds maximum allowed size (proto-max-bulk-len)");

/**
 * The shared body of INCR, DECR, INCRBY and DECRBY: read the counter (a missing key is 0), add,
 * store the decimal string back.
 */
// exercise step 3: read the counter (missing is 0), add with 64-bit overflow checks, store it back
function incrementBy({ db }: Session, key: string, delta: number | bigint): Reply {
  const current = db.get(key);
  const value = current === undefined ? 0 : parseInt64(current);
  if (value === null) return NOT_AN_INTEGER;
  const sum = addInt64(value, delta);
  if (sum === null) return OVERFLOW;
  db.update(key, String(sum));
  return sum;
}

/** Parses an increment argument, or returns Redis's error for it. */
function increment(text: string): number | bigint | ErrorReply {
  return parseInt64(text) ?? NOT_AN_INTEGER;
}

/**
 * `SET key value [NX | XX] [GET]`. Redis 7 allows NX together with GET (it did not before 7.0);
 * NX with XX is a syntax error, and so is any option this lab does not know yet (EX, PX, KEEPTTL
 * arrive with expiry in lab 4).
 */
// exercise step 4: SET with NX, XX and GET
function set({ db }: Session, args: string[]): Reply {
  // The common case, a plain `SET key value`, needs no old value: store and answer, rather than
  // look the key up twice. A small saving (a few percent of a SET's JavaScript, near the noise of
  // bench/server_path_bench.ts), but SET is half of every benchmark.
  if (args.length === 3) {
    db.set(args[1], args[2]);
    return OK;
  }
  let nx = false;
  let xx = false;
  let get = false;
  for (let i = 3; i < args.length; i++) {
    const option = args[i].toLowerCase();
    if (option === "nx" && !xx) nx = true;
    else if (option === "xx" && !nx) xx = true;
    else if (option === "get") get = true;
    else return SYNTAX;
  }
  const [, key, value] = args;
  const old = db.get(key);
  // With GET the reply is the old value whether or not the condition let the write happen.
  const reply: Reply = get ? old ?? null : OK;
  if ((nx && old !== undefined) || (xx && old === undefined)) return get ? reply : null;
  db.set(key, value);
  return reply;
}

/**
 * `DUMP`: with no key, the socket-programming assignment's listing of every key and value; with a
 * key, see below.
 */
// exercise step 5: with no key, list every key and value as one flat array
function dump({ db }: Session, args: string[]): Reply {
  if (args.length > 2) return wrongArity("dump");
  if (args.length === 2) {
    // Redis's `DUMP key` returns the value serialized in RDB format, for `RESTORE`. This server
    // has no RDB encoder, so rather than return something that is not an RDB payload it says so.
    // A missing key is `$-1` in Redis too, so that case matches exactly.
    if (!db.has(args[1])) return null;
    return err("DUMP of a single key is not supported: no RDB serialization (use GET)");
  }
  const flat: string[] = [];
  for (const key of db.keys()) flat.push(key, db.get(key) ?? "");
  return flat;
}

/** `FLUSHDB` and `FLUSHALL` take an optional ASYNC or SYNC; emptying a Map is instant either way. */
function flushdb({ db }: Session, args: string[]): Reply {
  if (args.length > 2) return SYNTAX;
  if (args.length === 2) {
    const mode = args[1].toLowerCase();
    if (mode !== "async" && mode !== "sync") return SYNTAX;
  }
  db.clear();
  return OK;
}

const ONE_KEY = { first: 1, last: 1, step: 1 } as const;

/** The commands of lab 2 that are not about transactions. */
export const lab2Commands: readonly CommandSpec[] = [
  {
    name: "incr",
    arity: 2,
    flags: ["write", "fast"],
    group: "string",
    summary: "Increments the integer value of a key by one",
    keys: ONE_KEY,
    handler: (session, args) => incrementBy(session, args[1], 1),
  },
  {
    name: "decr",
    arity: 2,
    flags: ["write", "fast"],
    group: "string",
    summary: "Decrements the integer value of a key by one",
    keys: ONE_KEY,
    handler: (session, args) => incrementBy(session, args[1], -1),
  },
  {
    name: "incrby",
    arity: 3,
    flags: ["write", "fast"],
    group: "string",
    summary: "Increments the integer value of a key by a number",
    keys: ONE_KEY,
    handler: (session, args) => {
      const delta = increment(args[2]);
      return delta instanceof ErrorReply ? delta : incrementBy(session, args[1], delta);
    },
  },
  {
    name: "decrby",
    arity: 3,
    flags: ["write", "fast"],
    group: "string",
    summary: "Decrements the integer value of a key by a number",
    keys: ONE_KEY,
    handler: (session, args) => {
      const delta = increment(args[2]);
      if (delta instanceof ErrorReply) return delta;
      // -(-2^63) does not fit in 64 bits; Redis 7 refuses it with its own message.
      if (delta === INT64_MIN) return err("decrement would overflow");
      return incrementBy(session, args[1], -delta);
    },
  },
  {
    name: "append",
    arity: 3,
    flags: ["write"],
    group: "string",
    summary: "Appends a string to the value of a key, creating it if needed",
    keys: ONE_KEY,
    // exercise step 4: append to the value (a missing key is empty) and reply with the new length
    handler: ({ db, server }, args) => {
      const old = db.get(args[1]) ?? "";
      // Each part fits the bulk string limit, but together they may not; Redis refuses such a
      // value rather than store one no client could send it back (checkStringLength()).
      if (old.length + args[2].length > server.limits.maxBulkLength) return STRING_TOO_LONG;
      const value = old + args[2];
      db.update(args[1], value);
      return value.length;
    },
  },
  {
    name: "strlen",
    arity: 2,
    flags: ["readonly", "fast"],
    group: "string",
    summary: "Returns the length of a value in bytes",
    keys: ONE_KEY,
    // A byte string has one character per byte, so its length is its size in bytes.
    // exercise step 4: reply with the length of the value, 0 for a missing key
    handler: ({ db }, args) => db.get(args[1])?.length ?? 0,
  },
  {
    name: "mset",
    arity: -3,
    flags: ["write"],
    group: "string",
    summary: "Sets several keys to several values",
    keys: { first: 1, last: -1, step: 2 },
    // exercise step 4: set every key-value pair and reply OK
    handler: ({ db }, args) => {
      // Keys and values come in pairs; an odd count is Redis's arity error, not a syntax error.
      if (args.length % 2 === 0) return wrongArity("mset");
      for (let i = 1; i < args.length; i += 2) db.set(args[i], args[i + 1]);
      return OK;
    },
  },
  {
    name: "mget",
    arity: -2,
    flags: ["readonly", "fast"],
    group: "string",
    summary: "Returns the values of several keys",
    keys: { first: 1, last: -1, step: 1 },
    // exercise step 4: reply with an array of values, null for missing keys
    handler: ({ db }, args) => args.slice(1).map((key) => db.get(key) ?? null),
  },
  {
    name: "set",
    arity: -3,
    flags: ["write"],
    group: "string",
    summary: "Sets the value of a key; NX only if absent, XX only if present, GET the old one",
    keys: ONE_KEY,
    handler: set,
  },
  {
    name: "setnx",
    arity: 3,
    flags: ["write", "fast"],
    group: "string",
    summary: "Sets a key only if it does not exist",
    keys: ONE_KEY,
    // exercise step 4: set the key only if it is missing; reply 1 if set, 0 if not
    handler: ({ db }, args) => {
      if (db.has(args[1])) return 0;
      db.set(args[1], args[2]);
      return 1;
    },
  },
  {
    name: "getset",
    arity: 3,
    flags: ["write", "fast"],
    group: "string",
    summary: "Sets a key and returns its old value",
    keys: ONE_KEY,
    // exercise step 4: set the new value and reply with the old one
    handler: ({ db }, args) => {
      const old = db.get(args[1]) ?? null;
      db.set(args[1], args[2]);
      return old;
    },
  },
  {
    name: "getdel",
    arity: 2,
    flags: ["write", "fast"],
    group: "string",
    summary: "Returns the value of a key and deletes it",
    keys: ONE_KEY,
    // exercise step 4: reply with the value and delete the key
    handler: ({ db }, args) => {
      const old = db.get(args[1]);
      if (old === undefined) return null;
      db.delete(args[1]);
      return old;
    },
  },
  {
    name: "keys",
    arity: 2,
    flags: ["readonly"],
    group: "generic",
    summary: "Returns every key matching a glob-style pattern",
    // Like Redis, this walks every key: fine for a lesson, slow on a big production keyspace.
    // exercise step 4: reply with every key that matches the glob pattern
    handler: ({ db }, args) => {
      const pattern = args[1];
      const found: string[] = [];
      for (const key of db.keys()) {
        if (pattern === "*" || globMatch(pattern, key)) found.push(key);
      }
      return found;
    },
  },
  {
    name: "dbsize",
    arity: 1,
    flags: ["readonly", "fast"],
    group: "server",
    summary: "Returns the number of keys",
    handler: ({ db }) => db.size,
  },
  {
    name: "flushdb",
    arity: -1,
    flags: ["write"],
    group: "server",
    summary: "Removes every key of the database",
    handler: flushdb,
  },
  {
    // The socket-programming assignment's syntax. Exactly `PUT key = value`: four words, the
    // third an equals sign.
    name: "put",
    arity: -1,
    flags: ["write"],
    group: "string",
    summary: "Sets a key: PUT key = value (a socket-programming assignment's syntax for SET)",
    keys: ONE_KEY,
    // exercise step 5: PUT key = value stores the value, like SET
    handler: ({ db }, args) => {
      if (args.length !== 4 || args[2] !== "=") return SYNTAX;
      db.set(args[1], args[3]);
      return OK;
    },
  },
  {
    name: "dump",
    arity: -1,
    flags: ["readonly"],
    group: "generic",
    summary: "With no key, lists every key and value (a socket-programming assignment's DUMP); " +
      "with a key, see Redis",
    handler: dump,
  },
];
