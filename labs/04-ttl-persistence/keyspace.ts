/**
 * Lab 4's keyspace: the shared one, plus what lab 4 stores about each key — an expiry time,
 * memcached's flags, its place in least-recently-used order, its share of the byte count. What
 * only needs to *hear* of a change — lab 2's `WATCH`, persistence's count of changes, the
 * copy-on-write of a background snapshot, the log's `DEL` for an expired key — observes it
 * instead (see `KeyspaceObserver` in `shared/keyspace.ts`), installed by the stage it belongs to.
 *
 * Expiry times live in a second hash table (`shared/hash_table.ts`) that holds only the keys that
 * have one, as Redis keeps its `expires` dictionary beside the main one: a key without a TTL costs
 * nothing extra. A key past its time is treated as missing by every read (`get`, `has`, `keys`,
 * `entries`) and removed on the spot; keys nobody reads are reclaimed by active expiry (see
 * `expiry.ts`).
 *
 * Three more things every write now does, because the keyspace is the one door they all go through:
 *
 * - it tells its observers *before* a key changes, a new expiry time included. Persistence counts
 *   the changes there, so `--save 60 1000` knows how many the last snapshot missed; a background
 *   snapshot copies the old value of a key it has not written yet (copy-on-write, which Redis
 *   gets from `fork()`); memcached's `cas` learns that an item changed. It tells them *after* it
 *   removed a key by itself, which the log writes as a `DEL`;
 * - it keeps a running estimate of the bytes the data takes (`usedMemory`), which `--maxmemory`
 *   compares against (see "Counting bytes" below);
 * - with `trackAccess` on (an LRU eviction policy), it keeps the keys in least-recently-used order.
 *
 * **Counting bytes.** Redis asks its allocator how much memory is in use. JavaScript has no such
 * count: `Deno.memoryUsage().heapUsed` includes garbage not yet collected, so it jumps up under
 * load and down at each collection, and deleting a key frees nothing until the next one. Evicting
 * by that number would evict far too much after a burst of garbage, or nothing at all. So the
 * keyspace adds up what each key costs in V8's heap as it is written and removed: a string is a
 * 16-byte header plus one byte per character rounded up to 8, and an entry in the hash table about
 * 32 bytes; `bench/memory.ts` prints it beside V8's own heap statistics, and the two agree closely
 * (`bench/README.md`). The estimate is exact in a test, moves by a known amount on every write, and
 * drops the moment a key is evicted.
 *
 * **Least recently used, exactly.** The keyspace's hash table, like a JavaScript `Map`, iterates in
 * insertion order, and can move a key to the end; so if every access does that, the first key is
 * always the least recently used one. That is an exact LRU for no memory at all (Redis instead
 * stores a 24-bit access clock in every key and evicts the oldest of a few sampled keys, an
 * approximation, because its hash table has no order). The price is a move on every read, so it
 * is switched on only when the eviction policy needs it.
 *
 * @module
 */

import { HashTable } from "../../shared/hash_table.ts";
import { type ChangeCounter, Keyspace } from "../../shared/keyspace.ts";
import type { ScanStep } from "../../shared/scan_index.ts";
import { type Clock, systemClock } from "./clock.ts";

/** One key with everything stored about it, as a snapshot writes it. */
export interface Entry {
  /** The key, a byte string. */
  key: string;
  /** The value, a byte string. */
  value: string;
  /** When it expires, in milliseconds since the epoch; `null` for never. */
  expiresAt: number | null;
  /** Memcached's opaque 32-bit flags; 0 for keys written over RESP. */
  flags: number;
}

/** V8's header of a sequential one-byte string: map pointer, hash, length. */
const STRING_HEADER_BYTES = 16;
/**
 * One entry of the hash table: key and value pointers, hash and chain, its bucket, and the room the
 * arrays keep for growth.
 */
