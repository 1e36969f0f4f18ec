/**
 * Lab 2's commands for managing keys rather than values: UNLINK, RENAME, RENAMENX, COPY, TOUCH,
 * RANDOMKEY, SCAN and TYPE. They are what GUI browsers, `redis-cli` and client libraries send to look
 * around a keyspace and move things in it, so a server that lacks them breaks tools that never
 * meant to store anything.
 *
 * Each one is a few `Keyspace` calls, run without an `await`, so each is atomic like every other
 * command of this lab: no client sees a `RENAME` half done, with the key under both names or none.
 * The one step `RENAME` and `COPY` share, "write this key's value under another name", is the
 * keyspace's `copy()`, so that lab 4 can make it carry the key's TTL in one place.
 *
 * @module
 */

import { globMatch } from "../../shared/glob.ts";
import { err, ErrorReply, OK, type Reply, SimpleString } from "../../shared/resp/reply.ts";
import type { CommandSpec } from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";
import { databaseAt } from "./databases.ts";
import { parseInt64 } from "./integers.ts";

const NOT_AN_INTEGER = err("value is not an integer or out of range");
const SYNTAX = err("syntax error");
const NO_SUCH_KEY = err("no such key");
const SAME_OBJECT = err("source and destination objects are the same");
const TYPE_STRING = new SimpleString("string");
const TYPE_NONE = new SimpleString("none");

/** The two keys of RENAME and COPY, as `COMMAND INFO` reports them. */
const TWO_KEYS = { first: 1, last: 2, step: 1 } as const;
const ALL_KEYS = { first: 1, last: -1, step: 1 } as const;
const KEY = { name: "key", type: "key" } as const;
const KEYS = { name: "key", type: "key", flags: ["multiple"] } as const;

/**
 * `RENAME key newkey` and `RENAMENX key newkey`, after Redis's `renameGenericCommand()`. A missing
 * source is an error, even when both names are the same; the same name on an existing key does
 * nothing and says so (`OK`, or 0 for RENAMENX). Otherwise the destination is overwritten (RENAME)
 * or left alone (RENAMENX replies 0).
 */
function rename(nx: boolean) {
  return ({ db }: Session, args: string[]): Reply => {
    const [, from, to] = args;
    if (!db.has(from)) return NO_SUCH_KEY;
    if (from === to) return nx ? 0 : OK;
    if (nx && db.has(to)) return 0;
    db.copy(from, to);
    db.delete(from);
    return nx ? 1 : OK;
  };
}

/**
 * `COPY source destination [DB index] [REPLACE]`, after Redis's `copyCommand()`: into the same
 * database, or another one. Options are checked first, then "same key in the same database", then
 * the keys themselves: 1 if copied, 0 if the source is missing or the destination exists without
 * REPLACE.
 */
function copy(session: Session, args: string[]): Reply {
  const { db } = session;
  let target = db;
  let replace = false;
  for (let i = 3; i < args.length; i++) {
    const option = args[i].toLowerCase();
    if (option === "replace") replace = true;
    else if (option === "db" && i + 1 < args.length) {
      const named = databaseAt(session, args[++i]);
      if (named instanceof ErrorReply) return named;
      target = named;
    } else return SYNTAX;
  }
  const [, from, to] = args;
  if (from === to && target === db) return SAME_OBJECT;
  if (!db.has(from)) return 0;
  if (!replace && target.has(to)) return 0;
  db.copy(from, to, target);
  return 1;
}

/**
 * `RANDOMKEY`: a key picked at random, or nil when there are none. Redis's hash table can jump to
 * a random bucket; a `Map` cannot be indexed, so this walks to a random position, which costs time
 * in proportion to the keyspace. Acceptable for a command people type to peek at a keyspace, not
 * for one to call in a loop (Redis's own docs steer loops to SCAN). Lab 4's keyspace skips expired
 * keys while iterating, so the walk can come up short: then the last live key seen is the answer.
 */
function randomKey({ db }: Session): Reply {
  if (db.size === 0) return null;
  let target = Math.floor(Math.random() * db.size);
  let last: string | null = null;
  for (const key of db.keys()) {
    last = key;
    if (target-- === 0) break;
  }
  return last;
}

/** The largest cursor C's `strtoul()` accepts, 2^64 - 1. */
const CURSOR_MAX = 2n ** 64n - 1n;

/**
 * Parses a SCAN cursor as Redis's `parseScanCursorOrReply()`: C's `strtoul()` over the whole
 * argument. Like `strtoul()`, it takes a sign (a negative number wraps around to a huge one) and an
 * empty string (as 0). Past 2^64 - 1 or with other bytes it is an invalid cursor.
 */
function parseCursor(text: string): bigint | ErrorReply {
  const match = /^([+-]?)(\d*)$/.exec(text);
  if (match === null || (match[2] === "" && match[1] !== "")) return err("invalid cursor");
  const value = BigInt(match[2] || "0");
  if (value > CURSOR_MAX) return err("invalid cursor");
  return match[1] === "-" && value !== 0n ? CURSOR_MAX + 1n - value : value;
}

