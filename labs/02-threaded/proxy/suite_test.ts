/**
 * Lab 2's whole black-box suite, run through the proxy: the proof that a client cannot tell the
 * proxy from the server behind it, pipelining, transactions and error texts included.
 *
 * With lab 2's server as the upstream every step runs; with a real `redis-server`, the steps that
 * hold for Redis (`redis: true`). One step is left out on purpose: `INFO keyspace` describes the
 * server that answers `INFO`, and the proxy answers `INFO` itself — it holds no keys, only a cache
 * of answers (`INFO proxy`). Ask the upstream for its keyspace, and for its command and error
 * statistics. `RESET` is refused by the proxy, and so is `SELECT` (with `MOVE` and `SWAPDB`): its
 * clients share upstream connections, on which one client's database would become everyone's.
 * `FLUSHDB` and `FLUSHALL` are not on the proxy's allow-list; the suite uses them between steps, so
 * its proxy is started with `--allow-commands flushdb,flushall`.
 *
 * @module
 */

import { startLabServer } from "../../../shared/testing/processes.ts";
import { newSeed } from "../../../shared/testing/random.ts";
import { StepContext } from "../../../shared/testing/suite.ts";
import { lab2Steps } from "../suite.ts";
import { available, startUpstream, UPSTREAM_KINDS } from "./test_servers.ts";

/**
 * Steps about the server's own state, which the proxy does not share with its upstream; and RESET,
 * which the proxy refuses because it would reset the upstream connection every client shares.
 */
const NOT_THROUGH_A_PROXY = new Set([
  "INFO keyspace reports the number of keys",
  // The proxy answers INFO itself, and forwards most commands without looking them up in a
  // command table of its own, so it keeps no per-command statistics: ask the upstream for them.
  "INFO commandstats counts calls, rejected and failed calls per command",
  "INFO errorstats counts every error reply by its code, inside EXEC too",
  "RESET leaves MULTI, forgets watches and the name, and goes back to RESP2",
  "RESET turns CLIENT REPLY OFF back on, but not a SKIP already dropping its reply",
  // Numbered databases: SELECT is connection state the proxy cannot keep per client.
  "COPY ... DB n copies into another database, under the same name too",
  "SELECT changes the database a connection works in; each has its own keys",
  "MOVE moves a key with its value to another database, never over an existing key",
  "SWAPDB exchanges two databases for every client, and fails a WATCH on either",
  "FLUSHALL empties every database; FLUSHDB only the current one",
  "INFO keyspace has a line for each database that has keys",
]);

for (const kind of UPSTREAM_KINDS) {
  const missing = !available(kind);
  Deno.test({
    name: `lab 2 suite through the proxy over ${kind}${
      missing ? " (skipped: redis-server is not installed)" : ""
    }`,
    ignore: missing,
    fn: async (t) => {
      await using upstream = await startUpstream(kind);
      await using proxy = await startLabServer("labs/02-threaded/proxy.ts", {
        // The suite empties the keyspace between steps; the proxy forwards that only when told.
        args: ["--upstream", upstream.addr, "--allow-commands", "flushdb,flushall"],
      });
      // Steps that restart the server with other flags are the grader's: the proxy cannot.
      const steps = lab2Steps.filter((step) =>
        !NOT_THROUGH_A_PROXY.has(step.name) && (kind === "lab 2" || step.redis) &&
        step.needsRestart !== true && step.flags === undefined
      );
      // One seed for the whole run, so a step can re-read what an earlier one wrote.
      const seed = newSeed();
      for (const step of steps) {
        await t.step(step.name, async () => {
          const ctx = new StepContext(proxy.addr, undefined, { seed, name: step.name });
          try {
            await step.run(ctx);
          } finally {
            await ctx.dispose();
          }
        });
      }
    },
  });
}
