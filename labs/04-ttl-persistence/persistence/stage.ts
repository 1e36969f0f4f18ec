/**
 * The persistence stage: the snapshot and the log, loaded before the first client and written
 * from then on.
 *
 * ```
 * install   load the snapshot, replay the log (the server is not listening yet)
 * writes    every write command: make room first (eviction), log after      (../writes.ts)
 * replies   with appendfsync always, wait until the batch's writes are on disk (beforeWrite)
 * shutdown  the final fsync and snapshot, while clients are still served; may refuse
 * stop      after the last client: the log's last bytes, then close it
 * ```
 *
 * @module
 */

import type { Stage } from "../../../shared/server/stage.ts";
import { SHUTDOWN } from "../../02-threaded/serve_many.ts";
import { EVICTOR } from "../eviction.ts";
import { EXPIRING_DATABASES } from "../expiry.ts";
import { memcacheLogCommands } from "../memcache/mod.ts";
import { WritePath } from "../writes.ts";
import { openPersistence, type Persistence, type PersistenceOptions } from "./mod.ts";
import { Part } from "../../../shared/server/stage.ts";

/** What the {@link persistence} stage provides to later ones: the write gate, memcached's port. */
export const PERSISTENCE: Part<Persistence> = new Part("persistence");

/** The one write path into the log, for memcached's port as for RESP commands. */
export const WRITES: Part<WritePath> = new Part("persistence");

/** The stage. If the data cannot be loaded, the server does not start, and nothing is changed. */
export const persistence: Stage<{ persistence: PersistenceOptions; maxmemory: number }> = {
  name: "persistence",
  module: import.meta.url,
  async install(assembly) {
    const { server, commands, options } = assembly;
    const databases = assembly.need(EXPIRING_DATABASES);
    // The log replays memcached's writes (in database 0, the one its port serves) through these,
    // so they are in the table before loading.
    commands.registerAll(memcacheLogCommands(databases[0]));
    const running = await openPersistence(server, databases, options.persistence);
    assembly.provide(PERSISTENCE, running);
    assembly.onStop(async () => {
      try {
        await running.close();
      } catch (error) {
        throw new Error(`Cannot close the append only file: ${error}`);
      }
    });
    commands.registerAll(running.commands);
    // Wrapped once everything is registered and loaded: replayed writes are not logged again.
    const writes = new WritePath(
      databases,
      options.maxmemory > 0 ? assembly.need(EVICTOR) : null,
    );
    writes.wrap(commands);
    writes.start(running);
    assembly.provide(WRITES, writes);
    assembly.beforeWrite = running.beforeWrite;
    // A signal and SHUTDOWN take one path: the final save first, with every client still served;
    // only if it succeeds do the listeners and connections close.
    assembly.need(SHUTDOWN).prepareWith((request) => running.shutdown(request));
  },
};