/**
 * `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, after Redis's `scanGenericCommand()`:
 * options in any order (the last of each wins), COUNT at least 1 (default 10), then the keys
 * visited are filtered by MATCH and TYPE, so a step may return fewer keys than COUNT, even none,
 * before the scan is over. The reply is the next cursor, as a bulk string, and the keys.
 */
function scan({ db }: Session, args: string[]): Reply {
  const cursor = parseCursor(args[1]);
  if (typeof cursor !== "bigint") return cursor;
  let count = 10;
  let pattern: string | null = null;
  let type: string | null = null;
  for (let i = 2; i < args.length; i += 2) {
    const option = args[i].toLowerCase();
    if (i + 1 >= args.length) return SYNTAX;
    if (option === "count") {
      const n = parseInt64(args[i + 1]);
      if (n === null) return NOT_AN_INTEGER;
      if (n < 1) return SYNTAX;
      count = Number(n);
    } else if (option === "match") {
      pattern = args[i + 1] === "*" ? null : args[i + 1];
    } else if (option === "type") {
      type = args[i + 1].toLowerCase();
    } else return SYNTAX;
  }
  const step = db.scan(cursor, Math.min(count, 1_000_000));
  const keys = step.keys.filter((key) =>
    (pattern === null || globMatch(pattern, key)) && (type === null || type === "string")
  );
  return [String(step.cursor), keys];
}

/** The keyspace commands of lab 2. */
export const keyspaceCommands: readonly CommandSpec[] = [
  {
    name: "unlink",
    arity: -2,
    flags: ["write", "fast"],
    group: "generic",
    summary: "Deletes keys; in Redis the memory is freed in the background, here at once like DEL",
    arguments: [KEYS],
    keys: ALL_KEYS,
    // Redis frees a big value on another thread; a string here is freed by the garbage collector
    // whenever it likes, so UNLINK is DEL, reply included.
    handler: ({ db }, args) => {
      let removed = 0;
      for (let i = 1; i < args.length; i++) if (db.delete(args[i])) removed++;
      return removed;
    },
  },
  {
    name: "rename",
    arity: 3,
    flags: ["write"],
    group: "generic",
    summary: "Renames a key, overwriting the new name if it exists",
    arguments: [KEY, { name: "newkey", type: "key" }],
    keys: TWO_KEYS,
    handler: rename(false),
  },
  {
    name: "renamenx",
    arity: 3,
    flags: ["write", "fast"],
    group: "generic",
    summary: "Renames a key only if the new name does not exist",
    arguments: [KEY, { name: "newkey", type: "key" }],
    keys: TWO_KEYS,
    handler: rename(true),
  },
  {
    name: "copy",
    arity: -3,
    flags: ["write", "denyoom"],
    group: "generic",
    summary: "Copies a key's value to another key",
    arguments: [
      { name: "source", type: "key" },
      { name: "destination", type: "key" },
      { name: "destination-db", type: "integer", token: "DB", flags: ["optional"] },
      { name: "replace", type: "pure-token", token: "REPLACE", flags: ["optional"] },
    ],
    keys: TWO_KEYS,
    handler: copy,
  },
  {
    name: "touch",
    arity: -2,
    flags: ["readonly", "fast"],
    group: "generic",
    summary: "Counts the given keys that exist, marking them as just used",
    arguments: [KEYS],
    keys: ALL_KEYS,
    // Looking a key up is what "touching" means: lab 4's LRU order moves it to the end.
    handler: ({ db }, args) => {
      let found = 0;
      for (let i = 1; i < args.length; i++) if (db.has(args[i])) found++;
      return found;
    },
  },
  {
    name: "randomkey",
    arity: 1,
    flags: ["readonly"],
    group: "generic",
    summary: "Returns a random key",
    handler: randomKey,
  },
  {
    name: "scan",
    arity: -2,
    flags: ["readonly"],
    group: "generic",
    summary: "Iterates over the keys a few at a time, with a cursor",
    arguments: [
      { name: "cursor", type: "integer" },
      { name: "pattern", type: "pattern", token: "MATCH", flags: ["optional"] },
      { name: "count", type: "integer", token: "COUNT", flags: ["optional"] },
      { name: "type", type: "string", token: "TYPE", flags: ["optional"] },
    ],
    handler: scan,
  },
  {
    name: "type",
    arity: 2,
    flags: ["readonly", "fast"],
    group: "generic",
    summary: "Returns the type of a key's value: string, or none",
    arguments: [KEY],
    keys: { first: 1, last: 1, step: 1 },
    // Every value here is a string; Redis would also say list, set, zset, hash or stream.
    handler: ({ db }, args) => db.has(args[1]) ? TYPE_STRING : TYPE_NONE,
  },
];
