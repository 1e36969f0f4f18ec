/**
 * Eviction: staying under `--maxmemory`, like a real cache.
 *
 * A cache that grows without bound is a memory leak with a network port. With `--maxmemory 100mb`,
 * before a command writes, the server checks its estimate of the data's size (see "Counting bytes"
 * in `keyspace.ts`); while it is over the limit, the eviction policy picks a key to remove. This
 * is Redis's `performEvictions()`, which `processCommand()` calls before running a command.
 *
 * | policy                 | removes                                    |
 * | ---------------------- | ------------------------------------------ |
 * | `noeviction` (default) | nothing                                    |
 * | `allkeys-lru`          | the least recently used key                |
 * | `volatile-lru`         | the least recently used key **with a TTL** |
 * | `allkeys-random`       | a key picked at random                     |
 * | `volatile-random`      | a key with a TTL, picked at random         |
 *
 * When the policy finds nothing to remove, commands that would add data are refused with
 * `-OOM command not allowed when used memory > 'maxmemory'.`; reads and deletions still work.
 *
 * The LRU is exact here, from the keyspace's order (see `keyspace.ts`); Redis approximates it by
 * sampling five keys and evicting the one idle longest. "Random" here is a random stride through
 * the keyspace from a cursor that keeps moving, since a `Map` cannot be indexed: each key is
 * equally likely to be skipped, so a pass removes keys spread evenly over the whole keyspace.
 *
 * The limit is on the data of every database together. With keys in several, eviction takes one
 * key from each in turn, as Redis's random policies walk its databases in turn; Redis's LRU pool
 * compares idle times across databases, where the order here is kept per database.
 *
 * @module
 */

import { ErrorReply } from "../../shared/resp/reply.ts";
import type { ConfigSetter } from "../../shared/server/config.ts";
import type { InfoFields } from "../../shared/server/info.ts";
import { Part, type Stage } from "../../shared/server/stage.ts";
import { parseSize } from "../02-threaded/cli.ts";
import { EXPIRING_DATABASES } from "./expiry.ts";
import { type ExpiringKeyspace, sumOf, usedMemoryOf } from "./keyspace.ts";

/** The policies `--maxmemory-policy` accepts. */
export const EVICTION_POLICIES = [
  "noeviction",
  "allkeys-lru",
  "volatile-lru",
  "allkeys-random",
  "volatile-random",
] as const;

/** One of {@link EVICTION_POLICIES}. */
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

/**
 * Tells whether a word names a policy.
 *
 * @param name Such as `allkeys-lru`.
 * @returns `true` if it is one.
 */
export function isEvictionPolicy(name: string): name is EvictionPolicy {
  return (EVICTION_POLICIES as readonly string[]).includes(name);
}

/** Redis's error for a command that would add data when nothing more can be evicted. */
export const OOM_ERROR: ErrorReply = new ErrorReply(
  "OOM command not allowed when used memory > 'maxmemory'.",
);

/** Options for {@link Evictor}. */
export interface EvictorOptions {
  /** The limit in bytes; 0 means none. */
  maxmemory: number;
  /** Which keys go first. */
  policy: EvictionPolicy;
  /** A number in [0, 1); `Math.random` by default (tests pass a seeded one). */
  random?: () => number;
}

/** The longest random stride: on average one key in eight is a candidate on each pass. */
const MAX_STRIDE = 16;

/**
 * Evicts keys until the data fits under `maxmemory`.
 *
 * @example
 * ```ts
 * const evictor = new Evictor([db], { maxmemory: 1 << 20, policy: "allkeys-lru" });
 * if (!evictor.performEvictions()) return OOM_ERROR;
 * ```
 */
export class Evictor {
  #maxmemory: number;
  #policy: EvictionPolicy;
  #databases: readonly ExpiringKeyspace[];
  #random: () => number;
  /**
   * Where the last eviction stopped in each database; walking on from there avoids rescanning
   * removed entries.
   */
  #cursors: (Iterator<string> | null)[];
  /** The database the next eviction looks in first. */
  #next = 0;

  /**
   * Prepares eviction for a server's databases, and tells them to keep LRU order if the policy
   * needs it.
   *
   * @param databases The databases.
   * @param options The limit and the policy.
   */
  constructor(databases: readonly ExpiringKeyspace[], options: EvictorOptions) {
    this.#databases = databases;
    this.#cursors = databases.map(() => null);
    this.#maxmemory = options.maxmemory;
    this.#policy = options.policy;
    this.#random = options.random ?? Math.random;
    this.#trackAccess();
  }

  /** Tells every database whether to keep LRU order: only the LRU policies pay for it. */
  #trackAccess(): void {
    for (const db of this.#databases) db.trackAccess = this.#policy.endsWith("-lru");
  }

  /** The limit in bytes; 0 means none. */
  get maxmemory(): number {
    return this.#maxmemory;
  }

