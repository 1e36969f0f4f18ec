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
 * **Why pairs, and why CPU too.** On a shared 2-core machine one run can be 30 % faster than the
 * next for reasons outside both servers (another VM's steal time, `redis-benchmark` itself on the
 * same cores). So both servers run at once, idle while the other is measured, and the runs
 * alternate: without, with, with, without, … A neighbour then spoils one pair, not a whole
 * series, and the report gives the median of the pairs' ratios. Each server also reports its own
 * CPU time in `INFO cpu` (`used_cpu_user` + `used_cpu_sys`, as Redis has them), read before and
 * after every run: CPU per request is what the log adds, and it moves far less with the
 * neighbours than requests per second do.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
import type { RunningServer } from "../shared/testing/processes.ts";
import { RawClient } from "../shared/testing/raw_client.ts";
import { parseBenchmarkCsv, redisBenchmarkArgs } from "./redis_benchmark.ts";
import { failureReason, runProgram } from "./run_program.ts";
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

const RUN_TIMEOUT_MS = 300_000;

/** One run of `redis-benchmark` against one server. */
interface Run {
  rps: number;
  /** Server CPU per request, in microseconds. */
  cpuMicros: number;
}

/** The server's CPU seconds so far, from `INFO cpu`. */
async function cpuSeconds(client: RawClient): Promise<number> {
  const info = String(await client.call("INFO", "cpu"));
  const field = (name: string) => Number(info.match(new RegExp(`\r\n${name}:([\\d.]+)\r\n`))?.[1]);
  const total = field("used_cpu_user") + field("used_cpu_sys");
  if (!Number.isFinite(total)) throw new Error(`INFO cpu has no used_cpu_user/used_cpu_sys`);
  return total;
}

/** Runs `redis-benchmark` once against a server and reads its CPU time around the run. */
async function measure(server: RunningServer, client: RawClient, requests: number): Promise<Run> {
  const spec = { tests: ["set"], requests, clients: 50, pipeline: 16, keyspace: 100_000 };
  const before = await cpuSeconds(client);
  const outcome = await runProgram(
    "redis-benchmark",
    redisBenchmarkArgs(server.host, server.port, { ...spec, valueSize: 3 }),
    RUN_TIMEOUT_MS,
  );
  const after = await cpuSeconds(client);
  if (outcome.code !== 0 || outcome.timedOut) {
    throw new Error(`redis-benchmark ${failureReason(outcome, RUN_TIMEOUT_MS)}`);
  }
  const [line] = parseBenchmarkCsv(outcome.stdout);
  return { rps: line.rps, cpuMicros: (after - before) * 1e6 / requests };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * The middle half of the values: the medians of the lower and of the upper half (for an odd
 * count, the middle value belongs to neither). Half the pairs fall inside it, so unlike the
 * smallest and largest pair it does not move with one disturbed run.
 */
export function middleHalf(values: readonly number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  if (half === 0) return [sorted[0], sorted[0]];
  return [median(sorted.slice(0, half)), median(sorted.slice(sorted.length - half))];
}

/** Compares one policy with no log, `pairs` times; prints each pair and the medians. */
async function comparePolicy(policy: Policy, pairs: number, requests: number): Promise<string> {
  const start = async (args: string[]) => {
    const started = lab4Profile(args).start;
    if (started === undefined) throw new Error("lab 4's profile has no start()");
    return await started();
  };
  await using plain = await start(["--appendonly", "no"]);
  await using logged = await start(["--appendonly", "yes", "--appendfsync", policy]);
  await using plainClient = await RawClient.connect(plain.addr);
  await using loggedClient = await RawClient.connect(logged.addr);
  // Warm-up, unreported: the JIT compiles the hot paths, the log file gets its first pages.
  await measure(plain, plainClient, requests);
  await measure(logged, loggedClient, requests);

  console.log(`\n## --appendfsync ${policy} against no log\n`);
  console.log(
    "| pair | no log, req/s | log, req/s | ratio | CPU µs/req, no log | CPU µs/req, log |",
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  const ratios: number[] = [];
  const plainCpu: number[] = [];
  const loggedCpu: number[] = [];
  const cpuRatios: number[] = [];
  for (let pair = 1; pair <= pairs; pair++) {
    // Alternate which goes first, so a slow drift of the machine favours neither.
    let without: Run;
    let withLog: Run;
    if (pair % 2 === 1) {
      without = await measure(plain, plainClient, requests);
      withLog = await measure(logged, loggedClient, requests);
    } else {
      withLog = await measure(logged, loggedClient, requests);
      without = await measure(plain, plainClient, requests);
    }
    const ratio = withLog.rps / without.rps;
    ratios.push(ratio);
    plainCpu.push(without.cpuMicros);
    loggedCpu.push(withLog.cpuMicros);
    cpuRatios.push(withLog.cpuMicros / without.cpuMicros);
    console.log(
      `| ${pair} | ${grouped(without.rps)} | ${grouped(withLog.rps)} | ${ratio.toFixed(2)}× | ` +
        `${without.cpuMicros.toFixed(2)} | ${withLog.cpuMicros.toFixed(2)} |`,
    );
  }
  const times = (x: number) => `${x.toFixed(2)}×`;
  const [low, high] = middleHalf(ratios);
  // CPU is compared within each pair too: the two runs of a pair are seconds apart, while the
  // machine's speed drifts over the minutes of a series.
  const summary = `--appendfsync ${policy}: median ratio ${times(median(ratios))} ` +
    `(middle half of the pairs ${times(low)} to ${times(high)}, all ${
      times(Math.min(...ratios))
    } ` +
    `to ${times(Math.max(...ratios))}); server CPU per request ${median(plainCpu).toFixed(2)} µs ` +
    `without the log, ${median(loggedCpu).toFixed(2)} µs with it (median of the pairs' ratios ` +
    `${times(median(cpuRatios))})`;
  console.log(`\n${summary}`);
  return summary;
}

function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
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
