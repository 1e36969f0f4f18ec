/**
 * Two servers measured in pairs, taking turns: the method `bench:aof` and `bench:ab` share.
 *
 * On a shared 2-core machine one run can be 30 % faster than the next for reasons outside both
 * servers (another VM's steal time, `redis-benchmark` itself on the same cores). So both servers
 * run at once, idle while the other is measured, and the runs alternate: A, B, B, A, … A neighbour
 * then spoils one pair, not a whole series, and the report gives the median of the pairs' ratios.
 * Each server also reports its own CPU time in `INFO cpu` (`used_cpu_user` + `used_cpu_sys`, as
 * Redis has them), read before and after every run: CPU per request moves far less with the
 * neighbours than requests per second do.
 *
 * @module
 */

import type { RunningServer } from "../shared/testing/processes.ts";
import { RawClient } from "../shared/testing/raw_client.ts";
import { type BenchmarkSpec, parseBenchmarkCsv, redisBenchmarkArgs } from "./redis_benchmark.ts";
import { failureReason, runProgram } from "./run_program.ts";

const RUN_TIMEOUT_MS = 300_000;

/** One run of `redis-benchmark` against one server. */
export interface Run {
  /** Requests per second. */
  rps: number;
  /** Server CPU per request, in microseconds. */
  cpuMicros: number;
}

/** One side of a comparison: a running server and what to call it. */
export interface Side {
  /** A short name for the report's columns, such as "no log". */
  label: string;
  /** The server, already listening. */
  server: RunningServer;
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
async function measure(
  server: RunningServer,
  client: RawClient,
  spec: BenchmarkSpec,
): Promise<Run> {
  const before = await cpuSeconds(client);
  const outcome = await runProgram(
    "redis-benchmark",
    redisBenchmarkArgs(server.host, server.port, spec),
    RUN_TIMEOUT_MS,
  );
  const after = await cpuSeconds(client);
  if (outcome.code !== 0 || outcome.timedOut) {
    throw new Error(`redis-benchmark ${failureReason(outcome, RUN_TIMEOUT_MS)}`);
  }
  const [line] = parseBenchmarkCsv(outcome.stdout);
  return { rps: line.rps, cpuMicros: (after - before) * 1e6 / spec.requests };
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

/**
 * Measures B against A, `pairs` times after one unreported warm-up run each; prints a Markdown
 * row per pair and returns a one-line summary: the median ratio B/A of requests per second, its
 * middle half and range, and the median CPU per request of each.
 *
 * @param a The baseline.
 * @param b The server compared with it.
 * @param spec The `redis-benchmark` load of every run.
 * @param pairs How many pairs.
 * @returns The summary.
 */
export async function comparePairs(
  a: Side,
  b: Side,
  spec: BenchmarkSpec,
  pairs: number,
): Promise<string> {
  await using clientA = await RawClient.connect(a.server.addr);
  await using clientB = await RawClient.connect(b.server.addr);
  // Warm-up, unreported: the JIT compiles the hot paths, a log file gets its first pages.
  await measure(a.server, clientA, spec);
  await measure(b.server, clientB, spec);

  console.log(
    `| pair | ${a.label}, req/s | ${b.label}, req/s | ratio | CPU µs/req, ${a.label} | ` +
      `CPU µs/req, ${b.label} |`,
  );
  console.log("| ---: | ---: | ---: | ---: | ---: | ---: |");
  const ratios: number[] = [];
  const cpuA: number[] = [];
  const cpuB: number[] = [];
  const cpuRatios: number[] = [];
  for (let pair = 1; pair <= pairs; pair++) {
    // Alternate which goes first, so a slow drift of the machine favours neither.
    let runA: Run;
    let runB: Run;
    if (pair % 2 === 1) {
      runA = await measure(a.server, clientA, spec);
      runB = await measure(b.server, clientB, spec);
    } else {
      runB = await measure(b.server, clientB, spec);
      runA = await measure(a.server, clientA, spec);
    }
    ratios.push(runB.rps / runA.rps);
    cpuA.push(runA.cpuMicros);
    cpuB.push(runB.cpuMicros);
    cpuRatios.push(runB.cpuMicros / runA.cpuMicros);
    console.log(
      `| ${pair} | ${grouped(runA.rps)} | ${grouped(runB.rps)} | ` +
        `${(runB.rps / runA.rps).toFixed(2)}× | ${runA.cpuMicros.toFixed(2)} | ` +
        `${runB.cpuMicros.toFixed(2)} |`,
    );
  }
  const times = (x: number) => `${x.toFixed(2)}×`;
  const [low, high] = middleHalf(ratios);
  // CPU is compared within each pair too: the two runs of a pair are seconds apart, while the
  // machine's speed drifts over the minutes of a series.
  return `median ratio ${times(median(ratios))} (middle half of the pairs ${times(low)} to ` +
    `${times(high)}, all ${times(Math.min(...ratios))} to ${times(Math.max(...ratios))}); ` +
    `server CPU per request ${median(cpuA).toFixed(2)} µs ${a.label}, ${
      median(cpuB).toFixed(2)
    } µs ${b.label} (median of the pairs' ratios ${times(median(cpuRatios))})`;
}

function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}
