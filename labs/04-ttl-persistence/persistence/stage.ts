/**
 * The persistence stage: the snapshot and the log, loaded while clients wait and written from
 * then on.
 *
 * ```
 * load      once listening: load the snapshot or replay the log; meanwhile every command but
 *           those Redis runs while loading (INFO, CONFIG, AUTH...) gets -LOADING
 * writes    every write command: make room first (eviction), log after      (../writes.ts)
 * replies   with appendfsync always, wait until the batch's writes are on disk (beforeWrite)
 * shutdown  the final fsync and snapshot, while clients are still served; may refuse
 * stop      after the last client: the log's last bytes, then close it
 * ```
 *
 * @module
 */

import { ErrorReply } from "../../../shared/resp/reply.ts";
import type { Execute } from "../../../shared/server/hooks.ts";
import type { ServerState } from "../../../shared/server/server_state.ts";
import type { Stage } from "../../../shared/server/stage.ts";
import { resolveCommand } from "../../01-single-client/connection.ts";
import { SHUTDOWN } from "../../02-threaded/serve_many.ts";
import { refuseQueued } from "../../02-threaded/transaction.ts";
import { EVICTOR } from "../eviction.ts";
import { EXPIRING_DATABASES } from "../expiry.ts";
import { memcacheLogCommands } from "../memcache/mod.ts";
import { WritePath } from "../writes.ts";
import { createPersistence, type Persistence, type PersistenceOptions } from "./mod.ts";
import { Part } from "../../../shared/server/stage.ts";

/** What the {@link persistence} stage provides to later ones: the write gate, memcached's port. */
export const PERSISTENCE: Part<Persistence> = new Part("persistence");

/** The one write path into the log, for memcached's port as for RESP commands. */
export const WRITES: Part<WritePath> = new Part("persistence");

/** Redis's answer while it loads, word for word: clients retry on it. */
const LOADING = new ErrorReply("LOADING Redis is loading the dataset in memory");

/**
 * Until the data is loaded and the write path logs, a command Redis would not run while loading
 * (one without the `loading` flag) is refused with `-LOADING`, counted as Redis counts a rejected
 * call; the rest run as usual. An unknown command or a wrong arity gets its own error first, as
 * in Redis.
 */
function refuseWhileLoading(server: ServerState, loading: () => boolean, run: Execute): Execute {
  return (session, args) => {
    if (!loading()) return run(session, args);
    const spec = resolveCommand(server.commands, args);
    if (spec instanceof ErrorReply || spec.flags.includes("loading")) return run(session, args);
    server.commandStats.of(spec).rejected++;
    // Inside MULTI, refused while queueing: EXEC will abort the transaction, as in Redis.
    return refuseQueued(session, LOADING);
  };
}

/** The stage. If the data cannot be loaded, the server does not start, and nothing is changed. */
export const persistence: Stage<{ persistence: PersistenceOptions; maxmemory: number }> = {
  name: "persistence",
  module: import.meta.url,
  install(assembly) {
    const { server, commands, options } = assembly;
    const databases = assembly.need(EXPIRING_DATABASES);
    // The log replays memcached's writes (in database 0, the one its port serves) through these,
    // so they are in the table before loading.
    commands.registerAll(memcacheLogCommands(databases[0]));
    const running = createPersistence(server, databases, options.persistence);
    assembly.provide(PERSISTENCE, running);
    assembly.onStop(async () => {
      try {
        await running.close();
      } catch (error) {
        throw new Error(`Cannot close the append only file: ${error}`);
      }
    });
    commands.registerAll(running.commands);
    // Wrapped now, and started once the data is loaded: replayed writes are not logged again.
    const writes = new WritePath(
      databases,
      options.maxmemory > 0 ? assembly.need(EVICTOR) : null,
    );
    writes.wrap(commands);
    assembly.provide(WRITES, writes);
    // Closed until the write path logs, not only until the data is in: between the two, the log
    // is being opened, and a write let through then would be acknowledged and never logged.
    let loading = true;
    assembly.wrapExecute((run) => refuseWhileLoading(server, () => loading, run));
    assembly.load.push(async () => {
      await running.load();
      // From here on, writes are logged: the loaded ones were on disk already.
      writes.start(running);
      loading = false;
    });
    assembly.beforeWrite = running.beforeWrite;
    // A signal and SHUTDOWN take one path: the final save first, with every client still served;
    // only if it succeeds do the listeners and connections close.
    assembly.need(SHUTDOWN).prepareWith((request) => running.shutdown(request));
  },
};
