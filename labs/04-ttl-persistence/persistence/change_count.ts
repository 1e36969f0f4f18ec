/**
 * The count of changes since the last snapshot: Redis's `server.dirty`, which `--save 60 1000`
 * compares against and `INFO persistence` reports as `rdb_changes_since_last_save`.
 *
 * It is an observer of the keyspace (see `KeyspaceObserver` in `shared/keyspace.ts`) rather than a
 * field every write updates: persistence is the only part of the server that asks, so persistence
 * registers it, and a keyspace built without persistence counts nothing.
 *
 * @module
 */

import type { Keyspace, KeyspaceObserver } from "../../../shared/keyspace.ts";

/**
 * Counts each change the keyspace announces; a flush counts every key it removes, as Redis's does.
 *
 * @example
 * ```ts
 * const db = new Keyspace();
 * const changes = new ChangeCount(db);
 * db.observe(changes);
 * db.set("a", "1");
 * changes.value; // 1
 * ```
 */
export class ChangeCount implements KeyspaceObserver {
  readonly #db: Keyspace;
  /** Changes since the last snapshot; persistence lowers it when a snapshot is written. */
  value = 0;

  /**
   * Creates a count at zero; it counts nothing until it is registered with `db.observe()`.
   *
   * @param db The keyspace it counts: a flush asks it how many keys go.
   */
  constructor(db: Keyspace) {
    this.#db = db;
  }

  /**
   * Counts one change, or, for a flush, one per key still there to be removed.
   *
   * @param key The key, or `null` for every key.
   */
  changing(key: string | null): void {
    this.value += key === null ? this.#db.size : 1;
  }
}
