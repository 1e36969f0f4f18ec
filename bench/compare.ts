/**
 * Side-by-side comparison of every lab's server with a real `redis-server`: `deno task bench`.
 *
 * It starts each server in turn on a free port, loads it with `redis-benchmark` and with the
 * project's own load generator, stops it, and moves on to the next. One at a time, because the
 * build machine has 2 cores: two servers under load at once would each get a share of the CPU
 * that depends on the other, and neither number would mean anything. The whole sequence runs in
 * rounds, and each cell shows the median round (see `measure.ts`).
 *
 * At the end it prints a markdown report: requests per second for every server and workload, the
 * ratio of each to `redis-server` in the same run (the number the course's targets are stated in),
 * the machine, and every command it ran, so that anyone can repeat a single measurement by hand.
 *
 * @module
 */

import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { hasProgram } from "../shared/testing/processes.ts";
import { CpuWatch, describeMachine } from "./machine.ts";
import { Measurements } from "./measure.ts";
import { renderChart } from "./chart.ts";
import { readmeSection, REDIS_ID, renderMarkdown, replaceBenchRegion } from "./report.ts";
import { discoverLabs, redisPlan, type ServerPlan } from "./servers.ts";

/** The command-line options. */
interface CompareOptions {
  quick: boolean;
  requests: number | undefined;
  rounds: number;
  only: string[] | undefined;
  out: string | undefined;
  /** The README whose marked region gets the table (full runs only). */
  readme: string | undefined;
  /** Where to write the SVG chart (full runs only). */
  chart: string | undefined;
}

const DEFAULT_ROUNDS = 3;

const HELP = `Usage: deno task bench [options]

Measures redis-server and every lab's server, one at a time, with redis-benchmark and with
bench/loadgen.ts, and prints a markdown table of requests per second and each server's ratio to
redis-server in the same run.

Options:
  --quick          one short round (a few seconds in all), for a CI smoke test; the numbers are noise
  --rounds N       measure every server N times, in turn, and report the median (default ${DEFAULT_ROUNDS})
  --requests N     requests per run for every row (default: sized per row, a second or two each)
  --only LIST      servers to measure, comma-separated: redis, lab1, lab2, ... (default: all)
  --out FILE       also write the markdown to FILE (needs --allow-write; bench/results/ is ignored by git)
  --readme FILE    replace the table between "<!-- bench:start -->" and "<!-- bench:end -->" in FILE
  --chart FILE     write the ratios as an SVG bar chart to FILE
                   (--readme and --chart are skipped with --quick: those numbers are noise)
  -h, --help       show this help

Progress goes to stderr, the report to stdout. Exits 1 if any measurement failed.
redis-benchmark (C) is the primary yardstick; a missing redis-server or redis-benchmark is
skipped with a message.`;

function usageError(message: string): never {
  console.error(`${message}\nRun "deno task bench --help" for usage.`);
  Deno.exit(2);
}

function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) {
    usageError(`Invalid --${flag}: "${text}" is not a positive whole number`);
  }
  return n;
}

function parseCli(argv: string[]): CompareOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: "boolean", default: false },
        rounds: { type: "string" },
        requests: { type: "string" },
        only: { type: "string" },
        out: { type: "string" },
        readme: { type: "string" },
        chart: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  return {
    quick: values.quick,
    requests: values.requests === undefined
      ? undefined
      : positiveInteger("requests", values.requests),
    rounds: values.rounds === undefined
      ? (values.quick ? 1 : DEFAULT_ROUNDS)
      : positiveInteger("rounds", values.rounds),
    only: values.only?.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== ""),
    out: values.out,
    readme: values.readme,
    chart: values.chart,
  };
}

/** Checks up front that `--out` can be written, rather than failing after minutes of measuring. */
function checkWritable(path: string): void {
  if (Deno.permissions.querySync({ name: "write", path }).state === "granted") return;
  usageError(
    `Writing ${path} needs permission to write ${path}. Run with --allow-write, for example:\n` +
      "  deno run --allow-net --allow-run --allow-read --allow-env --allow-write " +
      `bench/compare.ts --out ${path}`,
  );
}

