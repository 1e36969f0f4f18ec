/**
 * The memcached port as a stage: a second protocol on the same keyspace, with the same memory
 * bound, the same log and the same refusal while persistence fails as the RESP port.
 *
 * @module
 */

import type { Stage } from "../../../shared/server/stage.ts";
import { SHUTDOWN } from "../../02-threaded/serve_many.ts";
import { EVICTOR } from "../eviction.ts";
import { expiringKeyspaceOf } from "../keyspace.ts";
import { PERSISTENCE } from "../persistence/stage.ts";
import { startMemcacheServer } from "./mod.ts";

/** The stage, on when `--memcache-port` is given. */
export const memcachePort: Stage<{ host: string; memcachePort: number | null }> = {
  name: "memcache port",
  module: import.meta.url,
  when: (options) => options.memcachePort !== null,
  install(assembly) {
    const { options, server } = assembly;
    const persistence = assembly.need(PERSISTENCE);
    const evictor = assembly.need(EVICTOR);
    const memcache = startMemcacheServer({
      host: options.host,
      port: options.memcachePort ?? 0,
      db: expiringKeyspaceOf(server.db),
      propagate: persistence.propagate,
      beforeWrite: persistence.beforeWrite,
      log: server.log,
      // The same bound as the RESP side: evict (or refuse the write) before storing more.
      makeRoom: () => evictor.performEvictions(),
      // The same refusal as the RESP side while persistence is failing.
      writeDenied: () => persistence.writeDenied()?.message ?? null,
    });
    assembly.readyLines.push(() =>
      `memcached protocol on ${memcache.address.host}:${memcache.address.port}`
    );
    // In the same step as the RESP connections: no memcached client writes after the final save.
    assembly.need(SHUTDOWN).onStop(() => void memcache.close());
    assembly.onStop(() => memcache.close());
  },
};
