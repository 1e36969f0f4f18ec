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
 * @module
 */

import { ErrorReply } from "../../shared/resp/reply.ts";
import type { ExpiringKeyspace } from "./keyspace.ts";

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
 * const evictor = new Evictor(db, { maxmemory: 1 << 20, policy: "allkeys-lru" });
 * if (!evictor.performEvictions()) return OOM_ERROR;
 * ```
 */
export class Evictor {
  #maxmemory: number;
  #policy: EvictionPolicy;
  #db: ExpiringKeyspace;
  #random: () => number;
  /** Where the last eviction stopped; walking on from there avoids rescanning removed entries. */
  #cursor: Iterator<string> | null = null;

  /**
   * Prepares eviction for a keyspace, and tells the keyspace to keep LRU order if the policy
   * needs it.
   *
   * @param db The keyspace.
   * @param options The limit and the policy.
   */
  constructor(db: ExpiringKeyspace, options: EvictorOptions) {
    this.#db = db;
    this.#maxmemory = options.maxmemory;
    this.#policy = options.policy;
    this.#random = options.random ?? Math.random;
    db.trackAccess = options.policy.endsWith("-lru");
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
      this.#db.trackAccess = options.policy.endsWith("-lru");
      this.#cursor = null;
    }
  }

  /** Whether the data is over the limit now. */
  get overLimit(): boolean {
    return this.maxmemory > 0 && this.#db.usedMemory > this.maxmemory;
  }

  /**
   * Removes keys, as the policy says, until the data is under the limit.
   *
   * @returns `true` if it is under the limit (or there is none); `false` if the policy cannot
   *   remove anything more (`noeviction`, or no key with a TTL left for a `volatile-` policy).
   */
  performEvictions(): boolean {
    if (!this.overLimit) return true;
    if (this.policy === "noeviction") return false;
    const db = this.#db;
    while (db.usedMemory > this.maxmemory) {
      const key = this.#candidate();
      if (key === undefined) return false;
      // A key whose time has passed is removed as expired (it was going anyway), not evicted.
      if (!db.expireIfNeeded(key)) db.evict(key);
    }
    return true;
  }

  /** The next key the policy would remove, or `undefined` if there is none. */
  #candidate(): string | undefined {
    const volatile = this.policy.startsWith("volatile-");
    const pool = () => volatile ? this.#db.expiringKeys() : this.#db.storedKeys();
    if (volatile ? this.#db.expiringCount === 0 : this.#db.size === 0) return undefined;
    if (this.policy.endsWith("-lru")) {
      // The keyspace keeps least recently used first. A cursor kept between evictions always
      // stands on the oldest live key: everything before it was evicted or moved to the end.
      return this.#step(pool);
    }
    let key: string | undefined;
    const stride = 1 + Math.floor(this.#random() * MAX_STRIDE);
    for (let i = 0; i < stride; i++) key = this.#step(pool);
    return key;
  }

  /** Advances the cursor by one key, starting over at the end. */
  #step(pool: () => Iterator<string>): string | undefined {
    let step = this.#cursor?.next();
    if (step === undefined || step.done) {
      this.#cursor = pool();
      step = this.#cursor.next();
    }
    return step.done ? undefined : step.value;
  }
}