/** Chooses the servers: the reference and every lab, narrowed by `--only`, minus what is missing. */
function choosePlans(options: CompareOptions, notes: string[]): ServerPlan[] {
  let plans = [redisPlan(), ...discoverLabs()];
  if (options.only !== undefined) {
    const known = plans.map((p) => p.id);
    const unknown = options.only.filter((id) => !known.includes(id));
    if (unknown.length > 0) {
      usageError(`Unknown server in --only: ${unknown.join(", ")} (known: ${known.join(", ")})`);
    }
    plans = plans.filter((p) => options.only?.includes(p.id));
  }
  if (plans.some((p) => p.id === REDIS_ID) && !hasProgram("redis-server")) {
    const message = "redis-server is not installed (Debian package redis-server): its column " +
      "is left out, and so are the ratios.";
    console.error(message);
    notes.push(message);
    plans = plans.filter((p) => p.id !== REDIS_ID);
  }
  if (plans.length === 0) usageError("Nothing to measure");
  for (const p of plans.filter((p) => p.oneClientAtATime)) {
    notes.push(
      `${p.title} serves one client at a time, so it is skipped in the multi-client rows ` +
        "(49 of 50 connections would wait forever); its `-c 1` rows compare it on equal terms.",
    );
  }
  return plans;
}

async function main(argv: string[]): Promise<number> {
  const options = parseCli(argv);
  for (const path of [options.out, options.readme, options.chart]) {
    if (path !== undefined) checkWritable(path);
  }
  const notes: string[] = [];
  const plans = choosePlans(options, notes);
  const hasRedisBenchmark = hasProgram("redis-benchmark");
  if (!hasRedisBenchmark) {
    const message = "redis-benchmark is not installed (Debian package redis-tools): its rows " +
      "are empty; only the load generator ran.";
    console.error(message);
    notes.push(message);
  }

  const machine = await describeMachine();
  const date = new Date();
  const measurements = new Measurements({
    quick: options.quick,
    requests: options.requests,
    hasRedisBenchmark,
  });
  // What share of the CPU went to someone else during each server's turn: a reader can then tell
  // a slow server from a busy neighbour.
  const competition = new Map<string, string[]>(plans.map((p) => [p.id, []]));
  for (let round = 1; round <= options.rounds; round++) {
    // Each round starts with a different server, so that no server is always measured first,
    // or always right after the same other one.
    const order = plans.map((_, i) => plans[(i + round - 1) % plans.length]);
    for (const plan of order) {
      console.error(`== round ${round}/${options.rounds}: ${plan.title}`);
      const watch = await CpuWatch.start();
      await measurements.measure(plan, round);
      const shares = await watch.competition();
      const text = shares === undefined
        ? "?"
        : `${Math.round(shares.others * 100)} %/${Math.round(shares.steal * 100)} %`;
      competition.get(plan.id)?.push(text);
      console.error(`   CPU taken by other processes/other machines meanwhile: ${text}`);
    }
  }

  const rows = measurements.rows();
  const roundsNote = options.rounds > 1
    ? `Each cell is the median of ${options.rounds} rounds; the servers took turns in every ` +
      "round, each round starting with a different one. The commands below are round 1's; " +
      "later rounds repeat them on new ports."
    : "One round: each cell is a single measurement.";
  const othersNote = "Share of the CPU taken during each server's turn by other processes / by " +
    "other virtual machines on the host (steal time)" +
    (options.rounds > 1 ? ", by round" : "") + ": " +
    plans.map((p) => `${p.title} ${competition.get(p.id)?.join(", ")}`).join("; ") +
    ". Near 0 % the numbers are the servers' own; well above, someone was competing for the " +
    "cores.";
  const report = {
    date,
    quick: options.quick,
    machine,
    servers: plans,
    rows,
    notes: [roundsNote, othersNote, ...notes, ...measurements.notes],
    commands: measurements.commands,
  };
  const markdown = renderMarkdown(report);
  console.log(markdown);
  if (options.out !== undefined) {
    try {
      Deno.mkdirSync(dirname(options.out), { recursive: true });
    } catch {
      // exists, or cannot be made: writing the file says which
    }
    Deno.writeTextFileSync(options.out, markdown);
    console.error(`Wrote ${options.out}`);
  }
  if (options.quick && (options.readme !== undefined || options.chart !== undefined)) {
    console.error("--quick: the README table and the chart are left as they were");
  } else {
    if (options.chart !== undefined) {
      Deno.writeTextFileSync(options.chart, renderChart(report));
      console.error(`Wrote ${options.chart}`);
    }
    if (options.readme !== undefined) {
      const text = Deno.readTextFileSync(options.readme);
      Deno.writeTextFileSync(options.readme, replaceBenchRegion(text, readmeSection(report)));
      console.error(`Updated the table in ${options.readme}`);
    }
    // The project's formatter owns the layout of both files (wrapped prose, padded tables, SVG
    // attributes), so what was generated is left exactly as `deno fmt --check` in CI expects it.
    const written = [options.readme, options.chart].filter((p) => p !== undefined);
    if (written.length > 0) {
      const fmt = new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", ...written] });
      if (!(await fmt.output()).success) console.error(`deno fmt ${written.join(" ")} failed`);
    }
  }
  return measurements.failed ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
