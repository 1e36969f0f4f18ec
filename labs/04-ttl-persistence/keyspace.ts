/**
 * Lab 4's keyspace: lab 2's, plus an expiry time per key, memcached's flags, and the hooks that
 * persistence needs.
 *
 * Expiry times live in a second `Map` that holds only the keys that have one, as Redis keeps its
 * `expires` dictionary beside the main one: a key without a TTL costs nothing extra. A key past its
 * time is treated as missing by every read (`get`, `has`, `keys`, `entries`) and removed on the
 * spot; keys nobody reads are reclaimed by active expiry (see `expiry.ts`).
 *
 * Two more things every write now does, because the keyspace is the one door they all go through:
 *
 * - it counts (`dirty`), so `--save 60 1000` knows how many changes the last snapshot missed;
 * - it tells change listeners *before* a key changes. A background snapshot uses that to copy the
 *   old value of a key it has not written yet (copy-on-write, which Redis gets from `fork()`), and
 *   memcached's `cas` uses it to know an item changed.
 *
 * @module
 */

import { WatchedKeyspace } from "../02-threaded/watched_keyspace.ts";
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

/**
 * Called just before a key changes or disappears; `null` means every key (a flush).
 * The old value can still be read from the keyspace while the listener runs.
 */
export type ChangeListener = (key: string | null) => void;

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
export class ExpiringKeyspace extends WatchedKeyspace {
  #expires = new Map<string, number>();
  #flags = new Map<string, number>();
  #listeners: ChangeListener[] = [];
  /** Changes since the last snapshot, as Redis's `server.dirty`; the snapshot code resets it. */
  dirty = 0;
  /** Keys removed because their time had come (`INFO stats` `expired_keys`). */
  expiredKeys = 0;

  /**
   * Creates an empty keyspace.
   *
   * @param clock Where the time comes from; the real one by default.
   */
  constructor(readonly clock: Clock = systemClock) {
    super();
  }

  /**
   * Registers a listener for changes.
   *
   * @param listener Called before each change.
   * @returns A function that unregisters it.
   */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** Reads a value; an expired key is removed and reads as missing. */
  override get(key: string): string | undefined {
    return this.expireIfNeeded(key) ? undefined : super.get(key);
  }

  /** Tells whether a live key exists. */
  override has(key: string): boolean {
    return !this.expireIfNeeded(key) && super.has(key);
  }

  /** Sets a value and clears the key's expiry and flags, as Redis's `SET` does. */
  override set(key: string, value: string): void {
    this.#changing(key);
    super.set(key, value);
    this.#expires.delete(key);
    this.#flags.delete(key);
  }

  /** Changes a value and keeps its expiry and flags, as `INCR` and `APPEND` do. */
  override update(key: string, value: string): void {
    this.#changing(key);
    super.update(key, value);
  }

  /** Removes a key. */
  override delete(key: string): boolean {
    if (!super.has(key)) return false;
    this.#changing(key);
    this.#expires.delete(key);
    this.#flags.delete(key);
    return super.delete(key);
  }

  /** Removes every key. */
  override clear(): void {
    for (const listener of this.#listeners) listener(null);
    this.dirty += this.size;
    this.#expires.clear();
    this.#flags.clear();
    super.clear();
  }

  /** Iterates over the live keys, skipping (not removing) expired ones. */
  override *keys(): IterableIterator<string> {
    const now = this.clock.now();
    for (const key of super.keys()) {
      const at = this.#expires.get(key);
      if (at === undefined || at > now) yield key;
    }
  }

  /** Iterates over every live key with its value, expiry and flags: what a snapshot writes. */
  *entries(): IterableIterator<Entry> {
    for (const key of this.keys()) {
      yield {
        key,
        value: super.get(key)!,
        expiresAt: this.#expires.get(key) ?? null,
        flags: this.#flags.get(key) ?? 0,
      };
    }
  }

  /**
   * Adds a key while loading a snapshot: no listeners, no watchers, not counted as a change.
   * A key whose time has already passed is skipped.
   *
   * @param entry The key and what is stored with it.
   * @returns Whether it was added.
   */
  load(entry: Entry): boolean {
    if (entry.expiresAt !== null && entry.expiresAt <= this.clock.now()) return false;
    super.set(entry.key, entry.value);
    if (entry.expiresAt !== null) this.#expires.set(entry.key, entry.expiresAt);
    if (entry.flags !== 0) this.#flags.set(entry.key, entry.flags);
    return true;
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
    if (at <= this.clock.now()) return this.delete(key);
    this.#changing(key);
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
    this.#changing(key);
    return this.#expires.delete(key);
  }

  /** How many keys have an expiry (`INFO keyspace` `expires=`). */
  get expiringCount(): number {
    return this.#expires.size;
  }

  /** The keys that have an expiry, for active expiry to sample from. */
  expiringKeys(): IterableIterator<string> {
    return this.#expires.keys();
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
    this.#changing(key);
    if (flags === 0) this.#flags.delete(key);
    else this.#flags.set(key, flags);
  }

  /**
   * Removes a key if its time has come: the lazy half of expiry, run by every read.
   *
   * @param key A byte string.
   * @returns `true` if the key was expired (and is now gone).
   */
  expireIfNeeded(key: string): boolean {
    const at = this.#expires.get(key);
    if (at === undefined || at > this.clock.now()) return false;
    this.delete(key);
    this.expiredKeys++;
    return true;
  }

  #changing(key: string): void {
    for (const listener of this.#listeners) listener(key);
    this.dirty++;
  }
}
