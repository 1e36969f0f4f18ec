/**
 * Which commands the proxy answers itself, which it forwards, and which it refuses.
 *
 * **Only what is on the allow-list is forwarded.** The upstream sees every forwarded command
 * coming from the proxy's own address, often `127.0.0.1`, which the upstream trusts more than
 * the client's: Redis's protected mode lets loopback clients in without a password. A proxy
 * that forwarded everything would hand `CONFIG SET`, `ACL SETUSER`, `EVAL`, `REPLICAOF`,
 * `FLUSHALL` or `SHUTDOWN` to anyone who can reach the proxy. So the proxy forwards the data
 * commands a cache is for ({@link FORWARDED}: strings, keys, hashes, lists, sets, sorted sets and
 * the like, and transactions), and nothing else unless its operator names it with
 * `--allow-commands`. A refused command reads `-ERR 'flushall' is not forwarded by this proxy`;
 * a name the proxy has never heard of gets Redis's own unknown-command error, as a server would
 * answer it.
 *
 * Most commands are about data, and the upstream owns the data: forward them. A few are about the
 * *connection* the client is talking on — its name, its protocol, whether it is closing — and that
 * connection ends at the proxy: the proxy answers those itself. Forwarding `CLIENT SETNAME` would
 * rename the shared upstream connection, for every client at once.
 *
 * The commands refused are those that would change the shared upstream connection for every
 * client using it, or take it over:
 *
 * - `SELECT`, `AUTH`, `RESET`, `READONLY`, `READWRITE` change that connection's state;
 * - `SUBSCRIBE` and friends, `MONITOR`, `SYNC` turn it into a stream of pushed messages, which
 *   would break the one-reply-per-request order every other client relies on;
 * - `BLPOP` and the other blocking commands would stop it for everyone until they return.
 *
 * Transactions (`MULTI`, `WATCH`) need connection state too, but they are too useful to refuse:
 * the proxy gives such a client a connection of its own (see `caching_proxy.ts`).
 *
 * @module
 */

import { ErrorReply } from "../../../shared/resp/reply.ts";
import { unknownCommand } from "../../../shared/server/command_table.ts";

/**
 * Commands the proxy answers itself, from its own command table. They describe the client's
 * connection to the proxy, or the proxy: `INFO` gains a `# Proxy` section, `CONFIG GET` shows the
 * proxy's limits.
 */
export const LOCAL_COMMANDS: ReadonlySet<string> = new Set([
  "quit",
  "hello",
  "auth",
  "client",
  "info",
  "config",
]);

/**
 * The commands the proxy forwards by default: reads and writes of data, key management, and
 * transactions. Blocking and pushing commands are absent even where they are data commands;
 * see {@link refusalOf} for why.
 */
export const FORWARDED: ReadonlySet<string> = new Set([
  // Connection commands with no state: answered by the upstream, so a PING measures it too.
  ...words("ping echo time command"),
  // Strings, lab 2's table included (DELETE and PUT are the course's own spellings).
  ...words(
    "get set setnx setex psetex getset getdel getex mget mset msetnx append strlen incr decr " +
      "incrby decrby incrbyfloat setrange getrange substr lcs put",
  ),
  // Keys. MEMORY USAGE too, but not the rest of MEMORY: see refusalOf().
  ...words(
    "del delete unlink exists type ttl pttl expire pexpire expireat pexpireat expiretime " +
      "pexpiretime persist rename renamenx copy touch keys scan randomkey dbsize object dump",
  ),
  // Hashes.
  ...words(
    "hset hsetnx hget hmset hmget hdel hexists hlen hkeys hvals hgetall hincrby hincrbyfloat " +
      "hstrlen hscan hrandfield",
  ),
  // Lists (the blocking ones are refused below).
  ...words(
    "lpush rpush lpushx rpushx lpop rpop llen lrange lindex lset linsert lrem ltrim lpos lmove " +
      "rpoplpush lmpop",
  ),
  // Sets.
  ...words(
    "sadd srem smembers sismember smismember scard spop srandmember smove sinter sinterstore " +
      "sintercard sunion sunionstore sdiff sdiffstore sscan",
  ),
  // Sorted sets.
  ...words(
    "zadd zrem zscore zmscore zincrby zcard zcount zrange zrangestore zrangebyscore zrevrange " +
      "zrevrangebyscore zrangebylex zrevrangebylex zlexcount zrank zrevrank zremrangebyrank " +
      "zremrangebyscore zremrangebylex zpopmin zpopmax zmpop zrandmember zscan zunion " +
      "zunionstore zinter zinterstore zintercard zdiff zdiffstore",
  ),
  // Bitmaps, HyperLogLogs, geospatial indexes, streams.
  ...words(
    "setbit getbit bitcount bitpos bitop bitfield bitfield_ro pfadd pfcount pfmerge geoadd " +
      "geopos geodist geohash geosearch geosearchstore xadd xlen xrange xrevrange xdel xtrim xread",
  ),
  // Transactions: the proxy gives such a client an upstream connection of its own.
  ...words("multi exec discard watch unwatch"),
]);

