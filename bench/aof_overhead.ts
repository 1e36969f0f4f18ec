/**
 * What lab 4's append-only log costs: the same server with and without it, under the same
 * `redis-benchmark` load, taking turns.
 *
 * ```sh
 * deno task bench:aof                                  # everysec and always, 10 pairs each
 * deno task bench:aof --pairs 20 --policies everysec   # a steadier median
 * ```
 *
 * The course's target: with `--appendfsync everysec`, at least 0.9× the throughput without the
 * log (`redis-benchmark -c 50 -P 16 -t set`).
 *
 * Both servers run at once and take turns, pair by pair, with each one's CPU per request read from
 * `INFO cpu` (why: `pairs.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
import { comparePairs } from "./pairs.ts";
import { lab4Profile } from "./servers.ts";

const USAGE = "deno task bench:aof";

const HELP = `Usage: ${USAGE} [options]

Runs lab 4 with and without its append-only log, at once, and loads them in turn with
redis-benchmark -c 50 -P 16 -t set: requests per second and server CPU per request, pair by pair,
and the median ratio.

Options:
  --pairs N          runs of each server per policy (default 10)
  --requests N       requests per run (default 600000)
  --policies LIST    appendfsync policies to compare, comma-separated (default everysec,always)
  -h, --help         show this help`;

const POLICIES = ["always", "everysec", "no"] as const;
type Policy = typeof POLICIES[number];

/** Compares one policy with no log, `pairs` times; prints each pair and the medians. */
async function comparePolicy(policy: Policy, pairs: number, requests: number): Promise<string> {
  const start = async (args: string[]) => {
    const started = lab4Profile(args).start;
    if (started === undefined) throw new Error("lab 4's profile has no start()");
    return await started();
  };
  await using plain = await start(["--appendonly", "no"]);
  await using logged = await start(["--appendonly", "yes", "--appendfsync", policy]);
  console.log(`\n## --appendfsync ${policy} against no log\n`);
  const spec = {
    tests: ["set"],
    requests,
    clients: 50,
    pipeline: 16,
    keyspace: 100_000,
    valueSize: 3,
  };
  const summary = `--appendfsync ${policy}: ` +
    await comparePairs(
      { label: "no log", server: plain },
      { label: "log", server: logged },
      spec,
      pairs,
    );
  console.log(`\n${summary}`);
  return summary;
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        pairs: { type: "string", default: "10" },
        requests: { type: "string", default: "600000" },
        policies: { type: "string", default: "everysec,always" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  const pairs = wholeNumber(values.pairs, 1, 1000) ??
    usageError(`Invalid pairs: "${values.pairs}" is not a number from 1 to 1000`, USAGE);
  const requests = wholeNumber(values.requests, 1000, 100_000_000) ??
    usageError(`Invalid requests: "${values.requests}" is not a number from 1000 up`, USAGE);
  const policies = values.policies.split(",").map((name) => {
    const policy = POLICIES.find((p) => p === name.trim());
    return policy ??
      usageError(`Invalid policy: "${name}" is not ${POLICIES.join(", ")}`, USAGE);
  });
  console.log(
    `# Lab 4 with and without its append-only log\n\nredis-benchmark -c 50 -P 16 -t set ` +
      `-n ${requests} -r 100000 -d 3, ${pairs} pairs per policy, taking turns`,
  );
  const summaries: string[] = [];
  for (const policy of policies) summaries.push(await comparePolicy(policy, pairs, requests));
  console.log(`\n## Summary\n\n${summaries.map((s) => `- ${s}`).join("\n")}`);
}

if (import.meta.main) await main();
