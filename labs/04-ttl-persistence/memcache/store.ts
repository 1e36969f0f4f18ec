/**
 * Memcached's commands, run against lab 4's keyspace: the same keys the RESP side serves.
 *
 * A memcached *item* is a key, a value, 32 opaque flags, an expiry time and a *cas unique*. The
 * first four map straight onto {@link ExpiringKeyspace}: the value is the key's value, the flags
 * are `flagsOf`/`setFlags`, the expiry is `expiresAt`/`setExpiresAt`. So a key set over memcached
 * is a plain string to `GET`, a key `SET` over RESP is an item with flags 0 to `get`, and both sides
 * agree on TTLs because they read the same clock.
 *
 * **Cas uniques.** `gets` returns a number that changes whenever the item changes, and
 * `cas <key> ... <unique>` stores only if it has not changed since. The road not taken is a version
 * counter on every key: every RESP write would pay for a memcached feature. Instead one counter
 * hands out uniques, and a side `Map` holds them only for keys that have one. The store observes
 * the keyspace, which announces a change *before* any key changes, by any path (a RESP `SET`,
 * `INCR`, expiry, `FLUSHALL`), and the observer drops that key's unique. A key without one (written over RESP, or changed since)
 * gets a fresh unique the next time `gets` asks, so a client holding the old number always sees
 * `EXISTS`. Like memcached's, uniques are not persisted; to keep a unique from before a restart
 * from matching a new one, the counter starts at the start time in microseconds.
 *
 * **Persistence.** Each write hands the RESP commands that replay it, with absolute times, to
 * `propagate(args)`: lab 4's write path (`writes.ts`), the same one every RESP write goes through
 * on its way to the log, so that replaying the log later lands on the same keyspace. The store
 * does not spell out a `SET ... PXAT` or a `PEXPIREAT` itself: it says which key changed, and
 * `propagate.ts` writes the key's state as it is now, exactly as for a RESP `SET` or `EXPIRE`:
 *
 * ```
 * set k 5 60 2 / hi        SET k hi PXAT 1700000060000   then  MCFLAGS k 5 (if not 0)
 * append k 0 0 1 / !       APPEND k !                    (keeps expiry and flags, as in memcached)
 * prepend, incr, decr      SET k <new value> PXAT ...    then  MCFLAGS k 5 (the whole new state)
 * touch k 60 / touch k 0   PEXPIREAT k 1700000060000 / PERSIST k
 * delete k                 DEL k
 * flush_all / flush_all 9  FLUSHALL / MCFLUSHAT 1700000009000
 * ```
 *
 * @module
 */

import { cpuUsage } from "node:process";
import type { ExpiringKeyspace } from "../keyspace.ts";
import { expiryRecord, type KeyState, setRecord } from "../propagate.ts";
import { expireAllBy } from "./log_commands.ts";
import { parseUint64 } from "./numbers.ts";
import { itemSize, KEY_MAX_LENGTH, type Request, type StoreRequest } from "./protocol.ts";

/**
 * The memcached release whose replies this server reproduces; clients and `memcapable` read the
 * version to decide which behaviour to expect.
 */
export const MEMCACHED_VERSION = "1.6.18-cachelab";

/** Exptimes up to 30 days are relative; larger ones are Unix times (memcached's `REALTIME_MAXDELTA`). */
export const RELATIVE_EXPTIME_MAX = 60 * 60 * 24 * 30;

/** What a request answers: bytes to send (one string or pieces), nothing, or "close now". */
export type Outcome = string | string[] | null | typeof CLOSE;

/** The outcome that ends the connection (`quit`, an HTTP request line). */
export const CLOSE: unique symbol = Symbol("close");

/**
 * Counters `stats` reports, named as memcached names them. `stats reset` sets all but the two
 * connection totals back to zero.
 */
