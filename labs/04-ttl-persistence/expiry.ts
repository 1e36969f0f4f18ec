/**
 * Active expiry: reclaiming keys whose time has come even if nobody ever reads them again.
 *
 * Lazy expiry (in `keyspace.ts`) makes an expired key invisible: every read checks the time first.
 * But a session key written once and never read again would sit in memory forever. So, ten times a
 * second, a timer looks for expired keys and removes them. There are three classic designs:
 *
 * - **Sampling** (Redis's `activeExpireCycle()`): each tick, look at 20 keys that have a TTL and
 *   remove the expired ones; go on while more than 10 % of a sample was expired. Costs nothing
 *   per key.
 * - **A timer heap** (many timer libraries): each tick, pop every key whose time has passed. Costs
 *   a heap slot per key, plus an index to find the slot when a TTL changes.
 * - **A sorted index** (mini-redis's `BTreeSet<(Instant, key)>`): each tick, walk the tree from
 *   the earliest time. Costs a tree node per key.
 *
 * The heap and the tree are exact: each tick removes precisely the keys that are due, and the
 * earliest deadline is known, so a single timer can sleep until it. They cost memory for every key
 * with a TTL, and work on every `EXPIRE`, `PERSIST` and `SET` of such a key (a tree insert and
 * delete, or a heap update through an index). Sampling costs nothing per key and nothing per
 * write; it is approximate instead: a few expired keys may linger until a later tick finds them,
 * while staying invisible to every read thanks to lazy expiry. It adapts by itself: when a sample
 * shows many expired keys it keeps going (within a time budget, so a million keys expiring at once
 * cannot freeze the server), and when few keys expire it does almost nothing.
 *
 * This lab takes Redis's sampling. One detail differs from the Redis of old and matches Redis 6 and
 * later: instead of picking random keys (a JavaScript `Map` cannot), it walks the expiry `Map` with
 * a cursor that survives from one tick to the next, as Redis 6 walks its `expires` table with
 * `expires_cursor`. Over a few ticks every key with a TTL gets looked at.
 *
 * The same walk measures the average remaining TTL, smoothed as Redis does, for `INFO keyspace`'s
 * `avg_ttl`. A server with several databases walks each in turn within the one time budget, and a
 * tick that ran out of time starts the next one where it stopped, as Redis's `current_db` does.
 *
 * @module
 */

import { integerSetter } from "../../shared/server/config.ts";
import { keyspaceLines } from "../../shared/server/server_state.ts";
import { Part, type Stage } from "../../shared/server/stage.ts";
import { SHUTDOWN } from "../02-threaded/serve_many.ts";
import { watchesOf } from "../02-threaded/transaction.ts";
import { systemClock } from "./clock.ts";
import { expiryCommands } from "./commands.ts";
import { ExpiringKeyspace, sumOf } from "./keyspace.ts";

/** Options for {@link ActiveExpiry}. */
export interface ActiveExpiryOptions {
  /** Ticks per second (Redis's `hz`); default 10. */
  hz?: number;
  /** Keys looked at per sample (`ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`); default 20. */
  keysPerSample?: number;
  /** Keep sampling while more than this share of a sample was expired; default 0.1. */
  acceptableStale?: number;
  /** Share of each tick's period a tick may spend (Redis: 25 %); default 0.25. */
  timeBudget?: number;
  /** Milliseconds of processor time, for the budget; `performance.now` by default. */
  elapsed?: () => number;
}

/** What one tick did. */
export interface CycleResult {
  /** Keys looked at. */
  sampled: number;
  /** Keys removed. */
  expired: number;
  /** The tick stopped because its time budget ran out, with expired keys still being found. */
  timeCapReached: boolean;
}

/**
 * Removes expired keys in the background by sampling, as Redis does.
 *
 * @example
 * ```ts
 * const expiry = new ActiveExpiry([db]);
 * expiry.start();   // ten ticks a second
 * // ... at shutdown
 * expiry.stop();
 * ```
 */
