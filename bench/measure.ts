/**
 * The measurements of a comparison: which workloads, how big, and how the rounds combine into one
 * number per cell.
 *
 * A shared 2-core machine is noisy. Another process that wakes up for two seconds can halve one
 * measurement, and a server measured during that time looks twice as slow as it is. So the whole
 * comparison runs in rounds: every server, one after the other, then every server again. A
 * disturbance then hits one round of one server, not all of its measurements, and the cell shows
 * the median round. Cells whose rounds disagree by more than a quarter are marked †, so a reader
 * knows which numbers to distrust.
 *
 * @module
 */

import { REPO_ROOT, type RunningServer } from "../shared/testing/processes.ts";
import type { LoadResult } from "./loadgen.ts";
import { parseBenchmarkCsv, redisBenchmarkArgs } from "./redis_benchmark.ts";
import { type Cell, commandLine, type ReportRow } from "./report.ts";
import { failureReason, type ProgramOutcome, runProgram } from "./run_program.ts";
import type { ServerPlan } from "./servers.ts";

/** Distinct keys and value size, the same for every tool so that all store comparable data. */
const KEYSPACE = 10_000;
const VALUE_SIZE = 32;
const LOADGEN_MIX = "set:50,get:50";

/** How large one round of a run is, in full mode and with `--quick`. */
interface RunSize {
  full: number;
  quick: number;
}

/**
 * One way of loading a server. A redis-benchmark workload makes a SET row and a GET row, or only
 * the rows of its `tests`.
 */
type Workload =
  & { clients: number; pipeline: number }
  & (
    | {
      tool: "redis-benchmark";
      requests: RunSize;
      /** `-t`; SET and GET by default. */
      tests?: readonly ("set" | "get")[];
      /** `-d`, bytes per SET value; {@link VALUE_SIZE} by default, and then not in the label. */
      valueSize?: number;
    }
    | { tool: "loadgen"; seconds: RunSize }
  );

/**
 * The workloads, in the order of the table. The `-c 50` rows are the ones the course's targets
 * are stated in; the `-c 1` rows are there so that lab 1, which serves one client at a time, is
 * compared with `redis-server` on equal terms. Each is sized to take a second or two per round.
 */
const WORKLOADS: readonly Workload[] = [
  { tool: "redis-benchmark", clients: 50, pipeline: 1, requests: { full: 100_000, quick: 5_000 } },
  {
    tool: "redis-benchmark",
    clients: 50,
    pipeline: 16,
    requests: { full: 1_000_000, quick: 50_000 },
  },
  { tool: "redis-benchmark", clients: 1, pipeline: 1, requests: { full: 20_000, quick: 2_000 } },
  { tool: "redis-benchmark", clients: 1, pipeline: 16, requests: { full: 200_000, quick: 20_000 } },
  { tool: "loadgen", clients: 1, pipeline: 16, seconds: { full: 2, quick: 0.5 } },
  { tool: "loadgen", clients: 50, pipeline: 16, seconds: { full: 2, quick: 0.5 } },
  // 16 SETs of 1 KiB are 17 KB, more than one 16 KiB read: the batch's replies go out in two
  // writes, and the second waits for the client's delayed ACK unless TCP_NODELAY is set (see
  // shared/no_delay.ts). These rows are there so that a lost setNoDelay() shows.
  {
    tool: "redis-benchmark",
    tests: ["set"],
    valueSize: 1024,
    clients: 50,
    pipeline: 16,
    requests: { full: 300_000, quick: 20_000 },
  },
  {
    tool: "redis-benchmark",
    tests: ["set"],
    valueSize: 1024,
    clients: 1,
    pipeline: 16,
    requests: { full: 100_000, quick: 10_000 },
  },
];

/** Warm-up before measuring, so that a JIT-compiled server is measured warm; not reported. */
const WARMUP_REQUESTS: RunSize = { full: 50_000, quick: 5_000 };

/** A cell whose fastest round is this much faster than its slowest is reported as noisy. */
const NOISY_SPREAD = 1.25;

/** How the measurements are run. */
export interface MeasureOptions {
  /** Short runs for a smoke test. */
  quick: boolean;
  /** Requests per run for every row, instead of the sizes above. */
  requests: number | undefined;
  /** Whether `redis-benchmark` is installed; without it only the load generator runs. */
  hasRedisBenchmark: boolean;
}

/** One round's result for one cell. */
interface Sample {
  rps: number;
  p50Us?: number;
  p99Us?: number;
}

function flags(w: Workload): string {
  const size = w.tool === "redis-benchmark" && w.valueSize !== undefined
    ? `-d ${w.valueSize} `
    : "";
  return `${size}${w.pipeline > 1 ? `-P ${w.pipeline} ` : ""}-c ${w.clients}`;
}