export const MAP_ENTRY_BYTES = 32;
/** An expiry: an entry in the expiry table, and the boxed number (too big for a small integer). */
export const EXPIRY_BYTES: number = MAP_ENTRY_BYTES + 16;

/**
 * What a byte string costs in V8's heap, by the layout of a sequential one-byte string.
 *
 * @param s A byte string.
 * @returns Bytes: the header plus the characters, rounded up to 8.
 */
export function stringBytes(s: string): number {
  return STRING_HEADER_BYTES + ((s.length + 7) & ~7);
}

/**
 * What one key and its value cost in the estimate behind `used_memory` and `--maxmemory`.
 *
 * @param key A byte string.
 * @param value A byte string.
 * @returns Bytes.
 */
export function entryBytes(key: string, value: string): number {
  return MAP_ENTRY_BYTES + stringBytes(key) + stringBytes(value);
}

/**
 * A keyspace whose keys can expire.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(0);
 * const db = new ExpiringKeyspace(clock);
 * db.set("session", "abc");
 * db.setExpiresAt("session", 1_000);
 * clock.advance(1_000);
 * db.get("session"); // undefined
 * ```
 */
export class ExpiringKeyspace extends Keyspace {
  #expires = new HashTable<number>();
  #flags = new HashTable<number>();
  /** The bytes of expiry times and flags; the keys' and values' are the table's weight. */
  #metadataBytes = 0;
  /** Keys removed because their time had come (`INFO stats` `expired_keys`). */
  expiredKeys = 0;
  /** Keys removed to stay under `--maxmemory` (`INFO stats` `evicted_keys`). */
  evictedKeys = 0;
  /**
   * Keep keys in least-recently-used order (see the module's notes). Off by default: it costs a
   * move in the hash table on every read, and only the LRU eviction policies need it.
   */
  trackAccess = false;
  /**
   * While the server loads its files: nothing expires. Set and cleared by persistence around
   * loading (see `persistence/persistence.ts`).
   *
   * A log is a history, and replaying it is only right if every command meets the keyspace it
   * met the first time. `SET s v PX 1000` then `PERSIST s` made `s` permanent; replayed an hour
   * later with expiry on, the `SET` would create a key already dead, the `PERSIST` would find
   * nothing, and `s` would be lost. So, as Redis does (`keyIsExpired()` answers "no" while
   * `server.loading`), a time that has passed removes nothing during loading. Once loaded, what is
   * due goes the normal way: lazily on access, or by active expiry, which logs its `DEL`s.
   */
  loading = false;

  /**
   * Creates an empty keyspace.
   *
   * @param clock Where the time comes from; the real one by default.
   * @param counter Where its changes are counted (see `Keyspace`); its own by default.
   */
  constructor(readonly clock: Clock = systemClock, counter?: ChangeCounter) {
    super(counter, entryBytes);
  }

  /**
   * The estimated bytes the keys, values, expiry times and flags take in the heap: Redis's
   * `used_memory`, as far as the data goes (see the module's notes).
   */
  get usedMemory(): number {
    return this.dataWeight + this.#metadataBytes;
  }

  /** Reads a value; an expired key is removed and reads as missing. */
  override get(key: string): string | undefined {
    if (this.expireIfNeeded(key)) return undefined;
    const value = super.get(key);
    if (this.trackAccess && value !== undefined) this.#used(key);
    return value;
  }

  /** Tells whether a live key exists. */
  override has(key: string): boolean {
    if (this.expireIfNeeded(key)) return false;
    if (!this.trackAccess) return super.has(key);
    if (!super.has(key)) return false;
    this.#used(key);
    return true;
  }

