/**
 * Lab 4's expiry commands: SET with EX/PX/EXAT/PXAT/KEEPTTL, SETEX, PSETEX, GETEX, EXPIRE,
 * PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
 *
 * A TTL is stored as an absolute time, milliseconds since the epoch on the keyspace's clock:
 * `EXPIRE key 10` stores `now + 10000`. Then "has it expired?" is one comparison, `TTL` is one
 * subtraction, and a restart or an append-only log replayed tomorrow still means the same moment.
 *
 * Redis's arguments are signed 64-bit integers, and its checks for overflow are part of its
 * interface (`-ERR invalid expire time in 'set' command`). A JavaScript number is exact only up to
 * 2^53, so the checks below are done in `bigint`, exactly as Redis's C does them. The time that is
 * finally stored is a number: past 2^53 ms (the year 287,396) it is rounded to the nearest one
 * a double can hold, a simplification no client will meet.
 *
 * @module
 */

import { cString, err, type ErrorReply, OK, type Reply } from "../../shared/resp/reply.ts";
import type { ArgumentDoc, CommandSpec } from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";
import { INT64_MAX, INT64_MIN, parseInt64 } from "../02-threaded/integers.ts";
import type { ExpiringKeyspace } from "./keyspace.ts";

const SYNTAX = err("syntax error");
const NOT_AN_INTEGER = err("value is not an integer or out of range");

/** `-ERR invalid expire time in 'set' command`, naming the command as Redis's `fullname`. */
function invalidExpireTime(command: string): ErrorReply {
  return err(`invalid expire time in '${command}' command`);
}

/** How an expiry argument is meant: relative or absolute, seconds or milliseconds. */
export type ExpireUnit = "ex" | "px" | "exat" | "pxat";

/**
 * Turns `SET`'s, `SETEX`'s or `GETEX`'s expiry argument into an absolute time in milliseconds,
 * as Redis's `getExpireMillisecondsOrReply()`: not an integer is one error; zero, negative, or
 * overflowing 64 bits once converted is another.
 *
 * @param text The argument.
 * @param unit Which option it followed.
 * @param now The clock's time.
 * @param command The command's name for the error.
 * @returns Milliseconds since the epoch, or the error reply.
 */
export function expireMilliseconds(
  text: string,
  unit: ExpireUnit,
  now: number,
  command: string,
): number | ErrorReply {
  const parsed = parseInt64(text);
  if (parsed === null) return NOT_AN_INTEGER;
  let ms = BigInt(parsed);
  const seconds = unit === "ex" || unit === "exat";
  if (ms <= 0n || (seconds && ms > INT64_MAX / 1000n)) return invalidExpireTime(command);
  if (seconds) ms *= 1000n;
  if (unit === "ex" || unit === "px") ms += BigInt(now);
  // In C the addition wraps around to a negative number; here it just grows past the limit.
  if (ms > INT64_MAX) return invalidExpireTime(command);
  return Number(ms);
}

/** What `SET`'s options asked for, once parsed. */
interface SetOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  /** The expiry option and its argument, if any. */
  expire: { unit: ExpireUnit; text: string } | null;
}

/**
 * Parses `SET`'s options as Redis's `parseExtendedStringArgumentsOrReply()` does: any order, NX
 * with XX or KEEPTTL with an expiry is a syntax error, and so is an expiry option with no argument.
 * Repeating the same expiry option is allowed, and the last one wins (Redis checks only for the
 * *other* expiry options).
 */
function parseSetOptions(args: string[]): SetOptions | ErrorReply {
  const o: SetOptions = { nx: false, xx: false, get: false, keepTtl: false, expire: null };
  for (let i = 3; i < args.length; i++) {
    const option = args[i].toLowerCase();
    const hasNext = i + 1 < args.length;
    const other = (unit: ExpireUnit) => o.expire !== null && o.expire.unit !== unit;
    if (option === "nx" && !o.xx) o.nx = true;
    else if (option === "xx" && !o.nx) o.xx = true;
    else if (option === "get") o.get = true;
    else if (option === "keepttl" && o.expire === null) o.keepTtl = true;
    else if (
      (option === "ex" || option === "px" || option === "exat" || option === "pxat") &&
      !o.keepTtl && !other(option) && hasNext
    ) {
      o.expire = { unit: option, text: args[++i] };
    } else return SYNTAX;
  }
  return o;
}