function rowLabels(w: Workload): string[] {
  if (w.tool === "loadgen") return [`loadgen ${LOADGEN_MIX}, ${flags(w)}`];
  return (w.tests ?? ["set", "get"]).map((t) => `${t.toUpperCase()}, ${flags(w)}`);
}

function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/**
 * Collects every round's measurements and turns them into the report's rows.
 *
 * @example
 * ```ts
 * const m = new Measurements({ quick: true, requests: undefined, hasRedisBenchmark: true });
 * await m.measure(redisPlan(), 1);
 * m.rows(); // one row per workload and test, one cell per server measured
 * ```
 */
export class Measurements {
  /** Sentences for the report: failures, and what † means if a cell has one. */
  readonly notes: string[] = [];
  /** The exact commands of the first round, in order. */
  readonly commands: string[] = [];
  /** Whether any measurement failed. */
  failed = false;

  #options: MeasureOptions;
  #timeoutMs: number;
  #labels: { label: string; tool: Workload["tool"] }[];
  /** `label → server id → samples`, one sample per round. */
  #samples = new Map<string, Map<string, Sample[]>>();
  /** Cells that are skipped or failed; a failure in any round fails the cell. */
  #verdicts = new Map<string, Map<string, Cell>>();
  #titles = new Map<string, string>();
  #round = 0;

  /**
   * Prepares the measurements; nothing runs until asked.
   *
   * @param options Run sizes and the tools available.
   */
  constructor(options: MeasureOptions) {
    this.#options = options;
    this.#timeoutMs = options.quick ? 60_000 : 300_000;
    this.#labels = WORKLOADS.flatMap((w) => rowLabels(w).map((label) => ({ label, tool: w.tool })));
  }

