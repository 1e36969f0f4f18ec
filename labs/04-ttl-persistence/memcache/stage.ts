/**
 * The memcached port as a stage: a second protocol on the same keyspace, with the same memory
 * bound, the same log and the same refusal while persistence fails as the RESP port.
 *
 * @module
 */

import type { Stage } from "../../../shared/server/stage.ts";
import { SHUTDOWN } from "../../02-threaded/serve_many.ts";
import { EXPIRING_DATABASES } from "../expiry.ts";
import { PERSISTENCE, WRITES } from "../persistence/stage.ts";
import { startMemcacheServer } from "./mod.ts";

/** The stage, on when `--memcache-port` is given. */
export const memcachePort: Stage<{ host: string; memcachePort: number | null }> = {
  name: "memcache port",
  module: import.meta.url,
  when: (options) => options.memcachePort !== null,
  install(assembly) {
    const { options, server } = assembly;
    const persistence = assembly.need(PERSISTENCE);
    const writes = assembly.need(WRITES);
    // Memcached's protocol has no -LOADING: its port opens once the data is loaded.
    let memcache: ReturnType<typeof startMemcacheServer> | undefined;
    const start = () =>
      startMemcacheServer({
        host: options.host,
        port: options.memcachePort ?? 0,
        // Memcached has no databases: its port serves database 0.
        db: assembly.need(EXPIRING_DATABASES)[0],
        beforeWrite: persistence.beforeWrite,
        log: server.log,
        // Memcached writes take the RESP writes' path: refused while persistence fails, room made
        // under --maxmemory before, logged after. One write path, two protocols.
        writeDenied: () => writes.writeDenied()?.message ?? null,
        makeRoom: () => writes.makeRoom(),
        propagate: (args) => writes.propagate(args, 0),
      });
    // A port already in use stops the start like any other load step that fails.
    assembly.load.push(() => {
      memcache = start();
    });
    assembly.readyLines.push(() =>
      `memcached protocol on ${memcache?.address.host}:${memcache?.address.port}`
    );
    // In the same step as the RESP connections: no memcached client writes after the final save.
    assembly.need(SHUTDOWN).onStop(() => void memcache?.close());
    assembly.onStop(() => memcache?.close());
  },
};
