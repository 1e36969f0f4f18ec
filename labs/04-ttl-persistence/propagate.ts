/**
 * What goes into the append-only log for a write: the command, with relative times made absolute.
 *
 * `SET session abc EX 10` means "until ten seconds from now". Written to the log as is and replayed
 * after a restart an hour later, it would mean ten seconds from *then*: the session would come back
 * to life. So before a write is logged its expiry is rewritten as the moment it stands for, exactly
 * as Redis 7 rewrites it for its AOF and its replicas:
 *
 * ```
 * SET k v EX 10           →  SET k v PXAT 1767225610000
 * SETEX k 10 v            →  SET k v PXAT 1767225610000
 * EXPIRE k 10 GT          →  PEXPIREAT k 1767225610000
 * GETEX k PX 500          →  PEXPIREAT k 1767225600500
 * GETEX k PERSIST         →  PERSIST k
 * EXPIRE k -1             →  DEL k          (a time already past deleted the key)
 * INCRBYFLOAT k 0.1       →  SET k 1.6 KEEPTTL
 * ```
 *
 * The absolute time is read back from the keyspace after the command ran, not computed again, so
 * the log holds the very millisecond the command stored. The conditions (NX, XX, GT, LT) are gone
 * from the rewritten command: they were checked when it ran, and the log records what happened.
 *
 * The memcached port logs its writes with the same two records ({@link setRecord} for a stored
 * item, {@link expiryRecord} for `touch`), so a key's value and expiry reach the log in one form
 * whichever protocol wrote them.
 *
 * @module
 */

/** What the keyspace holds for a key right after a command ran. */
export interface KeyState {
  /** The key exists. */
  exists: boolean;
  /** Its expiry in milliseconds since the epoch, or `null` for none. */
  expiresAt: number | null;
}

const EXPIRY_OPTIONS = new Set(["ex", "px", "exat", "pxat"]);

/**
 * The record of a key's value and expiry: `SET key value [PXAT ms]`, or `DEL key` if the key is
 * gone (an expiry already past removed it at once).
 *
 * @param key The key.
 * @param value Its value now.
 * @param state Whether it exists now, and its expiry.
 * @returns The command to log.
 * @example
 * ```ts
 * setRecord("k", "v", { exists: true, expiresAt: 1_767_225_610_000 });
 * // ["SET", "k", "v", "PXAT", "1767225610000"]
 * ```
 */
export function setRecord(key: string, value: string, state: KeyState): string[] {
  if (!state.exists) return ["DEL", key];
  return state.expiresAt === null
    ? ["SET", key, value]
    : ["SET", key, value, "PXAT", String(state.expiresAt)];
}

/**
 * The record of a key's new expiry: `PEXPIREAT key ms`, `PERSIST key` for none, or `DEL key` if the
 * expiry removed the key.
 *
 * @param key The key.
 * @param state Whether it exists now, and its expiry.
 * @returns The command to log.
 * @example
 * ```ts
 * expiryRecord("k", { exists: true, expiresAt: null }); // ["PERSIST", "k"]
 * ```
 */
export function expiryRecord(key: string, state: KeyState): string[] {
  if (!state.exists) return ["DEL", key];
  return state.expiresAt === null ? ["PERSIST", key] : ["PEXPIREAT", key, String(state.expiresAt)];
}

/**
 * Rewrites one command for the log.
 *
 * @param args The command as the client sent it, after it ran and changed the keyspace.
 * @param stateOf Reads a key's state now; called only if the command set an expiry.
 * @param valueOf Reads a key's value now (INCRBYFLOAT's result).
 * @returns The arguments to log; the same array when nothing needs rewriting.
 */
export type LogRewrite = (
  args: string[],
  stateOf: (key: string) => KeyState,
  valueOf: (key: string) => string | undefined,
) => string[];

const rewriteSet: LogRewrite = (args, stateOf) => {
  for (let i = 3; i < args.length; i++) {
    if (EXPIRY_OPTIONS.has(args[i].toLowerCase())) {
      return setRecord(args[1], args[2], stateOf(args[1]));
    }
  }
  return args;
};

const rewriteSetex: LogRewrite = (args, stateOf) => setRecord(args[1], args[3], stateOf(args[1]));

const rewriteExpire: LogRewrite = (args, stateOf) => expiryRecord(args[1], stateOf(args[1]));

const rewriteGetex: LogRewrite = (args, stateOf) => {
  for (let i = 2; i < args.length; i++) {
    const option = args[i].toLowerCase();
    if (option === "persist") return ["PERSIST", args[1]];
    if (EXPIRY_OPTIONS.has(option)) return expiryRecord(args[1], stateOf(args[1]));
  }
  return args;
};

/**
 * `INCRBYFLOAT key increment` is logged as its result, `SET key <value> KEEPTTL`, as Redis logs
 * it: replayed as an addition, the sum would depend on the floating point of whatever machine
 * replays it; the value it produced is a plain string. KEEPTTL, because INCRBYFLOAT kept the TTL.
 */
const rewriteIncrbyfloat: LogRewrite = (args, _stateOf, valueOf) => [
  "SET",
  args[1],
  valueOf(args[1]) ?? "",
  "KEEPTTL",
];

/** The commands that can carry a relative time, or a float, by their name in the table. */
const REWRITES = new Map<string, LogRewrite>([
  ["set", rewriteSet],
  ["setex", rewriteSetex],
  ["psetex", rewriteSetex],
  ["expire", rewriteExpire],
  ["pexpire", rewriteExpire],
  ["expireat", rewriteExpire],
  ["pexpireat", rewriteExpire],
  ["getex", rewriteGetex],
  ["incrbyfloat", rewriteIncrbyfloat],
]);

/**
 * The rewrite a command needs before it is logged. The write path asks once per command, when it
 * wraps the handler, rather than per write: a write then pays neither for lowercasing its name nor
 * for looking it up (with the key-state reader made once too; `bench/README.md` has the
 * measurement).
 *
 * @param name The command's name in the command table (lowercase).
 * @returns The rewrite, or `null` for a command that is logged as its arguments, unchanged.
 * @example
 * ```ts
 * logRewriteFor("set")?.(["SET", "k", "v", "EX", "10"], () => ({ exists: true, expiresAt: 1_000_010_000 }));
 * // ["SET", "k", "v", "PXAT", "1000010000"]
 * ```
 */
export function logRewriteFor(name: string): LogRewrite | null {
  return REWRITES.get(name) ?? null;
}