/**
 * `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT unix-s | PXAT unix-ms | KEEPTTL]`: lab 2's
 * SET, plus expiry. A plain SET removes a key's TTL; KEEPTTL keeps it; an expiry option sets a new
 * one in the same write. The expiry argument is checked before anything else happens, then GET
 * reads the old value, then NX or XX decides whether the write happens.
 */
// exercise step 2: SET with NX/XX/GET and EX/PX/EXAT/PXAT/KEEPTTL
function set(db: ExpiringKeyspace, args: string[]): Reply {
  // The common case, a plain `SET key value`, as in lab 2: no options to parse, no old value to
  // read. A key whose time has passed is still expired first, as Redis's setKey() does through
  // lookupKeyWrite(): INFO counts it, and the log gets its DEL.
  if (args.length === 3) {
    db.expireIfNeeded(args[1]);
    db.set(args[1], args[2]);
    return OK;
  }
  const options = parseSetOptions(args);
  if (!("nx" in options)) return options;
  let at: number | null = null;
  if (options.expire !== null) {
    const ms = expireMilliseconds(options.expire.text, options.expire.unit, db.clock.now(), "set");
    if (typeof ms !== "number") return ms;
    at = ms;
  }
  const [, key, value] = args;
  // The lookup also expires the key if its time has passed: an expired key counts as missing.
  const old = db.get(key);
  const reply: Reply = options.get ? old ?? null : OK;
  if ((options.nx && old !== undefined) || (options.xx && old === undefined)) {
    return options.get ? reply : null;
  }
  if (options.keepTtl) db.update(key, value);
  else db.set(key, value, at);
  return reply;
}

/**
 * The expiring keyspace a command acts on: its client's database, as the expiry stage made it
 * (`session.db` is the same object, typed as the plain keyspace lab 2's commands need).
 */
type DatabaseOf = (session: Session) => ExpiringKeyspace;

/** `SETEX key seconds value` and `PSETEX key milliseconds value`: SET with EX or PX, shorter. */
function setWithExpiry(databaseOf: DatabaseOf, unit: "ex" | "px", name: string) {
  return (session: Session, args: string[]): Reply => {
    const db = databaseOf(session);
    const at = expireMilliseconds(args[2], unit, db.clock.now(), name);
    if (typeof at !== "number") return at;
    db.set(args[1], args[3], at);
    return OK;
  };
}

/**
 * `GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]`: GET that also changes the
 * TTL. Unlike SET, a missing key replies nil before the expiry argument is even checked.
 */
// exercise step 3: GETEX: return the value and change or remove its expiry
function getex(db: ExpiringKeyspace, args: string[]): Reply {
  let persist = false;
  let expire: { unit: ExpireUnit; text: string } | null = null;
  for (let i = 2; i < args.length; i++) {
    const option = args[i].toLowerCase();
    const other = (unit: ExpireUnit) => expire !== null && expire.unit !== unit;
    if (option === "persist" && expire === null) persist = true;
    else if (
      (option === "ex" || option === "px" || option === "exat" || option === "pxat") &&
      !persist && !other(option) && i + 1 < args.length
    ) {
      expire = { unit: option, text: args[++i] };
    } else return SYNTAX;
  }
  const value = db.get(args[1]);
  if (value === undefined) return null;
  if (expire !== null) {
    const at = expireMilliseconds(expire.text, expire.unit, db.clock.now(), "getex");
    if (typeof at !== "number") return at;
    // A time already past deletes the key, after its value has been read for the reply.
    db.setExpiresAt(args[1], at);
  } else if (persist) {
    db.persist(args[1]);
  }
  return value;
}

/** EXPIRE's conditions. */
interface ExpireConditions {
  nx: boolean;
  xx: boolean;
  gt: boolean;
  lt: boolean;
}

/** Parses EXPIRE's NX/XX/GT/LT with Redis's three error messages. */
function parseExpireConditions(args: string[]): ExpireConditions | ErrorReply {
  const c: ExpireConditions = { nx: false, xx: false, gt: false, lt: false };
  for (let i = 3; i < args.length; i++) {
    const option = args[i].toLowerCase();
    if (option === "nx" || option === "xx" || option === "gt" || option === "lt") c[option] = true;
    else return err(`Unsupported option ${cString(args[i])}`);
  }
  if (c.nx && (c.xx || c.gt || c.lt)) {
    return err("NX and XX, GT or LT options at the same time are not compatible");
  }
  if (c.gt && c.lt) return err("GT and LT options at the same time are not compatible");
  return c;
}

