/**
 * A keyspace that knows who is watching which key: the machinery behind `WATCH`.
 *
 * `WATCH key` asks: "tell me at `EXEC` whether anybody changed this key since now". The answer has
 * to cover every way a key can change — `SET`, `INCR`, `APPEND`, `DEL`, `FLUSHDB`, a `SET` by the
 * watching client itself — so the only safe place to notice a change is the keyspace, the one door
 * every write goes through. Each command stays unaware of `WATCH`.
 *
 * This is Redis's design too (`touchWatchedKey()` in `multi.c`): every watched key has a list of
 * watchers, and a write to the key marks each of them *dirty*. `EXEC` then only reads a flag. The
 * road not taken is a version number per key, compared at `EXEC`: just as correct, but it costs a
 * counter update on every write of every key, watched or not, and a deleted key would have to
 * keep its counter.
 *
 * @module
 */

import { Keyspace } from "../../shared/keyspace.ts";

/** Something that wants to know when a key changes: one client's transaction. */
export interface Watcher {
  /** Set to `true` when any key it watches is modified; the watcher clears it itself. */
  dirty: boolean;
}

/**
 * A {@link Keyspace} that marks watchers dirty when a watched key is modified.
 *
 * @example
 * ```ts
 * const db = new WatchedKeyspace();
 * const watcher = { dirty: false };
 * db.watch("balance", watcher);
 * db.set("balance", "10");
 * watcher.dirty; // true
 * ```
 */
export class WatchedKeyspace extends Keyspace {
  #watchers = new Map<string, Set<Watcher>>();

  /**
   * Starts watching a key. Watching the same key twice is the same as once.
   *
   * @param key A byte string; it need not exist (its creation is a modification).
   * @param watcher Who to mark dirty.
   */
  watch(key: string, watcher: Watcher): void {
    let set = this.#watchers.get(key);
    if (set === undefined) this.#watchers.set(key, set = new Set());
    set.add(watcher);
  }

  /**
   * Stops watching a key.
   *
   * @param key A byte string.
   * @param watcher Who was watching.
   */
  unwatch(key: string, watcher: Watcher): void {
    const set = this.#watchers.get(key);
    if (set === undefined) return;
    set.delete(watcher);
    // Forget empty entries, or a client watching random keys would grow this map forever.
    if (set.size === 0) this.#watchers.delete(key);
  }

  /** How many keys have at least one watcher (for tests and `INFO`). */
  get watchedKeys(): number {
    return this.#watchers.size;
  }

  /** Sets a key and marks its watchers dirty, even if the value did not change (as Redis). */
  override set(key: string, value: string): void {
    super.set(key, value);
    this.#touch(key);
  }

  /** Changes a key's value and marks its watchers dirty. */
  override update(key: string, value: string): void {
    super.update(key, value);
    this.#touch(key);
  }

  /** Removes a key; only a key that existed counts as modified. */
  override delete(key: string): boolean {
    const existed = super.delete(key);
    if (existed) this.#touch(key);
    return existed;
  }

  /**
   * Removes every key. A watched key that did not exist is not modified by emptying the keyspace,
   * so, like Redis's `touchAllWatchedKeysInDb()`, only watchers of existing keys become dirty.
   */
  override clear(): void {
    for (const key of this.#watchers.keys()) if (this.has(key)) this.#touch(key);
    super.clear();
  }

  #touch(key: string): void {
    // The common case — nobody watches anything — costs one size check per write.
    if (this.#watchers.size === 0) return;
    const set = this.#watchers.get(key);
    if (set !== undefined) { for (const watcher of set) watcher.dirty = true; }
  }
}
