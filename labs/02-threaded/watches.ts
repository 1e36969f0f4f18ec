/**
 * Who is watching which key: the machinery behind `WATCH`.
 *
 * `WATCH key` asks: "tell me at `EXEC` whether anybody changed this key since now". The answer has
 * to cover every way a key can change — `SET`, `INCR`, `APPEND`, `DEL`, `FLUSHDB`, a `SET` by the
 * watching client itself — so the only safe place to notice a change is the keyspace, the one door
 * every write goes through. The table below observes the keyspace (see `KeyspaceObserver` in
 * `shared/keyspace.ts`), and each command stays unaware of `WATCH`.
 *
 * This is Redis's design too (`touchWatchedKey()` in `multi.c`): every watched key has a list of
 * watchers, and a write to the key marks each of them *dirty*. `EXEC` then only reads a flag. The
 * road not taken is a version number per key, compared at `EXEC`: just as correct, but it costs a
 * counter update on every write of every key, watched or not, and a deleted key would have to
 * keep its counter.
 *
 * @module
 */

import type { Keyspace, KeyspaceObserver } from "../../shared/keyspace.ts";

/** Something that wants to know when a key changes: one client's transaction. */
export interface Watcher {
  /** Set to `true` when any key it watches is modified; the watcher clears it itself. */
  dirty: boolean;
}

/**
 * The watchers of one keyspace's keys, marked dirty when a watched key is modified. It observes
 * the keyspace from the first `WATCH` on.
 *
 * @example
 * ```ts
 * const db = new Keyspace();
 * const watches = new Watches(db);
 * const watcher = { dirty: false };
 * watches.watch("balance", watcher);
 * db.set("balance", "10");
 * watcher.dirty; // true
 * ```
 */
export class Watches implements KeyspaceObserver {
  readonly #db: Keyspace;
  #watchers = new Map<string, Set<Watcher>>();
  /** Registered with the keyspace yet: not until the first `WATCH`, so until then no write pays. */
  #observing = false;
  /**
   * Brings a key up to date before it is watched or its watch is checked; does nothing here. Lab
   * 4 sets it to expire a key whose time has passed, so that, as in Redis 7, a key that expired
   * before `WATCH` is no change, and one that expired after it fails `EXEC` even if no read
   * noticed.
   */
  settle: (key: string) => void = () => {};

  /**
   * Creates an empty table. It registers itself as the keyspace's observer at the first
   * {@link watch}: a server whose clients never `WATCH` keeps a keyspace with no observer to call.
   *
   * @param db The keyspace whose keys are watched: a flush asks it which keys exist.
   */
  constructor(db: Keyspace) {
    this.#db = db;
  }

  /**
   * Starts watching a key. Watching the same key twice is the same as once.
   *
   * @param key A byte string; it need not exist (its creation is a modification).
   * @param watcher Who to mark dirty.
   */
  watch(key: string, watcher: Watcher): void {
    this.settle(key);
    if (!this.#observing) {
      this.#db.observe(this);
      this.#observing = true;
    }
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

  /**
   * Marks the watchers of a key about to change. A write that leaves the value as it was still
   * counts, as in Redis; the keyspace does not announce removing a key that does not exist. For
   * a flush (`null`), like Redis's `touchAllWatchedKeysInDb()`, only watchers of keys that exist
   * are marked: emptying a keyspace does not modify a key it did not hold.
   *
   * @param key The key, or `null` for every key.
   */
  changing(key: string | null): void {
    // The common case — nobody watches anything — costs one size check per write.
    if (this.#watchers.size === 0) return;
    if (key !== null) this.#touch(key);
    else {for (const watched of this.#watchers.keys()) {
        if (this.#db.has(watched)) this.#touch(watched);
      }}
  }

  #touch(key: string): void {
    const set = this.#watchers.get(key);
    if (set !== undefined) { for (const watcher of set) watcher.dirty = true; }
  }
}