export interface MemcacheStats {
  /** Connections open now. */
  curr_connections: number;
  /** Connections accepted since the server started. */
  total_connections: number;
  /** Connections refused because the server was full. */
  rejected_connections: number;
  /** Keys requested by `get` and `gets` (each key counts). */
  cmd_get: number;
  /** Storage commands run. */
  cmd_set: number;
  /** `flush_all` commands run. */
  cmd_flush: number;
  /** Keys touched by `touch`, `gat` and `gats`. */
  cmd_touch: number;
  /** Keys requested and found. */
  get_hits: number;
  /** Keys requested and not found. */
  get_misses: number;
  /** `delete` of a missing key. */
  delete_misses: number;
  /** `delete` that removed a key. */
  delete_hits: number;
  /** `incr` of a missing key. */
  incr_misses: number;
  /** `incr` that changed a value. */
  incr_hits: number;
  /** `decr` of a missing key. */
  decr_misses: number;
  /** `decr` that changed a value. */
  decr_hits: number;
  /** `cas` of a missing key. */
  cas_misses: number;
  /** `cas` that stored its value. */
  cas_hits: number;
  /** `cas` refused because the item had changed. */
  cas_badval: number;
  /** Touches of a key that exists. */
  touch_hits: number;
  /** Touches of a missing key. */
  touch_misses: number;
  /** Storage commands refused because the item was too large. */
  store_too_large: number;
  /** Bytes received from clients. */
  bytes_read: number;
  /** Bytes sent to clients. */
  bytes_written: number;
  /** Items stored. */
  total_items: number;
}

function zeroStats(): MemcacheStats {
  return {
    curr_connections: 0,
    total_connections: 0,
    rejected_connections: 0,
    cmd_get: 0,
    cmd_set: 0,
    cmd_flush: 0,
    cmd_touch: 0,
    get_hits: 0,
    get_misses: 0,
    delete_misses: 0,
    delete_hits: 0,
    incr_misses: 0,
    incr_hits: 0,
    decr_misses: 0,
    decr_hits: 0,
    cas_misses: 0,
    cas_hits: 0,
    cas_badval: 0,
    touch_hits: 0,
    touch_misses: 0,
    store_too_large: 0,
    bytes_read: 0,
    bytes_written: 0,
    total_items: 0,
  };
}

/** What a {@link MemcacheStore} needs. */
export interface MemcacheStoreOptions {
  /** The keyspace the RESP side also serves. */
  db: ExpiringKeyspace;
  /**
   * Logs a write, given as the RESP command that replays it with absolute times: lab 4's write
   * path (`WritePath.propagate`). Without it nothing is logged.
   */
  propagate?: (args: string[]) => void;
  /** The most connections `stats` reports as `max_connections`. */
  maxConnections?: number;
  /** The largest item, as memcached's `-I`; `append` and `prepend` cannot grow one past it. */
  maxItemSize?: number;
  /**
   * Called before a storage command adds data: lab 4's eviction, to stay under `--maxmemory`.
   * Returns `false` when no memory could be freed; the command then fails, as memcached's does
   * when started with `-M` (no eviction).
   */
  makeRoom?: () => boolean;
  /**
   * Why writes are refused right now (lab 4's persistence is failing: the `-MISCONF` text), or
   * `null`. A refused write answers `SERVER_ERROR` with that text and changes nothing.
   */
  writeDenied?: () => string | null;
}

const STORED = "STORED\r\n";
const NOT_STORED = "NOT_STORED\r\n";
const NOT_FOUND = "NOT_FOUND\r\n";
const NON_NUMERIC = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
const TWO_64 = 1n << 64n;

/**
 * Runs memcached requests on an {@link ExpiringKeyspace}. One per server, shared by its
 * connections; call {@link close} when the server stops, to unregister from the keyspace.
 *
 * @example
 * ```ts
 * const store = new MemcacheStore({ db: new ExpiringKeyspace() });
 * store.execute({ kind: "get", withCas: false, keys: ["k"] }); // ["END\r\n"]
 * ```
 */
