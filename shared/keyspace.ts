/**
 * The keyspace: every key and its value.
 *
 * It is a `Map` from byte string to byte string (see `resp/bytes.ts` for why strings and not
 * `Uint8Array`s). Commands never touch the Map directly; they go through these few methods, so a
 * later lab can change what "get" and "set" mean in one place. Lab 4 does exactly that: its
 * keyspace checks an expiry time on every read and counts writes for persistence.
 *
 * No locking is needed here. The server runs every command to completion on one thread before it
 * looks at the next one, so two commands never interleave inside a method (lab 2 is about what
 * happens when a command's work *does* span an `await`).
 *
 * @module
 */

import { ScanIndex, type ScanStep } from "./scan_index.ts";

/** A key-value store of byte strings. */
export class Keyspace {
  #data = new Map<string, string>();
  /** SCAN's cursor space (see `scan_index.ts`): `null` until the first SCAN. */
  #scan: ScanIndex | null = null;

  /** How many keys there are. */
  get size(): number {
    return this.#data.size;
  }

  /**
   * Reads a value.
   *
   * @param key A byte string.
   * @returns The value, or `undefined` if the key does not exist.
   */
  get(key: string): string | undefined {
    return this.#data.get(key);
  }

  /**
   * Sets a key to a value, replacing any old value.
   *
   * @param key A byte string.
   * @param value A byte string.
   */
  set(key: string, value: string): void {
    if (this.#scan === null) this.#data.set(key, value);
    else this.#setScanned(key, value);
  }

  /**
   * Changes the value of a key and keeps everything else about it. Here that is the same as
   * {@link set}; lab 4's keyspace keeps the key's expiry time, as Redis's `INCR` and `APPEND` do,
   * where `SET` clears it.
   *
   * @param key A byte string.
   * @param value A byte string.
   */
  update(key: string, value: string): void {
    if (this.#scan === null) this.#data.set(key, value);
    else this.#setScanned(key, value);
  }

  /**
   * Removes a key.
   *
   * @param key A byte string.
   * @returns Whether the key existed.
   */
  delete(key: string): boolean {
    return this.#data.delete(key);
  }

  /**
   * Tells whether a key exists.
   *
   * @param key A byte string.
   * @returns `true` if it does.
   */
  has(key: string): boolean {
    return this.#data.has(key);
  }

  /**
   * Copies a key's value to another key, replacing whatever that key held: the one step that
   * `COPY` and `RENAME` share. Lab 4's keyspace copies the expiry time and memcached's flags too,
   * so a renamed session key still dies when it was meant to.
   *
   * @param from The key to copy; the caller has checked it differs from `to`.
   * @param to The key to write.
   * @returns Whether `from` existed (nothing is written if not).
   */
  copy(from: string, to: string): boolean {
    const value = this.get(from);
    if (value === undefined) return false;
    this.set(to, value);
    return true;
  }

  /** Removes every key. */
  clear(): void {
    this.#data.clear();
    this.#scan?.clear();
  }

  /**
   * One step of `SCAN`: up to about `count` stored keys from a cursor, in the keyspace's order. A
   * key stored for the whole scan is returned by some step (see `scan_index.ts` for why).
   *
   * @param cursor 0 to start, or the cursor the previous step returned.
   * @param count How many keys to aim for.
   * @returns The keys and the next cursor, 0 when the scan is complete.
   */
  scan(cursor: bigint, count: number): ScanStep {
    const data = this.#data;
    // Built on the first SCAN, from the Map's own order; kept up to date by every write after.
    this.#scan ??= ScanIndex.of(data.keys());
    this.#scan.compactIfNeeded(data.size, (key) => data.has(key));
    return this.#scan.walk(cursor, count, (key) => data.has(key));
  }

  /** A write once SCAN is in use: a key new to the Map is recorded at the end of its order. */
  #setScanned(key: string, value: string): void {
    const size = this.#data.size;
    this.#data.set(key, value);
    if (this.#data.size !== size) {
      this.#scan?.added(key);
      this.#scan?.compactIfNeeded(this.#data.size, (k) => this.#data.has(k));
    }
  }

  /**
   * Iterates over every key.
   *
   * @returns The keys, in insertion order.
   */
  keys(): IterableIterator<string> {
    return this.#data.keys();
  }
}