/**
 * The shared body of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT, after Redis's
 * `expireGenericCommand()`. Unlike SET, a negative or zero time is allowed: it deletes the key.
 *
 * @param seconds Whether the argument is in seconds.
 * @param relative Whether it counts from now (EXPIRE, PEXPIRE) or from the epoch (the AT forms).
 * @param name The command's name for the error.
 */
function expireGeneric(databaseOf: DatabaseOf, seconds: boolean, relative: boolean, name: string) {
  return (session: Session, args: string[]): Reply => {
    const db = databaseOf(session);
    const conditions = parseExpireConditions(args);
    if (!("nx" in conditions)) return conditions;
    const parsed = parseInt64(args[2]);
    if (parsed === null) return NOT_AN_INTEGER;
    let when = BigInt(parsed);
    if (seconds) {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) return invalidExpireTime(name);
      when *= 1000n;
    }
    const base = relative ? BigInt(db.clock.now()) : 0n;
    if (when > INT64_MAX - base) return invalidExpireTime(name);
    const at = Number(when + base);

    const key = args[1];
    if (!db.has(key)) return 0;
    const current = db.expiresAt(key);
    if (conditions.nx && current !== null) return 0;
    if (conditions.xx && current === null) return 0;
    // No TTL counts as an infinite one: nothing is greater, everything is less.
    if (conditions.gt && (current === null || at <= current)) return 0;
    if (conditions.lt && current !== null && at >= current) return 0;
    db.setExpiresAt(key, at);
    return 1;
  };
}

/** TTL and PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing key, -1 for one without a TTL. */
function ttlGeneric(databaseOf: DatabaseOf, milliseconds: boolean, absolute: boolean) {
  return (session: Session, args: string[]): Reply => {
    const db = databaseOf(session);
    if (!db.has(args[1])) return -2;
    const at = db.expiresAt(args[1]);
    if (at === null) return -1;
    const ttl = Math.max(0, absolute ? at : at - db.clock.now());
    // Seconds are rounded to the nearest, as Redis's (ttl + 500) / 1000.
    if (!milliseconds) return Math.floor((ttl + 500) / 1000);
    // A time past 2^53 is stored rounded (see the module's notes); rounded up past 2^63 - 1 it
    // would print as an integer no 64-bit client can parse, so it is capped at the largest one.
    return ttl > Number.MAX_SAFE_INTEGER && BigInt(ttl) > INT64_MAX ? INT64_MAX : ttl;
  };
}

const ONE_KEY = { first: 1, last: 1, step: 1 } as const;
const KEY = { name: "key", type: "key" } as const;
/** The four ways SET and GETEX give a time, as `COMMAND DOCS` lists them. */
const EXPIRY_TIMES: readonly ArgumentDoc[] = [
  { name: "seconds", type: "integer", token: "EX" },
  { name: "milliseconds", type: "integer", token: "PX" },
  { name: "unix-time-seconds", type: "unix-time", token: "EXAT" },
  { name: "unix-time-milliseconds", type: "unix-time", token: "PXAT" },
];

/**
 * The expiry commands of lab 4; SET replaces lab 2's. Each is built with the databases it acts on,
 * so a handler holds its client's expiring keyspace itself rather than testing what `session.db`
 * is.
 *
 * @param databases The server's databases, which the expiry stage made.
 * @returns The commands, to register in the server's table.
 */
