/**
 * The memcached text protocol on its own port, serving lab 4's keyspace.
 *
 * Lab 4's server calls {@link startMemcacheServer} when it is given `--memcache-port`, and
 * registers {@link memcacheLogCommands} in its RESP command table. From then on one keyspace has
 * two front doors: a key set with `set` over memcached is read with `GET` over RESP and the other
 * way round, both see the same expiry times, and both are written to the same log.
 *
 * The pieces, one file each, in the order a request travels (`listener.ts` accepts the
 * connections):
 *
 * ```
 * socket ─▶ decoder.ts (lines, data blocks, limits) ─▶ protocol.ts (a line becomes a request)
 *        ─▶ store.ts (the request runs on the keyspace, logs its write) ─▶ connection.ts (replies)
 * ```
 *
 * `numbers.ts` reads numbers as memcached does; `log_commands.ts` holds the RESP commands that
 * replay memcached writes nothing in Redis can express.
 *
 * @module
 */

export { expireAllBy, memcacheLogCommands } from "./log_commands.ts";
export { type MemcacheOptions, type MemcacheServer, startMemcacheServer } from "./listener.ts";
export { MEMCACHED_VERSION, MemcacheStore } from "./store.ts";
export type { DecoderLimits } from "./decoder.ts";