export class MemcacheStore {
  /** The shared keyspace. */
  readonly db: ExpiringKeyspace;
  /** Counters for `stats`. */
  stats: MemcacheStats = zeroStats();
  readonly #propagate: (args: string[]) => void;
  readonly #maxConnections: number;
  readonly #maxItemSize: number;
  readonly #makeRoom: () => boolean;
  readonly #writeDenied: () => string | null;
  readonly #startedAt = Date.now();
  /** Cas uniques, only for keys that have one. */
  readonly #cas = new Map<string, number>();
  #lastCas: number;
  /** A pending `flush_all <delay>`: until then, new items expire then at the latest. */
  #flushAt: number | null = null;
  readonly #unsubscribe: () => void;

  /**
   * Starts serving memcached's view of a keyspace.
   *
   * @param options The keyspace, and where writes are logged.
   */
  constructor(options: MemcacheStoreOptions) {
    this.db = options.db;
    this.#propagate = options.propagate ?? (() => {});
    this.#maxConnections = options.maxConnections ?? 1024;
    this.#maxItemSize = options.maxItemSize ?? 1024 * 1024;
    this.#makeRoom = options.makeRoom ?? (() => true);
    this.#writeDenied = options.writeDenied ?? (() => null);
    this.#lastCas = Math.floor(this.db.clock.now()) * 1000;
    this.#unsubscribe = this.db.observe({
      changing: (key) => {
        if (key === null) {
          // Everything is gone (FLUSHALL, flush_all): no unique survives, no delayed flush is due.
          this.#cas.clear();
          this.#flushAt = null;
        } else if (this.#cas.size > 0) {
          this.#cas.delete(key);
        }
      },
    });
  }

  /** Stops listening to the keyspace. */
  close(): void {
    this.#unsubscribe();
  }

  /**
   * A key's cas unique, handing out a fresh one if the key has none yet.
   *
   * @param key A live key.
   * @returns Its unique.
   */
  casOf(key: string): number {
    let cas = this.#cas.get(key);
    if (cas === undefined) this.#cas.set(key, cas = ++this.#lastCas);
    return cas;
  }

  /**
   * Runs one request.
   *
   * @param request From the decoder.
   * @returns What to send back.
   */
  execute(request: Request): Outcome {
    const denied = this.#refused(request);
    if (denied !== null) return denied;
    switch (request.kind) {
      case "get":
        return this.#get(request.keys, request.withCas, null);
      case "gat":
        return this.#get(request.keys, request.withCas, request.exptime);
      case "store":
        this.stats.cmd_set++;
        return quiet(this.#store(request), request.noreply);
      case "delete":
        return quiet(this.#delete(request.key), request.noreply);
      case "incr":
      case "decr":
        return quiet(this.#arithmetic(request.key, request.kind, request.delta), request.noreply);
      case "touch":
        return quiet(this.#touch(request.key, request.exptime), request.noreply);
      case "flush_all":
        return quiet(this.#flushAll(request.delay), request.noreply);
      case "stats":
        return this.#statsCommand(request.args);
      case "version":
        return `VERSION ${MEMCACHED_VERSION}\r\n`;
      case "verbosity":
        return quiet("OK\r\n", request.noreply);
      case "quit":
      case "close":
        return CLOSE;
      case "reply":
        return request.text === null ? null : `${request.text}\r\n`;
      case "bad_chunk":
        // Memcached counts the set before it finds the block malformed.
        this.stats.cmd_set++;
        return quiet("CLIENT_ERROR bad data chunk\r\n", request.noreply);
      case "too_large":
        return quiet(this.#tooLarge(request.request), request.request.noreply);
    }
  }

  /** A write refused while persistence fails (the RESP side answers `-MISCONF` to the same). */
  #refused(request: Request): Outcome | null {
    let noreply: boolean;
    switch (request.kind) {
      case "gat":
        noreply = false;
        break;
      case "store":
      case "delete":
      case "incr":
      case "decr":
      case "touch":
      case "flush_all":
        noreply = request.noreply;
        break;
      default:
        return null;
    }
    const denied = this.#writeDenied();
    return denied === null ? null : quiet(`SERVER_ERROR ${denied}\r\n`, noreply);
  }

  /**
   * When an item with this exptime expires, in milliseconds since the epoch, or `null` for never.
   * A time at or before now means "already expired".
   */
  #deadline(exptime: number): number | null {
    const now = this.db.clock.now();
    let at: number | null;
    if (exptime === 0) at = null;
    // Negative: memcached turns it into a time long past, so the item is expired at once.
    else if (exptime < 0) at = 0;
    else if (exptime > RELATIVE_EXPTIME_MAX) at = exptime * 1000;
    else at = now + exptime * 1000;
    if (this.#flushAt !== null) {
      if (now >= this.#flushAt) this.#flushAt = null;
      else if (at === null || at > this.#flushAt) at = this.#flushAt;
    }
    return at;
  }

  /**
   * `get`/`gets`: a `VALUE` block per key found, then `END`. `gat`/`gats` pass an exptime and
   * touch each item found before returning it.
   */
  #get(keys: string[], withCas: boolean, touchExptime: number | null): Outcome {
    // Memcached answers only the error if any key is too long, whatever came before it.
    for (const key of keys) {
      if (key.length > KEY_MAX_LENGTH) return "CLIENT_ERROR bad command line format\r\n";
    }
    const db = this.db;
    const out: string[] = [];
    for (const key of keys) {
      const value = db.get(key);
      if (touchExptime === null) {
        this.stats.cmd_get++;
        this.stats[value === undefined ? "get_misses" : "get_hits"]++;
      } else {
        this.stats.cmd_touch++;
        this.stats[value === undefined ? "touch_misses" : "touch_hits"]++;
      }
      if (value === undefined) continue;
      const header = `VALUE ${key} ${db.flagsOf(key)} ${value.length}` +
        (withCas ? ` ${this.casOf(key)}\r\n` : "\r\n");
      // After reading: like memcached, gat returns the item even if the new exptime ends it.
      if (touchExptime !== null) this.#setExpiry(key, touchExptime);
      // The value is its own piece: a big one is written from the keyspace's string, not copied
      // into a reply buffer first.
      out.push(header, value, "\r\n");
    }
    out.push("END\r\n");
    return out;
  }

  /** set, add, replace, append, prepend, cas: after the data block has arrived. */
  #store(request: StoreRequest): string {
    const { key, data } = request;
    if (!this.#makeRoom()) return "SERVER_ERROR out of memory storing object\r\n";
    const db = this.db;
    const exists = db.has(key);
    switch (request.command) {
      case "add":
        if (exists) return NOT_STORED;
        break;
      case "replace":
        if (!exists) return NOT_STORED;
        break;
      case "cas":
        if (!exists) {
          this.stats.cas_misses++;
          return NOT_FOUND;
        }
        if (BigInt(this.casOf(key)) !== request.cas) {
          this.stats.cas_badval++;
          return "EXISTS\r\n";
        }
        this.stats.cas_hits++;
        break;
      case "append":
      case "prepend":
        return this.#concatenate(key, data, request.command);
    }
    this.#write(key, data, request.flags, this.#deadline(request.exptime));
    this.stats.total_items++;
    return STORED;
  }

  /** Replaces an item entirely: the value, its flags, its expiry and a new cas unique. */
  #write(key: string, value: string, flags: number, at: number | null): void {
    const db = this.db;
    if (at !== null && at <= db.clock.now()) {
      // Memcached stores an item nobody can read any more; here, the old item simply goes.
      if (db.delete(key)) this.#logKey(key);
      return;
    }
    // Value and expiry in one change, as SET ... PXAT makes it.
    db.set(key, value, at);
    if (flags !== 0) db.setFlags(key, flags);
    // Last, after the keyspace's change listeners have dropped the old unique.
    this.#cas.set(key, ++this.#lastCas);
    this.#logKey(key);
  }

  /**
   * Logs a key as it is now, whole, as a memcached write replaces an item whole: its value and
   * expiry as one `SET` (`DEL` if it is gone), then its flags, for which Redis's `SET` has no
   * option (`MCFLAGS`, see `log_commands.ts`).
   */
  #logKey(key: string): void {
    const item = this.db.peek(key);
    const state: KeyState = { exists: item !== undefined, expiresAt: item?.expiresAt ?? null };
    this.#propagate(setRecord(key, item?.value ?? "", state));
    if (item !== undefined && item.flags !== 0) {
      this.#propagate(["MCFLAGS", key, String(item.flags)]);
    }
  }

  /** Logs a key's expiry as it is now: `PEXPIREAT`, `PERSIST`, or `DEL` if it is gone. */
  #logExpiry(key: string): void {
    const db = this.db;
    this.#propagate(expiryRecord(key, { exists: db.has(key), expiresAt: db.expiresAt(key) }));
  }

  /** append/prepend: new data at one end; flags and expiry stay the item's own. */
  #concatenate(key: string, data: string, command: "append" | "prepend"): string {
    const db = this.db;
    const old = db.get(key);
    if (old === undefined) return NOT_STORED;
    const flags = db.flagsOf(key);
    // Memcached cannot allocate an item this big, so it does not store it.
    if (itemSize(key.length, flags, old.length + data.length) > this.#maxItemSize) {
      return NOT_STORED;
    }
    const value = command === "append" ? old + data : data + old;
    db.update(key, value);
    this.#cas.set(key, ++this.#lastCas);
    // Replaying APPEND makes the same change (expiry and flags stay), from the new bytes alone.
    if (command === "append") this.#propagate(["APPEND", key, data]);
    else this.#logKey(key);
    this.stats.total_items++;
    return STORED;
  }

  #delete(key: string): string {
    // A key whose time has passed is not found, as the keyspace's delete() reports it.
    if (this.db.delete(key)) {
      this.stats.delete_hits++;
      this.#logKey(key);
      return "DELETED\r\n";
    }
    this.stats.delete_misses++;
    return NOT_FOUND;
  }

  /**
   * incr/decr: unsigned 64-bit arithmetic on a decimal value. `incr` wraps around at 2^64, `decr`
   * stops at 0, as memcached's `do_add_delta()`.
   *
   * Memcached writes a shorter result over the old bytes and pads it with spaces (`10` decremented
   * reads `9 `); its protocol.txt allows but does not require that. Here the value is exactly the
   * number, so the RESP side reads a clean integer it can `INCR` too.
   */
  #arithmetic(key: string, kind: "incr" | "decr", delta: bigint): string {
    const db = this.db;
    const old = db.get(key);
    if (old === undefined) {
      this.stats[kind === "incr" ? "incr_misses" : "decr_misses"]++;
      return NOT_FOUND;
    }
    // Memcached reads the number as a C string, which ends at a NUL byte.
    const nul = old.indexOf("\0");
    const current = old.length === 0 ? null : parseUint64(nul < 0 ? old : old.slice(0, nul));
    if (current === null) return NON_NUMERIC;
    // exercise memcache step 5: incr adds the delta modulo 2^64 (it wraps around to 0); decr subtracts it, but never goes below 0
    let next: bigint;
    if (kind === "incr") next = (current + delta) % TWO_64;
    else next = delta > current ? 0n : current - delta;
    // exercise starter: const next = current;
    const value = next.toString();
    // update(), not set(): the item keeps its flags and expiry.
    db.update(key, value);
    this.#cas.set(key, ++this.#lastCas);
    this.#logKey(key);
    this.stats[kind === "incr" ? "incr_hits" : "decr_hits"]++;
    return `${value}\r\n`;
  }

  /** touch: a new expiry for an existing item, which keeps its cas unique. */
  #touch(key: string, exptime: number): string {
    const db = this.db;
    this.stats.cmd_touch++;
    if (!db.has(key)) {
      this.stats.touch_misses++;
      return NOT_FOUND;
    }
    this.stats.touch_hits++;
    this.#setExpiry(key, exptime);
    return "TOUCHED\r\n";
  }

  /** A new expiry for an existing item, which keeps its cas unique: touch, gat. */
  #setExpiry(key: string, exptime: number): void {
    const db = this.db;
    const at = this.#deadline(exptime);
    const cas = this.#cas.get(key);
    let changed: boolean;
    if (at === null) changed = db.persist(key);
    else if (at <= db.clock.now()) changed = db.delete(key);
    else changed = db.setExpiresAt(key, at);
    if (changed) this.#logExpiry(key);
    // The keyspace's listener dropped the unique; a touch is not a change of the item.
    if (cas !== undefined && db.has(key)) this.#cas.set(key, cas);
  }

  /**
   * flush_all: now, or after a delay. A delayed flush caps every item's expiry at that time, and
   * until then caps the expiry of new items too, which is what memcached's "everything stored
   * before the deadline is invalid after it" amounts to.
   */
  #flushAll(delay: number): string {
    this.stats.cmd_flush++;
    const at = delay > 0 ? this.#deadline(delay) : null;
    if (at === null || at <= this.db.clock.now()) {
      this.db.clear();
      this.#propagate(["FLUSHALL"]);
      return "OK\r\n";
    }
    // A flush does not change items, so their uniques survive the expiry changes.
    const uniques = new Map(this.#cas);
    expireAllBy(this.db, at);
    for (const [key, cas] of uniques) if (this.db.has(key)) this.#cas.set(key, cas);
    this.#flushAt = at;
    this.#propagate(["MCFLUSHAT", String(at)]);
    return "OK\r\n";
  }

  /** A refused data block: memcached also drops the old item on `set`, so no stale value lingers. */
  #tooLarge(request: StoreRequest): string {
    this.stats.store_too_large++;
    if (request.command === "set" && this.db.delete(request.key)) this.#logKey(request.key);
    return "SERVER_ERROR object too large for cache\r\n";
  }

  #statsCommand(args: string[]): Outcome {
    if (args.length === 0) return this.#statsLines();
    if (args[0] === "reset") {
      const { curr_connections, total_connections } = this.stats;
      this.stats = { ...zeroStats(), curr_connections, total_connections };
      return "RESET\r\n";
    }
    // `stats settings`, `stats items`, `stats slabs`... describe memcached's allocator: not here.
    return "ERROR\r\n";
  }

  /** `stats`: `STAT name value` lines, memcached's names in memcached's order, then `END`. */
  #statsLines(): string {
    const s = this.stats;
    const usage = cpuUsage();
    const lines: [string, string | number][] = [
      ["pid", Deno.pid],
      ["uptime", Math.floor((Date.now() - this.#startedAt) / 1000)],
      ["time", Math.floor(this.db.clock.now() / 1000)],
      ["version", MEMCACHED_VERSION],
      ["pointer_size", 64],
      ["rusage_user", (usage.user / 1e6).toFixed(6)],
      ["rusage_system", (usage.system / 1e6).toFixed(6)],
      ["max_connections", this.#maxConnections],
      ["curr_connections", s.curr_connections],
      ["total_connections", s.total_connections],
      ["rejected_connections", s.rejected_connections],
      ["cmd_get", s.cmd_get],
      ["cmd_set", s.cmd_set],
      ["cmd_flush", s.cmd_flush],
      ["cmd_touch", s.cmd_touch],
      ["get_hits", s.get_hits],
      ["get_misses", s.get_misses],
      ["delete_misses", s.delete_misses],
      ["delete_hits", s.delete_hits],
      ["incr_misses", s.incr_misses],
      ["incr_hits", s.incr_hits],
      ["decr_misses", s.decr_misses],
      ["decr_hits", s.decr_hits],
      ["cas_misses", s.cas_misses],
      ["cas_hits", s.cas_hits],
      ["cas_badval", s.cas_badval],
      ["touch_hits", s.touch_hits],
      ["touch_misses", s.touch_misses],
      ["store_too_large", s.store_too_large],
      ["bytes_read", s.bytes_read],
      ["bytes_written", s.bytes_written],
      ["threads", 1],
      // Every key, whichever protocol wrote it: it is one keyspace.
      ["curr_items", this.db.size],
      ["total_items", s.total_items],
      ["evictions", 0],
    ];
    return lines.map(([name, value]) => `STAT ${name} ${value}\r\n`).join("") + "END\r\n";
  }
}

/** With `noreply`, memcached sends nothing back, errors included. */
function quiet(reply: string, noreply: boolean): string | null {
  return noreply ? null : reply;
}
