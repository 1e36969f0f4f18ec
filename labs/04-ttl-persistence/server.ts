/**
 * Lab 4's server: lab 2's server, with keys that expire, a memory bound, persistence, and a
 * memcached port on the same keyspace.
 *
 * Run it with `deno task lab4` (add `--port 0` for any free port, `--help` for every flag).
 *
 * Nothing of lab 2 is copied. Lab 2's `runServer` serves the clients; this file assembles what it
 * serves and fills one of its hooks:
 *
 * ```
 * keyspace      ExpiringKeyspace: lazy expiry on every read, byte count, LRU order  (keyspace.ts)
 * commands      lab 2's, SET replaced, the TTL commands added                        (commands.ts)
 * write path    evict before, log after, every `write` command; the one way into the log,
 *               memcached writes included                                          (writes.ts)
 * background    active expiry, `hz` ticks a second                                   (expiry.ts)
 * persistence   snapshot and log, loaded before the first client                     (persistence/)
 * memcached     a second protocol on the same keyspace                               (memcache/)
 * shutdown      SIGTERM or SHUTDOWN: the final save first, or keep running          (shutdown_command.ts)
 * hooks         beforeWrite: with `appendfsync always`, replies wait for the disk
 *               execute: MULTI and EXEC check memory and persistence              (transaction_gate.ts)
 * ```
 *
 * @module
 */

import type { CommandTable } from "../../shared/server/command_table.ts";
import { type ConfigSetter, integerSetter } from "../../shared/server/config.ts";
import { type InfoFields } from "../../shared/server/info.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import { lab2CommandTable, runServer, type ServerHooks } from "../02-threaded/server.ts";
import { parseSize } from "../02-threaded/cli.ts";
import { Shutdown } from "../02-threaded/shutdown.ts";
import { systemClock } from "./clock.ts";
import { type Lab4Options, parseLab4Args } from "./cli.ts";
import { expiringDb, lab4Commands } from "./commands.ts";
import { Evictor, isEvictionPolicy } from "./eviction.ts";
import { ActiveExpiry } from "./expiry.ts";
import { ExpiringKeyspace } from "./keyspace.ts";
import { memcacheLogCommands, type MemcacheServer, startMemcacheServer } from "./memcache/mod.ts";
import { transactionGate } from "./transaction_gate.ts";
import { openPersistence } from "./persistence/mod.ts";
import { shutdownCommand } from "./shutdown_command.ts";
import { WritePath } from "./writes.ts";

/**
 * Builds lab 4's command table: lab 2's, with SET replaced by the one that knows expiry, the TTL
 * commands, and an `EXEC` that first expires watched keys whose time has come (Redis 7 fails such
 * a transaction even if nothing read the key since).
 *
 * @returns The table.
 */
export function lab4CommandTable(): CommandTable {
  const table = lab2CommandTable().registerAll(lab4Commands);
  const exec = table.get("exec");
  const run = exec?.handler;
  if (exec === undefined || run === undefined) {
    throw new TypeError("Cannot build lab 4's table: lab 2's has no EXEC");
  }
  return table.register({
    ...exec,
    handler: (session, args) => {
      expiringDb(session).expireWatchedKeys();
      return run(session, args);
    },
  });
}