  /** Which keys go first. */
  get policy(): EvictionPolicy {
    return this.#policy;
  }

  /**
   * Changes the limit or the policy while the server runs (`CONFIG SET`). Switching to an LRU
   * policy starts tracking accesses now, so until keys are used again the order is the order they
   * were written in: Redis warns likewise that its LRU data "will take some time to adjust".
   *
   * @param options The new limit, policy, or both.
   */
  reconfigure(options: { maxmemory?: number; policy?: EvictionPolicy }): void {
    if (options.maxmemory !== undefined) this.#maxmemory = options.maxmemory;
    if (options.policy !== undefined) {
      this.#policy = options.policy;
      this.#trackAccess();
      this.#cursors.fill(null);
    }
  }

  /** Whether the data is over the limit now. */
  get overLimit(): boolean {
    return this.maxmemory > 0 && usedMemoryOf(this.#databases) > this.maxmemory;
  }

  /**
   * Removes keys, as the policy says, until the data is under the limit.
   *
   * @returns `true` if it is under the limit (or there is none); `false` if the policy cannot
   *   remove anything more (`noeviction`, or no key with a TTL left for a `volatile-` policy).
   */
  performEvictions(): boolean {
    if (!this.overLimit) return true;
    // exercise step 9: noeviction refuses; otherwise remove the policy's candidates until it fits
    if (this.policy === "noeviction") return false;
    while (usedMemoryOf(this.#databases) > this.maxmemory) {
      const found = this.#candidate();
      if (found === undefined) return false;
      const { db, key } = found;
      // A key whose time has passed is removed as expired (it was going anyway), not evicted.
      if (!db.expireIfNeeded(key)) db.evict(key);
    }
    return true;
    // exercise starter: return true;
  }

  /**
   * The next key the policy would remove, from the next database that has one, or `undefined` if
   * none has.
   */
  #candidate(): { db: ExpiringKeyspace; key: string } | undefined {
    for (let n = 0; n < this.#databases.length; n++) {
      const index = this.#next;
      this.#next = (index + 1) % this.#databases.length;
      const key = this.#candidateIn(index);
      if (key !== undefined) return { db: this.#databases[index], key };
    }
    return undefined;
  }

  /** The key the policy would remove from one database, or `undefined` if there is none. */
  #candidateIn(index: number): string | undefined {
    const db = this.#databases[index];
    const volatile = this.policy.startsWith("volatile-");
    const pool = () => volatile ? db.expiringKeys() : db.storedKeys();
    if (volatile ? db.expiringCount === 0 : db.size === 0) return undefined;
    if (this.policy.endsWith("-lru")) {
      // The keyspace keeps least recently used first. A cursor kept between evictions always
      // stands on the oldest live key: everything before it was evicted or moved to the end.
      return this.#step(index, pool);
    }
    let key: string | undefined;
    const stride = 1 + Math.floor(this.#random() * MAX_STRIDE);
    for (let i = 0; i < stride; i++) key = this.#step(index, pool);
    return key;
  }

  /** Advances a database's cursor by one key, starting over at the end. */
  #step(index: number, pool: () => Iterator<string>): string | undefined {
    let step = this.#cursors[index]?.next();
    if (step === undefined || step.done) {
      const cursor = pool();
      this.#cursors[index] = cursor;
      step = cursor.next();
    }
    return step.done ? undefined : step.value;
  }
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
function setMaxmemory(evictor: Evictor, options: { maxmemory: number }): ConfigSetter {
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

/** What the {@link eviction} stage provides to later ones: the write path and memcached's port. */
export const EVICTOR: Part<Evictor> = new Part("eviction");

/**
 * The stage: an {@link Evictor} for `--maxmemory` and its policy, `CONFIG GET/SET` for both, and
 * `INFO memory` computed from the keyspace's own count of its data, which is what the limit is
 * compared against. The write path (`writes.ts`) asks the evictor for room before each write.
 */
export const eviction: Stage<{ maxmemory: number; maxmemoryPolicy: EvictionPolicy }> = {
  name: "eviction",
  module: import.meta.url,
  install(assembly) {
    const { server, options } = assembly;
    const databases = assembly.need(EXPIRING_DATABASES);
    const evictor = new Evictor(databases, {
      maxmemory: options.maxmemory,
      policy: options.maxmemoryPolicy,
    });
    assembly.provide(EVICTOR, evictor);
    server.config
      .define("maxmemory", () => String(evictor.maxmemory), setMaxmemory(evictor, options))
      .define("maxmemory-policy", () => evictor.policy, setPolicy(evictor));
    server.onResetStats(() => databases.forEach((db) => db.evictedKeys = 0));
    let peak = 0;
    server.info
      .extend("Memory", (): InfoFields => {
        const m = Deno.memoryUsage();
        const used = usedMemoryOf(databases);
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
      .extend("Stats", () => [["evicted_keys", sumOf(databases, (db) => db.evictedKeys)]]);
  },
};