export class ActiveExpiry {
  /** Ticks run so far. */
  cycles = 0;
  /** Ticks that stopped at their time budget (`INFO stats` `expired_time_cap_reached_count`). */
  timeCapReached = 0;
  #hz: number;
  #timeBudget: number;
  #walks: Walk[];
  /** The database the next tick starts with. */
  #current = 0;
  #keysPerSample: number;
  #acceptableStale: number;
  #budgetMs: number;
  #elapsed: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /**
   * Prepares active expiry for a server's databases; nothing runs until {@link start} or
   * {@link runCycle}.
   *
   * @param databases The databases, numbered from 0.
   * @param options Frequency and effort.
   */
  constructor(databases: readonly ExpiringKeyspace[], options: ActiveExpiryOptions = {}) {
    this.#walks = databases.map((db) => ({ db, cursor: null, avgTtl: 0 }));
    this.#hz = options.hz ?? 10;
    this.#timeBudget = options.timeBudget ?? 0.25;
    this.#keysPerSample = options.keysPerSample ?? 20;
    this.#acceptableStale = options.acceptableStale ?? 0.1;
    this.#budgetMs = (1000 / this.#hz) * this.#timeBudget;
    this.#elapsed = options.elapsed ?? (() => performance.now());
  }

  /**
   * The average remaining TTL of a database's sampled keys in milliseconds, smoothed
   * (`INFO keyspace`'s `avg_ttl`).
   *
   * @param index The database's number.
   * @returns The average; 0 before any key with a TTL was sampled.
   */
  avgTtl(index: number): number {
    return this.#walks[index].avgTtl;
  }

  /** Ticks per second. */
  get hz(): number {
    return this.#hz;
  }

  /**
   * Changes the ticks per second while running (`CONFIG SET hz`), each tick's time budget with
   * it, clamped to 1..500 as Redis clamps its own.
   *
   * @param hz The wanted frequency.
   */
  setHz(hz: number): void {
    this.#hz = Math.min(500, Math.max(1, hz));
    this.#budgetMs = (1000 / this.#hz) * this.#timeBudget;
    if (this.#timer !== undefined) {
      this.stop();
      this.start();
    }
  }

  /** Starts ticking `hz` times a second. */
  start(): void {
    this.#timer ??= setInterval(() => this.runCycle(), 1000 / this.hz);
  }

  /** Stops ticking. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs one tick: in each database, samples keys with a TTL and removes the expired ones, again
   * and again while a sample is more than `acceptableStale` expired and the time budget lasts.
   *
   * @returns What the tick did.
   */
  runCycle(): CycleResult {
    this.cycles++;
    const started = this.#elapsed();
    const total: CycleResult = { sampled: 0, expired: 0, timeCapReached: false };
    for (let n = 0; n < this.#walks.length; n++) {
      const walk = this.#walks[this.#current];
      this.#current = (this.#current + 1) % this.#walks.length;
      const done = this.#expireIn(walk, started);
      total.sampled += done.sampled;
      total.expired += done.expired;
      if (done.timeCapReached) {
        this.timeCapReached++;
        total.timeCapReached = true;
        break;
      }
    }
    return total;
  }

  /** One database's share of a tick, within the tick's budget. */
  #expireIn(walk: Walk, started: number): CycleResult {
    const { db } = walk;
    let sampled = 0;
    let expired = 0;
    let ttlSum = 0;
    let ttlSamples = 0;
    for (;;) {
      const size = db.expiringCount;
      if (size === 0) {
        walk.avgTtl = 0;
        break;
      }
      // Never look at more keys than exist, or one sample could see the same key twice.
      const want = Math.min(this.#keysPerSample, size);
      let expiredNow = 0;
      const now = db.clock.now();
      // exercise step 7: sample keys with a TTL, expire those past their time, repeat while many were
      for (let i = 0; i < want; i++) {
        const key = this.#next(walk);
        if (key === undefined) break;
        sampled++;
        if (db.expireIfNeeded(key)) {
          expiredNow++;
          continue;
        }
        const at = db.storedExpiry(key);
        if (at !== undefined) {
          ttlSum += at - now;
          ttlSamples++;
        }
      }
      expired += expiredNow;
      if (expiredNow <= want * this.#acceptableStale) break;
      // exercise starter: break;
      if (this.#elapsed() - started > this.#budgetMs) {
        return { sampled, expired, timeCapReached: true };
      }
    }
    if (ttlSamples > 0) {
      const average = ttlSum / ttlSamples;
      // Redis's smoothing: each tick moves the figure 2 % of the way towards what it saw.
      walk.avgTtl = walk.avgTtl === 0 ? average : (walk.avgTtl / 50) * 49 + average / 50;
    }
    return { sampled, expired, timeCapReached: false };
  }

  /** The next key with a TTL, resuming where the last tick stopped and wrapping at the end. */
  #next(walk: Walk): string | undefined {
    let step = walk.cursor?.next();
    if (step === undefined || step.done) {
      // A Map iterator that has finished stays finished, even if keys are added later.
      walk.cursor = walk.db.expiringKeys();
      step = walk.cursor.next();
    }
    return step.done ? undefined : step.value;
  }
}