/**
 * Commands Redis has that the proxy does not forward unless told to, because they act on the
 * server rather than on data, or on all data at once. They get the proxy's refusal, which names
 * the way to allow them; any other name the proxy does not forward is answered as unknown.
 */
const NOT_FORWARDED: ReadonlySet<string> = new Set(
  words(
    "acl bgrewriteaof bgsave cluster debug eval eval_ro evalsha evalsha_ro failover fcall " +
      "fcall_ro flushall flushdb function lastsave latency lolwut memory migrate module move " +
      "pfdebug pfselftest replconf replicaof restore restore-asking role save script shutdown " +
      "slaveof slowlog sort sort_ro swapdb georadius georadiusbymember georadius_ro " +
      "georadiusbymember_ro xack xautoclaim xclaim xgroup xinfo xpending xreadgroup xsetid",
  ),
);

/** The words of a space-separated list: long lists of names read better as text. */
function words(text: string): string[] {
  return text.split(" ").filter((word) => word !== "");
}

const NOT_ALLOWED = "it forwards only the data commands on its allow-list (to forward this " +
  "one, start the proxy with --allow-commands NAME)";
const CONNECTION_STATE = "it would change the upstream connection that every client shares";
const PUSH = "it would turn the shared upstream connection into a stream of pushed messages";
const BLOCKING = "it would block the upstream connection that every client shares";

/** Refused commands, by lower-case name, with the reason the client reads. */
const REFUSED = new Map<string, string>([
  ["select", CONNECTION_STATE],
  ["reset", CONNECTION_STATE],
  ["readonly", CONNECTION_STATE],
  ["readwrite", CONNECTION_STATE],
  ["subscribe", PUSH],
  ["psubscribe", PUSH],
  ["ssubscribe", PUSH],
  ["unsubscribe", PUSH],
  ["punsubscribe", PUSH],
  ["sunsubscribe", PUSH],
  ["monitor", PUSH],
  ["sync", PUSH],
  ["psync", PUSH],
  ["blpop", BLOCKING],
  ["brpop", BLOCKING],
  ["brpoplpush", BLOCKING],
  ["blmove", BLOCKING],
  ["blmpop", BLOCKING],
  ["bzpopmin", BLOCKING],
  ["bzpopmax", BLOCKING],
  ["bzmpop", BLOCKING],
  ["wait", BLOCKING],
  ["waitaof", BLOCKING],
]);

/**
 * Whether an operator may add a command to the allow-list: not one that would break the shared
 * upstream connection for every client (`SELECT`, `SUBSCRIBE`, `BLPOP`...), whatever they say.
 *
 * @param name The command name in lower case.
 * @returns Why it cannot be forwarded, or `undefined` if it can.
 */
export function whyNeverForwarded(name: string): string | undefined {
  return REFUSED.get(name);
}

/**
 * The proxy's refusal of a command, if it refuses it.
 *
 * @param name The command name in lower case.
 * @param args The whole command (`XREAD` is refused only with its `BLOCK` option).
 * @param allowed What the proxy forwards: {@link FORWARDED}, plus what `--allow-commands` added.
 * @returns `-ERR 'select' is not supported by this proxy: ...`, `-ERR 'flushall' is not forwarded
 *   by this proxy: ...`, Redis's unknown-command error, or `undefined` to go ahead.
 * @example
 * ```ts
 * refusalOf("get", ["GET", "k"]);          // undefined
 * refusalOf("select", ["SELECT", "1"]);    // ErrorReply
 * refusalOf("flushall", ["FLUSHALL"]);     // ErrorReply: not on the allow-list
 * ```
 */
export function refusalOf(
  name: string,
  args: readonly string[],
  allowed: ReadonlySet<string> = FORWARDED,
): ErrorReply | undefined {
  let reason = REFUSED.get(name);
  if (
    reason === undefined && (name === "xread" || name === "xreadgroup") &&
    args.some((arg) => arg.toLowerCase() === "block")
  ) reason = BLOCKING;
  if (reason !== undefined) {
    return new ErrorReply(`ERR '${name}' is not supported by this proxy: ${reason}`);
  }
  // MEMORY USAGE reads one key's size; MEMORY PURGE and DOCTOR act on the server.
  if (allowed.has(name) || (name === "memory" && args[1]?.toLowerCase() === "usage")) {
    return undefined;
  }
  if (NOT_FORWARDED.has(name)) {
    return new ErrorReply(`ERR '${name}' is not forwarded by this proxy: ${NOT_ALLOWED}`);
  }
  // A name the proxy has never heard of: to the client the proxy is the server, and a server
  // answers that in Redis's words.
  return unknownCommand(args);
}
