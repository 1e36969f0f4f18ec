/**
 * Runs the memcache suite against this lab's memcached port, started in this process on a free
 * port over a fresh keyspace (or against `--memcache-addr HOST:PORT`, to grade another server).
 *
 * @module
 */

import { ExpiringKeyspace } from "../keyspace.ts";
import { startMemcacheServer } from "./mod.ts";
import { memcacheSteps } from "./suite.ts";
import { externalMemcacheAddr, registerMcSuite } from "./testing.ts";

const external = externalMemcacheAddr();

registerMcSuite(
  external ? `memcache suite against ${external}` : "memcache suite",
  memcacheSteps,
  () => {
    if (external) return Promise.resolve({ addr: external, stop: () => Promise.resolve() });
    const server = startMemcacheServer({
      host: "127.0.0.1",
      port: 0,
      db: new ExpiringKeyspace(),
      propagate: () => {},
      beforeWrite: () => undefined,
      log: () => {},
    });
    return Promise.resolve({
      addr: `${server.address.host}:${server.address.port}`,
      stop: () => server.close(),
    });
  },
);