/** Where active expiry is in one database's keys with a TTL, and what it saw there. */
interface Walk {
  readonly db: ExpiringKeyspace;
  /** The walk through the expiry times, resumed each tick. */
  cursor: Iterator<string> | null;
  /** The smoothed average remaining TTL of the keys sampled, in milliseconds. */
  avgTtl: number;
}

/**
 * The databases the {@link expiry} stage made, as what they are: later stages (eviction,
 * persistence, the memcache port) need their expiry times, byte counts and flags.
 */
export const EXPIRING_DATABASES: Part<readonly ExpiringKeyspace[]> = new Part("expiry");

/**
 * The stage: a keyspace whose keys can expire (lazily, on every read: `keyspace.ts`), the TTL
 * commands and the SET that knows EX/PX/KEEPTTL (`commands.ts`), watches that expire a watched
 * key whose time has come at WATCH and at EXEC (Redis 7 fails such a transaction even if nothing
 * read the key since), and {@link ActiveExpiry} in the background, `--hz` times a second once the
 * server is serving.
 */
export const expiry: Stage<{ hz: number }> = {
  name: "expiry",
  module: import.meta.url,
  keyspace: (_options, counter) => new ExpiringKeyspace(systemClock, counter),
  install(assembly) {
    const { server, commands, options } = assembly;
    // The one place lab 4 looks at what the databases are: the factory above made them, so this
    // holds unless a later stage asked for a different keyspace.
    const databases = server.databases.map((db) => {
      if (!(db instanceof ExpiringKeyspace)) {
        throw new TypeError("The expiry stage's keyspace was replaced by a later stage's");
      }
      // Redis 7: a watched key past its time is removed at WATCH (no false conflict later) and
      // at EXEC (the transaction fails even if no read noticed the expiry).
      watchesOf(db).settle = (key) => {
        db.expireIfNeeded(key);
      };
      return db;
    });
    assembly.provide(EXPIRING_DATABASES, databases);
    commands.registerAll(expiryCommands(databases));

    const active = new ActiveExpiry(databases, { hz: options.hz });
    // Redis reports the value as set and runs at it clamped to 1..500; so does this.
    let hz = active.hz;
    server.config.define(
      "hz",
      () => String(hz),
      integerSetter(0, 2147483647, (n) => {
        hz = n;
        active.setHz(n);
      }),
    );
    server.onResetStats(() => databases.forEach((db) => db.expiredKeys = 0));
    server.info
      .extend("Stats", () => [
        ["expired_keys", sumOf(databases, (db) => db.expiredKeys)],
        ["expired_time_cap_reached_count", active.timeCapReached],
      ])
      .extend("Keyspace", () =>
        keyspaceLines(databases, (db, index) => {
          // Like Redis after a FLUSHDB, no key with a TTL means no average, before the next tick.
          const avgTtl = db.expiringCount === 0 ? 0 : Math.round(active.avgTtl(index));
          return `expires=${db.expiringCount},avg_ttl=${avgTtl}`;
        }));
    // Not while loading: the data is not all there yet, and nothing may expire then.
    assembly.onServing.push(() => active.start());
    assembly.need(SHUTDOWN).onStop(() => active.stop());
    assembly.onStop(() => active.stop());
  },
};
