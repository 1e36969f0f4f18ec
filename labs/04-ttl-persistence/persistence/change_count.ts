/**
 * The count of changes since the last snapshot: Redis's `server.dirty`, which `--save 60 1000`
 * compares against and `INFO persistence` reports as `rdb_changes_since_last_save`.
 *
 * It observes the databases (see `KeyspaceObserver` in `shared/keyspace.ts`) rather than being a
 * field every write updates: persistence is the only part of the server that asks, so persistence
 * registers it, and a keyspace built without persistence counts nothing.
 *
 * @module
 */

import type { Keyspace } from "../../../shared/keyspace.ts";

/**
 * Counts each change the databases announce; a flush counts every key it removes, as Redis's
 * does.
 *
 * @example
 * ```ts
 * const db = new Keyspace();
 * const changes = new ChangeCount();
 * changes.count(db);
 * db.set("a", "1");
 * changes.value; // 1
 * ```
 */
export class ChangeCount {
  /** Changes since the last snapshot; persistence lowers it when a snapshot is written. */
  value = 0;

  /**
   * Starts counting a database's changes, into the one count of all of them.
   *
   * @param db One of the server's databases: a flush asks it how many keys go.
   * @returns A function that stops counting it.
   */
  count(db: Keyspace): () => void {
    return db.observe({
      changing: (key) => {
        this.value += key === null ? db.size : 1;
      },
    });
  }
}