export function expiryCommands(databases: readonly ExpiringKeyspace[]): CommandSpec[] {
  const db: DatabaseOf = (session) => databases[session.client.database];
  return [
    {
      name: "set",
      arity: -3,
      flags: ["write"],
      group: "string",
      summary:
        "Sets a key, optionally only if absent or present, with an expiry or keeping its TTL",
      arguments: [
        KEY,
        { name: "value", type: "string" },
        {
          name: "condition",
          type: "oneof",
          flags: ["optional"],
          arguments: [
            { name: "nx", type: "pure-token", token: "NX" },
            { name: "xx", type: "pure-token", token: "XX" },
          ],
        },
        { name: "get", type: "pure-token", token: "GET", flags: ["optional"] },
        {
          name: "expiration",
          type: "oneof",
          flags: ["optional"],
          arguments: [
            ...EXPIRY_TIMES,
            { name: "keepttl", type: "pure-token", token: "KEEPTTL" },
          ],
        },
      ],
      keys: ONE_KEY,
      handler: (session, args) => set(db(session), args),
    },
    {
      name: "setex",
      arity: 4,
      flags: ["write"],
      group: "string",
      summary: "Sets a key with an expiry in seconds",
      arguments: [KEY, { name: "seconds", type: "integer" }, { name: "value", type: "string" }],
      keys: ONE_KEY,
      // exercise step 3: SETEX key seconds value
      handler: setWithExpiry(db, "ex", "setex"),
    },
    {
      name: "psetex",
      arity: 4,
      flags: ["write"],
      group: "string",
      summary: "Sets a key with an expiry in milliseconds",
      arguments: [KEY, { name: "milliseconds", type: "integer" }, {
        name: "value",
        type: "string",
      }],
      keys: ONE_KEY,
      // exercise step 3: PSETEX key milliseconds value
      handler: setWithExpiry(db, "px", "psetex"),
    },
    {
      name: "getex",
      arity: -2,
      flags: ["write", "fast"],
      group: "string",
      summary: "Returns the value of a key and sets or removes its expiry",
      arguments: [
        KEY,
        {
          name: "expiration",
          type: "oneof",
          flags: ["optional"],
          arguments: [
            ...EXPIRY_TIMES,
            { name: "persist", type: "pure-token", token: "PERSIST" },
          ],
        },
      ],
      keys: ONE_KEY,
      handler: (session, args) => getex(db(session), args),
    },
    ...([
      ["expire", true, true, "seconds", "Sets a key's time to live in seconds"],
      ["pexpire", false, true, "milliseconds", "Sets a key's time to live in milliseconds"],
      ["expireat", true, false, "unix-time-seconds", "Sets a key's expiry as a Unix time"],
      ["pexpireat", false, false, "unix-time-milliseconds", "Sets a key's expiry in Unix ms"],
    ] as const).map(([name, seconds, relative, argument, summary]): CommandSpec => ({
      name,
      arity: -3,
      flags: ["write", "fast"],
      group: "generic",
      summary,
      arguments: [
        KEY,
        { name: argument, type: relative ? "integer" : "unix-time" },
        {
          name: "condition",
          type: "oneof",
          flags: ["optional"],
          arguments: ["NX", "XX", "GT", "LT"].map((token) => ({
            name: token.toLowerCase(),
            type: "pure-token" as const,
            token,
          })),
        },
      ],
      keys: ONE_KEY,
      // exercise step 4: set the expiry, honouring NX, XX, GT and LT
      handler: expireGeneric(db, seconds, relative, name),
    })),
    ...([
      ["ttl", false, false, "Returns a key's time to live in seconds"],
      ["pttl", true, false, "Returns a key's time to live in milliseconds"],
      ["expiretime", false, true, "Returns a key's expiry as a Unix time in seconds"],
      ["pexpiretime", true, true, "Returns a key's expiry as a Unix time in milliseconds"],
    ] as const).map(([name, ms, absolute, summary]): CommandSpec => ({
      name,
      arity: 2,
      flags: ["readonly", "fast"],
      group: "generic",
      summary,
      arguments: [KEY],
      keys: ONE_KEY,
      // Step 2's, with SET's expiry options: a TTL nobody can read cannot be checked.
      // exercise step 2: -2 for a missing key, -1 for no expiry, else the time left or the deadline
      handler: ttlGeneric(db, ms, absolute),
    })),
    {
      name: "persist",
      arity: 2,
      flags: ["write", "fast"],
      group: "generic",
      summary: "Removes a key's expiry",
      arguments: [KEY],
      keys: ONE_KEY,
      // exercise step 5: remove the expiry; 1 if there was one
      handler: (session, args) => db(session).persist(args[1]) ? 1 : 0,
    },
  ];
}

/**
 * Write commands that never add data, so they still run when memory is full and nothing can be
 * evicted: under memory pressure a client must be able to free memory. Every other write command
 * is refused with the OOM error then (Redis marks those `denyoom`).
 */
export const NEVER_DENIED: ReadonlySet<string> = new Set([
  "del",
  "delete",
  "unlink",
  // RENAME moves what exists and adds nothing, so Redis does not mark it denyoom; COPY it does.
  "rename",
  "renamenx",
  "getdel",
  "getex",
  "expire",
  "pexpire",
  "expireat",
  "pexpireat",
  "persist",
  "flushdb",
  "flushall",
]);

/**
 * Whether a command is refused when memory is full and nothing can be evicted: Redis's `denyoom`
 * flag, which lab 4's table derives from `write` and {@link NEVER_DENIED}.
 *
 * @param spec The command.
 * @returns `true` for a write that may add data, such as SET or APPEND.
 */
export function refusedWhenFull(spec: CommandSpec): boolean {
  return spec.flags.includes("denyoom") ||
    (spec.flags.includes("write") && !NEVER_DENIED.has(spec.name));
}
