/**
 * Before and after: one lab from another checkout (the baseline) against the same lab from this
 * one, under the same `redis-benchmark` load, in pairs, taking turns (see `pairs.ts`). This is how
 * a change to a hot path is judged: "within 5 % of before or faster" needs both in one run.
 *
 * ```sh
 * git worktree add /tmp/before HEAD~3                        # the commit to compare with
 * deno task bench:ab --baseline /tmp/before --lab 4          # SET, -c 50 -P 16
 * deno task bench:ab --baseline /tmp/before --lab 2 --test get --pipeline 1
 * deno task bench:ab --baseline /tmp/before --lab 4 --size 1024
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
import { type RunningServer, startLabServer } from "../shared/testing/processes.ts";
import { comparePairs } from "./pairs.ts";
import { lab4Profile } from "./servers.ts";

const USAGE = "deno task bench:ab";

const HELP = `Usage: ${USAGE} --baseline DIR [options]

Runs one lab's server from the checkout in DIR and from this one, at once, and loads them in turn
with redis-benchmark -c 50: requests per second and server CPU per request, pair by pair, and the
median ratio of this checkout to the baseline. Lab 4 runs with persistence off.

Options:
  --baseline DIR     another checkout of this repository (git worktree add DIR COMMIT)
  --lab N            2 or 4 (default 4)
  --test NAME        the redis-benchmark test: set or get (default set)
  --pipeline N       commands per batch, -P (default 16)
  --size BYTES       value size, -d (default 3)
  --pairs N          pairs of runs (default 6)
  --requests N       requests per run (default 600000)
  -h, --help         show this help`;

const LABS: Record<string, string> = {
  "2": "labs/02-threaded/server.ts",
  "4": "labs/04-ttl-persistence/server.ts",
};

/** Starts the lab from a checkout: lab 4 in a scratch data directory, lab 2 as it is. */
function start(lab: string, root: string | undefined): Promise<RunningServer> {
  if (lab === "2") return startLabServer(LABS[lab], { root });
  const started = lab4Profile(["--appendonly", "no"], root).start;
  if (started === undefined) throw new Error("lab 4's profile has no start()");
  return started();
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        baseline: { type: "string" },
        lab: { type: "string", default: "4" },
        test: { type: "string", default: "set" },
        pipeline: { type: "string", default: "16" },
        size: { type: "string", default: "3" },
        pairs: { type: "string", default: "6" },
        requests: { type: "string", default: "600000" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  const baseline = values.baseline ?? usageError("--baseline DIR is required", USAGE);
  try {
    Deno.statSync(`${baseline}/${LABS[values.lab] ?? ""}`);
  } catch {
    usageError(`No lab ${values.lab} server in ${baseline} (--lab is 2 or 4)`, USAGE);
  }
  if (values.test !== "set" && values.test !== "get") {
    usageError(`Invalid test: "${values.test}" is not set or get`, USAGE);
  }
  const number = (name: string, text: string, min: number, max: number) =>
    wholeNumber(text, min, max) ??
      usageError(`Invalid ${name}: "${text}" is not a number from ${min} to ${max}`, USAGE);
  const spec = {
    tests: [values.test],
    requests: number("requests", values.requests, 1000, 100_000_000),
    clients: 50,
    pipeline: number("pipeline", values.pipeline, 1, 1000),
    keyspace: 100_000,
    valueSize: number("size", values.size, 1, 1_000_000),
  };
  const pairs = number("pairs", values.pairs, 1, 1000);
  console.log(
    `# Lab ${values.lab}: this checkout against ${baseline}\n\nredis-benchmark -c 50 ` +
      `-P ${spec.pipeline} -t ${values.test} -n ${spec.requests} -r 100000 -d ${spec.valueSize}, ` +
      `${pairs} pairs, taking turns\n`,
  );
  await using before = await start(values.lab, baseline);
  await using after = await start(values.lab, undefined);
  const summary = await comparePairs(
    { label: "baseline", server: before },
    { label: "this", server: after },
    spec,
    pairs,
  );
  console.log(`\nthis checkout against the baseline: ${summary}`);
}

if (import.meta.main) await main();