  /**
   * Starts one server, runs every workload against it, and stops it.
   *
   * @param plan The server.
   * @param round Which round this is, from 1; commands are recorded in round 1 only.
   */
  async measure(plan: ServerPlan, round: number): Promise<void> {
    this.#round = round;
    this.#titles.set(plan.id, plan.title);
    let server: RunningServer | null;
    try {
      server = await plan.start();
    } catch (error) {
      this.#fail(
        this.#labels.map((l) => l.label),
        plan,
        `could not start: ${error instanceof Error ? error.message : error}`,
        "every row",
      );
      return;
    }
    if (server === null) return;
    try {
      this.#record(plan.describeStart(server));
      await this.#warmUp(server);
      for (const w of WORKLOADS) {
        const labels = rowLabels(w);
        if (plan.oneClientAtATime && w.clients > 1) {
          for (const l of labels) {
            this.#verdict(l, plan.id, { kind: "skipped", reason: "one client at a time" });
          }
        } else if (w.tool === "loadgen") {
          await this.#loadgen(plan, server, w, labels[0]);
        } else if (this.#options.hasRedisBenchmark) {
          await this.#redisBenchmark(plan, server, w, labels);
        }
      }
    } finally {
      await server.stop();
    }
  }

  /**
   * The table's rows: each cell is the median round (the lower middle one for an even count), so
   * it is a measurement that really happened, with its own latencies.
   *
   * @returns One row per workload and test.
   */
  rows(): ReportRow[] {
    let anyNoisy = false;
    const rows = this.#labels.map(({ label, tool }) => {
      const cells = new Map<string, Cell>(this.#verdicts.get(label));
      for (const [id, samples] of this.#samples.get(label) ?? []) {
        if (cells.has(id)) continue; // failed in some round
        const sorted = [...samples].sort((a, b) => a.rps - b.rps);
        const median = sorted[Math.floor((sorted.length - 1) / 2)];
        const noisy = sorted[sorted.length - 1].rps > sorted[0].rps * NOISY_SPREAD;
        anyNoisy ||= noisy;
        cells.set(id, { kind: "measured", ...median, noisy });
      }
      return { label, tool, cells };
    });
    if (anyNoisy) {
      this.notes.push(
        `† The fastest round of this cell was more than ${
          Math.round((NOISY_SPREAD - 1) * 100)
        } % ` +
          "faster than its slowest: re-run before trusting it.",
      );
    }
    return rows;
  }

  #record(command: string): void {
    if (this.#round === 1) this.commands.push(command);
  }

  #sample(label: string, id: string, sample: Sample): void {
    let byServer = this.#samples.get(label);
    if (byServer === undefined) this.#samples.set(label, byServer = new Map());
    const samples = byServer.get(id) ?? [];
    samples.push(sample);
    byServer.set(id, samples);
  }

  #verdict(label: string, id: string, cell: Cell): void {
    let byServer = this.#verdicts.get(label);
    if (byServer === undefined) this.#verdicts.set(label, byServer = new Map());
    if (byServer.get(id)?.kind !== "failed") byServer.set(id, cell);
  }

  #fail(labels: string[], plan: ServerPlan, reason: string, what = labels.join(" and ")): void {
    this.failed = true;
    for (const l of labels) this.#verdict(l, plan.id, { kind: "failed", reason: "see notes" });
    this.notes.push(`${plan.title}, ${what}, round ${this.#round}: ${reason}`);
    console.error(`  failed: ${reason}`);
  }

  /** A short unreported load, so that a JIT-compiled server is measured warm, as in production. */
  async #warmUp(server: RunningServer): Promise<void> {
    const size = this.#options.quick ? WARMUP_REQUESTS.quick : WARMUP_REQUESTS.full;
    const args = this.#loadgenArgs(server, 1, 16, ["--requests", String(size)]);
    this.#record(`${commandLine("deno", ["run", "--allow-net", ...args])}  # warm-up`);
    const outcome = await this.#runLoadgen(args);
    if (outcome.code !== 0) console.error(`  warm-up: ${failureReason(outcome, this.#timeoutMs)}`);
  }

  #loadgenArgs(server: RunningServer, clients: number, pipeline: number, bound: string[]) {
    return [
      "bench/loadgen.ts",
      "--addr",
      server.addr,
      "--connections",
      String(clients),
      "--pipeline",
      String(pipeline),
      "--mix",
      LOADGEN_MIX,
      "--keyspace",
      String(KEYSPACE),
      "--value-size",
      String(VALUE_SIZE),
      ...bound,
      "--json",
    ];
  }

  /** Runs the load generator in its own process, so that each server meets it equally fresh. */
  #runLoadgen(args: string[]): Promise<ProgramOutcome> {
    const [script, ...rest] = args;
    return runProgram(
      Deno.execPath(),
      ["run", "--allow-net", `${REPO_ROOT}${script}`, ...rest],
      this.#timeoutMs,
    );
  }

  async #loadgen(
    plan: ServerPlan,
    server: RunningServer,
    w: Workload & { tool: "loadgen" },
    label: string,
  ): Promise<void> {
    const { quick, requests } = this.#options;
    const bound = requests !== undefined
      ? ["--requests", String(requests)]
      : ["--duration", String(quick ? w.seconds.quick : w.seconds.full)];
    const args = this.#loadgenArgs(server, w.clients, w.pipeline, bound);
    this.#record(commandLine("deno", ["run", "--allow-net", ...args]));
    const outcome = await this.#runLoadgen(args);
    let result: LoadResult | undefined;
    try {
      result = JSON.parse(outcome.stdout) as LoadResult;
    } catch {
      // no JSON: the run failed before it could report
    }
    if (outcome.code !== 0 || typeof result?.opsPerSec !== "number") {
      const reason = result?.errors
        ? `${result.errors} error replies, the first: ${result.firstError}`
        : failureReason(outcome, this.#timeoutMs);
      this.#fail([label], plan, reason);
      return;
    }
    const { p50, p99 } = result.latencyUs;
    this.#sample(label, plan.id, { rps: result.opsPerSec, p50Us: p50, p99Us: p99 });
    console.error(`  ${label}: ${grouped(result.opsPerSec)} ops/s`);
  }

  async #redisBenchmark(
    plan: ServerPlan,
    server: RunningServer,
    w: Workload & { tool: "redis-benchmark" },
    labels: string[],
  ): Promise<void> {
    const { quick, requests } = this.#options;
    const args = redisBenchmarkArgs(server.host, server.port, {
      tests: w.tests ?? ["set", "get"],
      requests: requests ?? (quick ? w.requests.quick : w.requests.full),
      clients: w.clients,
      pipeline: w.pipeline,
      keyspace: KEYSPACE,
      valueSize: w.valueSize ?? VALUE_SIZE,
    });
    this.#record(commandLine("redis-benchmark", args));
    const outcome = await runProgram("redis-benchmark", args, this.#timeoutMs);
    if (outcome.code !== 0) {
      this.#fail(labels, plan, `redis-benchmark ${failureReason(outcome, this.#timeoutMs)}`);
      return;
    }
    let lines;
    try {
      lines = parseBenchmarkCsv(outcome.stdout);
    } catch (error) {
      this.#fail(labels, plan, error instanceof Error ? error.message : String(error));
      return;
    }
    for (const label of labels) {
      const line = lines.find((l) => label.startsWith(`${l.test},`));
      if (line === undefined) {
        this.#fail([label], plan, "redis-benchmark printed no result for it");
        continue;
      }
      this.#sample(label, plan.id, { rps: line.rps });
      console.error(`  ${label}: ${grouped(line.rps)} req/s`);
    }
  }
}