/** Bytes as Redis's `*_human` fields show them: `1.50M`, `512B`. */
export function humanBytes(bytes: number): string {
  const units = ["B", "K", "M", "G", "T"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value.toFixed(2)}${units[unit]}`;
}

/** Everything lab 4 adds to a running server, for `INFO` and `CONFIG GET`. */
interface Lab4Parts {
  db: ExpiringKeyspace;
  expiry: ActiveExpiry;
  evictor: Evictor;
  options: Lab4Options;
}

/** Every policy Redis 7.0 knows, in the order its CONFIG SET error lists them. */
const REDIS_POLICIES = [
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "noeviction",
];

/**
 * `CONFIG SET maxmemory-policy`: Redis's error for a word that is no policy at all; a policy
 * Redis has and this lab does not (the LFU ones, volatile-ttl) is refused and named as such.
 */
function setPolicy(evictor: Evictor): ConfigSetter {
  return (value) => {
    const policy = value.toLowerCase();
    if (isEvictionPolicy(policy)) {
      evictor.reconfigure({ policy });
      return null;
    }
    return REDIS_POLICIES.includes(policy)
      ? `this server does not implement the ${policy} policy`
      : `argument(s) must be one of the following: ${REDIS_POLICIES.join(", ")}`;
  };
}

/**
 * `CONFIG SET maxmemory`, with Redis's sizes (`100mb`). A server started without a limit
 * skips the memory checks on its hot path altogether (no eviction step, no transaction gate), so
 * it cannot take one on later: it says so, where Redis would accept.
 */
function setMaxmemory(evictor: Evictor, options: Lab4Options): ConfigSetter {
  return (value) => {
    const bytes = parseSize(value);
    if (bytes === null) return "argument must be a memory value";
    if (options.maxmemory === 0 && bytes !== 0) {
      return "this server was started without --maxmemory and cannot take a limit at runtime";
    }
    evictor.reconfigure({ maxmemory: bytes });
    return null;
  };
}

/**
 * Adds lab 4's fields to `INFO` (memory, expiry and eviction counters, the keyspace line) and its
 * parameters to `CONFIG GET`.
 */
function describe(server: ServerState, { db, expiry, evictor, options }: Lab4Parts): void {
  let peak = 0;
  let hz = expiry.hz;
  server.config
    .define("maxmemory", () => String(evictor.maxmemory), setMaxmemory(evictor, options))
    .define("maxmemory-policy", () => evictor.policy, setPolicy(evictor))
    // Redis reports the value as set and runs at it clamped to 1..500; so does this.
    .define(
      "hz",
      () => String(hz),
      integerSetter(0, 2147483647, (n) => {
        hz = n;
        expiry.setHz(n);
      }),
    );
  // dir, dbfilename, save and the appendonly settings are defined by the persistence module.
  server.onResetStats(() => {
    db.expiredKeys = 0;
    db.evictedKeys = 0;
  });
  server.info
    .define("Memory", (): InfoFields => {
      const m = Deno.memoryUsage();
      const used = db.usedMemory;
      peak = Math.max(peak, used);
      return [
        // What --maxmemory compares against: the keyspace's estimate of its data (keyspace.ts).
        ["used_memory", used],
        ["used_memory_human", humanBytes(used)],
        ["used_memory_rss", m.rss],
        ["used_memory_rss_human", humanBytes(m.rss)],
        ["used_memory_peak", peak],
        ["used_memory_peak_human", humanBytes(peak)],
        // The JavaScript heap as V8 sees it, garbage included: why it is not what eviction uses.
        ["used_memory_vm_heap", m.heapUsed + m.external],
        ["maxmemory", evictor.maxmemory],
        ["maxmemory_human", humanBytes(evictor.maxmemory)],
        ["maxmemory_policy", evictor.policy],
      ];
    })
    .define("Stats", (): InfoFields => [
      ["total_connections_received", server.stats.connectionsReceived],
      ["total_commands_processed", server.stats.commandsProcessed],
      ["rejected_connections", server.stats.rejectedConnections],
      ["expired_keys", db.expiredKeys],
      ["expired_time_cap_reached_count", expiry.timeCapReached],
      ["evicted_keys", db.evictedKeys],
    ])
    .define("Keyspace", (): InfoFields => {
      if (db.size === 0) return [];
      // Like Redis after a FLUSHDB, no key with a TTL means no average, before the next tick too.
      const avgTtl = db.expiringCount === 0 ? 0 : Math.round(expiry.avgTtl);
      return [["db0", `keys=${db.size},expires=${db.expiringCount},avg_ttl=${avgTtl}`]];
    });
}

/**
 * Runs lab 4's server until SIGINT, SIGTERM or `SHUTDOWN`, and stops only once persistence has
 * saved what it must: if it cannot, the server logs why and keeps running.
 */
async function main(): Promise<void> {
  const options = parseLab4Args(Deno.args);
  const db = new ExpiringKeyspace(systemClock);
  const commands = lab4CommandTable().registerAll(memcacheLogCommands);
  const server = new ServerState({ commands, db });
  const evictor = new Evictor(db, {
    maxmemory: options.maxmemory,
    policy: options.maxmemoryPolicy,
  });
  const expiry = new ActiveExpiry(db, { hz: options.hz });
  describe(server, { db, expiry, evictor, options });

  // Wrapped before loading, so that the log's own commands replay through the table unlogged.
  const writes = new WritePath(db, options.maxmemory > 0 ? evictor : null);
  writes.wrap(commands);
  let persistence;
  try {
    persistence = await openPersistence(server, db, options.persistence);
  } catch (error) {
    console.error(`Cannot start: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  commands.registerAll(persistence.commands);
  writes.wrap(commands);
  // A signal and SHUTDOWN take one path: the final save first, with every client still served;
  // only if it succeeds do the listeners and connections close.
  const shutdown = new Shutdown(server.log);
  shutdown.prepareWith((request) => persistence.shutdown(request));
  commands.register(shutdownCommand(shutdown));
  writes.start(persistence);
  expiry.start();

  let memcache: MemcacheServer | null = null;
  const hooks: ServerHooks = { beforeWrite: persistence.beforeWrite, shutdown };
  // Transactions are checked before queueing and before EXEC: memory, and whether persistence
  // is failing.
  const { appendonly, save } = options.persistence;
  if (options.maxmemory > 0 || appendonly || save.length > 0) {
    hooks.execute = transactionGate({
      evictor: options.maxmemory > 0 ? evictor : null,
      writeDenied: () => persistence.writeDenied(),
    });
  }
  try {
    if (options.memcachePort !== null) {
      memcache = startMemcacheServer({
        host: options.host,
        port: options.memcachePort,
        db,
        beforeWrite: persistence.beforeWrite,
        log: server.log,
        // Memcached writes take the RESP writes' path: refused while persistence fails, room made
        // under --maxmemory before, logged after. One write path, two protocols.
        writeDenied: () => writes.writeDenied()?.message ?? null,
        makeRoom: () => writes.makeRoom(),
        propagate: (args) => writes.propagate(args),
      });
    }
    if (options.secure) hooks.upgrade = await secureUpgrade(options.persistence.dir);
  } catch (error) {
    console.error(`Cannot start: ${error instanceof Error ? error.message : error}`);
    await memcache?.close();
    await persistence.close();
    expiry.stop();
    Deno.exit(1);
  }
  hooks.onListening = (address) => {
    console.log(`listening on ${address.host}:${address.port}`);
    if (memcache !== null) {
      console.log(`memcached protocol on ${memcache.address.host}:${memcache.address.port}`);
    }
  };

  // In the same step as the RESP connections: no memcached client writes after the final save.
  shutdown.onStop(() => {
    expiry.stop();
    void memcache?.close();
  });

  const listener = Deno.listen({ hostname: options.host, port: options.port });
  await runServer(server, listener, { ...options, hooks });
  // Clients are gone and the final save is on disk: close the log.
  await memcache?.close();
  try {
    await persistence.close();
  } catch (error) {
    console.error(`Cannot close the append only file: ${error}`);
    Deno.exit(1);
  }
}

/**
 * `--secure`: each connection runs lab 3's handshake before its first command, with the server's
 * identity key kept in the data directory.
 */
async function secureUpgrade(dir: string): Promise<NonNullable<ServerHooks["upgrade"]>> {
  const { acceptSecure, aeadLibrary, describeAeadLibrary, loadOrCreateIdentity } = await import(
    "../03-secure/channel/mod.ts"
  );
  const identity = await loadOrCreateIdentity(dir);
  console.log(`server identity: ${identity.fingerprint}`);
  const crypto = aeadLibrary();
  console.log(`secure channel: aes-256-gcm records sealed by ${describeAeadLibrary(crypto)}`);
  return (conn) => acceptSecure(conn, { identity, crypto });
}

if (import.meta.main) await main();
