/**
 * Runs the memcached steps of the memcache suite against a real `memcached`: the proof that what
 * the suite expects is what memcached does. Skipped when memcached is not installed.
 *
 * @module
 */

import { hasProgram } from "../../../shared/testing/processes.ts";
import { memcacheSteps } from "./suite.ts";
import { externalMemcacheAddr, registerMcSuite, startMemcached } from "./testing.ts";

const installed = hasProgram("memcached");

registerMcSuite(
  installed
    ? "memcache suite against real memcached"
    : "memcache suite against real memcached (skipped: memcached is not installed)",
  memcacheSteps.filter((step) => step.memcached),
  async () => {
    const memcached = await startMemcached();
    if (memcached === null) throw new Error("memcached disappeared");
    return memcached;
  },
  !installed || externalMemcacheAddr() !== undefined,
);