  /**
   * Sets a value and clears the key's flags; clears its expiry too, as Redis's `SET` does, or sets
   * a new one in the same change (`SET key value PX 100`).
   *
   * @param key A byte string.
   * @param value A byte string.
   * @param expiresAt When it expires, in milliseconds since the epoch; `null` (the default) for
   *   never. A time already past removes the key at once, as Redis 7 does for `SET ... EXAT 1`.
   */
  override set(key: string, value: string, expiresAt: number | null = null): void {
    // Observers hear of the change here, while the old value, expiry and flags are still there.
    const old = this.replace(key, value);
    // The table keeps an existing key where it is; an access must move it to the end.
    if (old !== undefined && this.trackAccess) this.moveToEnd(key);
    this.#dropExpiryAndFlags(key);
    if (expiresAt !== null) {
      this.#expires.set(key, expiresAt);
      this.#metadataBytes += EXPIRY_BYTES;
      if (this.#isPast(expiresAt)) this.#remove(key);
    }
  }

  /** Changes a value and keeps its expiry and flags, as `INCR` and `APPEND` do. */
  override update(key: string, value: string): void {
    const old = this.replace(key, value);
    if (old !== undefined && this.trackAccess) this.moveToEnd(key);
    if (this.trackAccess) this.#moveExpiryToEnd(key);
  }

  /**
   * Copies a key with its expiry time and flags (`COPY`, and `RENAME` which then deletes the
   * source), as Redis's `copyCommand()` and `renameGenericCommand()` carry the TTL over. An expired
   * source is removed and reads as missing. The destination's own TTL and flags are replaced,
   * in this database or another (`COPY ... DB`, `MOVE`).
   */
  override copy(from: string, to: string, target: this = this): boolean {
    const value = this.get(from);
    if (value === undefined) return false;
    target.set(to, value, this.#expires.get(from) ?? null);
    const flags = this.#flags.get(from);
    if (flags !== undefined) target.setFlags(to, flags);
    return true;
  }

  /** Swaps the expiry times, flags and byte count with the keys (`SWAPDB`). */
  protected override swapContents(other: this): void {
    super.swapContents(other);
    [this.#expires, other.#expires] = [other.#expires, this.#expires];
    [this.#flags, other.#flags] = [other.#flags, this.#flags];
    [this.#metadataBytes, other.#metadataBytes] = [other.#metadataBytes, this.#metadataBytes];
  }

  /**
   * Removes a key. A key whose time has passed is expired instead and reported as missing, as
   * Redis's `DEL` of such a key replies 0.
   */
  override delete(key: string): boolean {
    return !this.expireIfNeeded(key) && this.#remove(key);
  }

  /** Removes every key. */
  override clear(): void {
    // Observers hear of the flush first, while every key and its expiry can still be read.
    super.clear();
    this.#expires.clear();
    this.#flags.clear();
    this.#metadataBytes = 0;
  }

  /** Iterates over the live keys, skipping (not removing) expired ones. */
  override *keys(): IterableIterator<string> {
    const now = this.loading ? -Infinity : this.clock.now();
    // With LRU order on, reading a key moves it to the end of the table, where a live iterator
    // would meet it again: `DUMP` reads every key it lists, and would never finish. So iterate a
    // copy.
    const keys = this.trackAccess ? Array.from(super.keys()) : super.keys();
    for (const key of keys) {
      const at = this.#expires.get(key);
      if (at === undefined || at > now) yield key;
    }
  }

  /**
   * One step of `SCAN`, skipping keys whose time has passed: they are removed on the spot, as
   * Redis's SCAN expires what it meets. Nothing is moved in the LRU order: a scan is not a use.
   */
  override scan(cursor: bigint, count: number): ScanStep {
    const step = super.scan(cursor, count);
    step.keys = step.keys.filter((key) => !this.expireIfNeeded(key));
    return step;
  }

  /**
   * Iterates over every stored key, expired or not, in the keyspace's order: least recently used
   * first when `trackAccess` is on, else oldest first. Eviction walks it.
   *
   * @returns The keys.
   */
  storedKeys(): IterableIterator<string> {
    return super.keys();
  }

  /** Iterates over every live key with its value, expiry and flags: what a snapshot writes. */
  *entries(): IterableIterator<Entry> {
    for (const key of this.keys()) {
      yield {
        key,
        value: super.get(key) ?? "",
        expiresAt: this.#expires.get(key) ?? null,
        flags: this.#flags.get(key) ?? 0,
      };
    }
  }

  /**
   * Adds a key while loading a snapshot: no observer hears of it, so it is not counted as a change.
   * A key whose time has already passed is skipped, as Redis skips it in an RDB file: a snapshot
   * is one moment's state, not a history, and nothing read after it can depend on the key.
   *
   * @param entry The key and what is stored with it.
   * @returns Whether it was added.
   */
  load(entry: Entry): boolean {
    if (entry.expiresAt !== null && entry.expiresAt <= this.clock.now()) return false;
    if (super.has(entry.key)) {
      this.#dropExpiryAndFlags(entry.key);
      this.moveToEnd(entry.key);
    }
    this.restore(entry.key, entry.value);
    if (entry.expiresAt !== null) {
      this.#expires.set(entry.key, entry.expiresAt);
      this.#metadataBytes += EXPIRY_BYTES;
    }
    if (entry.flags !== 0) {
      this.#flags.set(entry.key, entry.flags);
      this.#metadataBytes += MAP_ENTRY_BYTES;
    }
    return true;
  }

  /**
   * Reads everything stored about a key as it is this instant, expired or not, without removing it
   * or telling observers. An observer uses it to copy a key's old state (a background
   * snapshot's copy-on-write), where `get()` would expire the key and announce that change too.
   *
   * @param key A byte string.
   * @returns The entry, or `undefined` if the key is not stored at all.
   */
  peek(key: string): Entry | undefined {
    const value = super.get(key);
    if (value === undefined) return undefined;
    return {
      key,
      value,
      expiresAt: this.#expires.get(key) ?? null,
      flags: this.#flags.get(key) ?? 0,
    };
  }

  /**
   * When a key expires.
   *
   * @param key A byte string.
   * @returns Milliseconds since the epoch, or `null` if it has no expiry or does not exist.
   */
  expiresAt(key: string): number | null {
    return this.has(key) ? this.#expires.get(key) ?? null : null;
  }

  /**
   * Gives an existing key an expiry time. A time already past removes the key at once, as Redis's
   * `EXPIRE key -1` deletes it.
   *
   * @param key A byte string.
   * @param at Milliseconds since the epoch.
   * @returns Whether the key existed.
   */
  setExpiresAt(key: string, at: number): boolean {
    if (!this.has(key)) return false;
    if (this.#isPast(at)) return this.delete(key);
    this.announce(key);
    if (this.#expires.has(key)) {
      // Re-inserted rather than overwritten, so that the expiry order stays an LRU order too.
      if (this.trackAccess) this.#expires.delete(key);
    } else {
      this.#metadataBytes += EXPIRY_BYTES;
    }
    this.#expires.set(key, at);
    return true;
  }

  /**
   * Removes a key's expiry (`PERSIST`).
   *
   * @param key A byte string.
   * @returns Whether the key existed and had an expiry.
   */
  persist(key: string): boolean {
    if (!this.has(key) || !this.#expires.has(key)) return false;
    this.announce(key);
    this.#metadataBytes -= EXPIRY_BYTES;
    return this.#expires.delete(key);
  }

  /** How many keys have an expiry (`INFO keyspace` `expires=`). */
  get expiringCount(): number {
    return this.#expires.size;
  }

  /**
   * The keys that have an expiry, for active expiry to sample from; least recently used first when
   * `trackAccess` is on (the order `volatile-lru` evicts in).
   */
  expiringKeys(): IterableIterator<string> {
    return this.#expires.keys();
  }

  /**
   * A key's expiry time as stored, without checking whether it has passed: for active expiry's
   * average TTL, which must not remove what it looks at.
   *
   * @param key A byte string.
   * @returns Milliseconds since the epoch, or `undefined` if it has none.
   */
  storedExpiry(key: string): number | undefined {
    return this.#expires.get(key);
  }

  /**
   * Memcached's flags of a key.
   *
   * @param key A byte string.
   * @returns The flags, 0 if none or the key does not exist.
   */
  flagsOf(key: string): number {
    return this.#flags.get(key) ?? 0;
  }

  /**
   * Sets memcached's flags on an existing key.
   *
   * @param key A byte string.
   * @param flags A 32-bit unsigned number; 0 removes them.
   */
  setFlags(key: string, flags: number): void {
    if (!this.has(key)) return;
    this.announce(key);
    const had = this.#flags.has(key);
    if (flags === 0) {
      if (this.#flags.delete(key)) this.#metadataBytes -= MAP_ENTRY_BYTES;
    } else {
      this.#flags.set(key, flags);
      if (!had) this.#metadataBytes += MAP_ENTRY_BYTES;
    }
  }

  /**
   * Removes a key if its time has come: the lazy half of expiry, run by every read.
   *
   * @param key A byte string.
   * @returns `true` if the key was expired (and is now gone).
   */
  expireIfNeeded(key: string): boolean {
    // exercise step 6: a key whose time has passed is removed, counted and announced: report true
    const at = this.#expires.get(key);
    if (at === undefined || !this.#isPast(at)) return false;
    this.#remove(key);
    this.expiredKeys++;
    this.announceRemoved(key, "expired");
    return true;
    // exercise starter: return false;
  }

  /**
   * Removes a key to free memory (`--maxmemory`); counted in `evictedKeys`.
   *
   * @param key A byte string.
   * @returns Whether the key existed.
   */
  evict(key: string): boolean {
    if (!this.#remove(key)) return false;
    this.evictedKeys++;
    this.announceRemoved(key, "evicted");
    return true;
  }

  /** Whether a time has come: never while loading (see {@link loading}). */
  #isPast(at: number): boolean {
    return at <= this.clock.now() && !this.loading;
  }

  /** A read of an existing key, in LRU order: to the end of the keys and of the expiry times. */
  #used(key: string): void {
    this.moveToEnd(key);
    this.#moveExpiryToEnd(key);
  }

  #moveExpiryToEnd(key: string): void {
    if (this.#expires.size > 0) this.#expires.moveToEnd(key);
  }

  /** Removes a key whatever its expiry; observers hear of it before anything is gone. */
  #remove(key: string): boolean {
    if (!super.delete(key)) return false;
    this.#dropExpiryAndFlags(key);
    return true;
  }

  /**
   * Forgets a key's expiry and flags. Most keyspaces have no flags and many no expiries; a lookup
   * hashes the key even when the table is empty, so an empty one is not asked.
   */
  #dropExpiryAndFlags(key: string): void {
    if (this.#expires.size > 0 && this.#expires.delete(key)) this.#metadataBytes -= EXPIRY_BYTES;
    if (this.#flags.size > 0 && this.#flags.delete(key)) this.#metadataBytes -= MAP_ENTRY_BYTES;
  }
}

/**
 * Adds up a number over a server's databases: `INFO`'s counts, and the data's size, which
 * `--maxmemory` limits for all databases together.
 *
 * @param databases The databases.
 * @param of The number for one.
 * @returns The total.
 */
export function sumOf(
  databases: readonly ExpiringKeyspace[],
  of: (db: ExpiringKeyspace) => number,
): number {
  let total = 0;
  for (let i = 0; i < databases.length; i++) total += of(databases[i]);
  return total;
}

/**
 * The estimated bytes of every database's data together (see {@link ExpiringKeyspace.usedMemory}).
 *
 * @param databases The databases.
 * @returns The total.
 */
export function usedMemoryOf(databases: readonly ExpiringKeyspace[]): number {
  return sumOf(databases, (db) => db.usedMemory);
}
