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

/** A key-value store of byte strings. */
export class Keyspace {
  #data = new Map<string, string>();

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
    this.#data.set(key, value);
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
    this.#data.set(key, value);
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
