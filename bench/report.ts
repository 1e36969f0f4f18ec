/**
 * The comparison's results as a markdown report: the machine, a table of requests per second with
 * each server's ratio to `redis-server`, the load generator's latencies, notes, and every command
 * that was run.
 *
 * The ratio is the number to read. Absolute requests per second depend on the machine, on what
 * else it was doing, and on the load generator's own CPU use; a ratio measured in the same run, on
 * the same machine, with the same tool, cancels most of that out.
 *
 * @module
 */

import type { MachineInfo } from "./machine.ts";

/** The column id of `redis-server`, the reference every ratio is taken against. */
export const REDIS_ID = "redis";

/** One server's result for one row. */
export type Cell =
  | {
    kind: "measured";
    /** Requests per second. */
    rps: number;
    /** Median latency in µs, where the tool reports it per batch (the load generator). */
    p50Us?: number;
    /** 99th percentile latency in µs, likewise. */
    p99Us?: number;
    /** The rounds disagreed so much that this number needs a re-run before it is trusted. */
    noisy?: boolean;
  }
  | {
    kind: "skipped" | "failed";
    /** Short, for the table cell: "one client at a time". Details go in the notes. */
    reason: string;
  };

/** A row of the table: one test of one workload, such as `SET, -P 16 -c 50`. */
export interface ReportRow {
  /** Shown in the first column. */
  label: string;
  /** Which tool measured it. */
  tool: "redis-benchmark" | "loadgen";
  /** By server id. */
  cells: Map<string, Cell>;
}

/** A column of the table. */
export interface ServerColumn {
  /** Such as `redis` or `lab1`; what `--only` takes. */
  id: string;
  /** Such as `redis-server` or `lab1 (01-single-client)`. */
  title: string;
}

/** Everything a report shows. */
export interface Report {
  /** When the runs were made. */
  date: Date;
  /** Whether the runs were shortened for a smoke test. */
  quick: boolean;
  /** The machine, the versions, and how busy it was. */
  machine: MachineInfo;
  /** The servers compared, one column each. */
  servers: ServerColumn[];
  /** The workloads, one row each. */
  rows: ReportRow[];
  /** Sentences on what was skipped, what failed, and how to read the rows. */
  notes: string[];
  /** The exact commands, in the order they ran. */
  commands: string[];
}

function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/**
 * Quotes an argument for a POSIX shell only where it needs it, so a printed command can be pasted.
 *
 * @param arg One argument.
 * @returns It as a shell word.
 * @example
 * ```ts
 * shellQuote("--save"); // --save
 * shellQuote(""); // ''
 * ```
 */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Formats a command line for the report.
 *
 * @param program The program as a reader would type it, such as `redis-benchmark`.
 * @param args Its arguments.
 * @returns One line.
 */
export function commandLine(program: string, args: readonly string[]): string {
  return [program, ...args].map(shellQuote).join(" ");
}

function throughputCell(row: ReportRow, id: string): string {
  const cell = row.cells.get(id);
  if (cell === undefined) return "—";
  if (cell.kind !== "measured") return `${cell.kind}: ${cell.reason}`;
  const redis = row.cells.get(REDIS_ID);
  const mark = cell.noisy ? " †" : "";
  if (id === REDIS_ID || redis?.kind !== "measured") return `${grouped(cell.rps)}${mark}`;
  return `${grouped(cell.rps)} (${(cell.rps / redis.rps).toFixed(2)}×)${mark}`;
}

function latencyCell(row: ReportRow, id: string): string {
  const cell = row.cells.get(id);
  if (cell === undefined) return "—";
  if (cell.kind !== "measured") return cell.kind;
  return `${grouped(cell.p50Us ?? NaN)} / ${grouped(cell.p99Us ?? NaN)}`;
}

/** A markdown table whose columns are padded, so it also reads well in a terminal. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(" | ")} |`;
  const rule = `| ${
    widths.map((w, i) => i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":").join(" | ")
  } |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/**
 * The table of requests per second, each cell with its ratio to `redis-server`: the part of the
 * report the course README shows.
 *
 * @param report The comparison.
 * @returns A markdown table.
 */
export function renderThroughputTable(report: Report): string {
  return table(
    ["workload", ...report.servers.map((s) => s.title)],
    report.rows.map((r) => [r.label, ...report.servers.map((s) => throughputCell(r, s.id))]),
  );
}

/**
 * Renders a report as markdown.
 *
 * @param report The results and their context.
 * @returns The whole document, ending with a newline.
 */
export function renderMarkdown(report: Report): string {
  const { machine: m } = report;
  const hasRedis = report.servers.some((s) => s.id === REDIS_ID);
  const titles = report.servers.map((s) => s.title);
  const out: string[] = [];

  out.push("# Cache Lab benchmark", "");
  out.push(`- Date: ${report.date.toISOString().replace(/\.\d+Z$/, "Z")}`);
  out.push(
    `- Machine: ${m.cores} cores, ${m.cpuModel}` +
      (m.memoryGiB === undefined ? "" : `, ${m.memoryGiB.toFixed(1)} GiB RAM`) +
      `, ${m.platform}` +
      (m.loadAverage === undefined
        ? ""
        : `; 1-minute load average before the run: ${m.loadAverage}`),
  );
  out.push(
    `- Software: Deno ${m.deno}, redis-server ${m.redisServer ?? "not installed"}, ` +
      `redis-benchmark ${m.redisBenchmark ?? "not installed"}`,
  );
  out.push(
    report.quick
      ? "- Mode: --quick (short runs for smoke testing; the numbers are noise, not results)"
      : "- Mode: full",
  );
  out.push("");

  out.push(
    hasRedis
      ? "## Requests per second (in parentheses: ratio to redis-server in this run)"
      : "## Requests per second",
    "",
  );
  out.push(renderThroughputTable(report), "");

  const loadgenRows = report.rows.filter((r) => r.tool === "loadgen");
  if (loadgenRows.some((r) => [...r.cells.values()].some((c) => c.kind === "measured"))) {
    out.push("## Load generator latency per batch (µs, p50 / p99)", "");
    out.push(
      table(
        ["workload", ...titles],
        loadgenRows.map((r) => [r.label, ...report.servers.map((s) => latencyCell(r, s.id))]),
      ),
      "",
    );
  }

  out.push("## How to read this", "");
  out.push(
    "- `-c N`: N concurrent connections. `-P 16`: 16 commands sent together before waiting for " +
      "their replies (pipelining); without `-P`, one request at a time per connection.",
    "- SET/GET rows are `redis-benchmark` (C), the primary yardstick. `loadgen` rows are " +
      "`bench/loadgen.ts`, which is written in TypeScript and costs more CPU per request.",
    `- The load generator and the server share the same ${m.cores} cores, so every number is ` +
      "lower than the server alone could do. Compare ratios within one run, not absolute numbers " +
      "across runs or machines.",
    "- Servers run one at a time, never two under load at once.",
  );
  for (const note of report.notes) out.push(`- ${note}`);
  out.push("");

  out.push("## Commands run, in order", "", "```sh", ...report.commands, "```", "");
  return out.join("\n");
}

/** The markers around the generated table in the course README. */
export const BENCH_REGION = { start: "<!-- bench:start -->", end: "<!-- bench:end -->" } as const;

/**
 * The README's benchmark section: how it was measured, the table, and the chart.
 *
 * @param report The comparison.
 * @returns Markdown to go between the README's markers.
 */
export function readmeSection(report: Report): string {
  const { machine: m } = report;
  return [
    `Measured with \`deno task bench\` on ${report.date.toISOString().slice(0, 10)}: ` +
    `${m.cores} cores (${m.cpuModel}), Deno ${m.deno}, redis-server ` +
    `${m.redisServer ?? "not installed"}. Requests per second, median of the rounds; in ` +
    "parentheses the ratio to `redis-server` in the same run. † marks a cell whose rounds " +
    "differed by more than 25%: the machine is shared, so read the ratios, not the absolute " +
    "numbers. The full report, with every command run, is printed by the same task.",
    "",
    renderThroughputTable(report),
    "",
    "![Each lab's throughput as a ratio to redis-server](docs/bench.svg)",
  ].join("\n");
}

/**
 * Replaces what stands between the benchmark markers of a README.
 *
 * @param text The README.
 * @param section The new content.
 * @returns The README with the section replaced.
 * @throws {SyntaxError} If the markers are missing or out of order.
 */
export function replaceBenchRegion(text: string, section: string): string {
  const start = text.indexOf(BENCH_REGION.start);
  const end = text.indexOf(BENCH_REGION.end);
  if (start < 0 || end < start) {
    throw new SyntaxError(
      `Cannot update the README: it needs "${BENCH_REGION.start}" and then "${BENCH_REGION.end}"`,
    );
  }
  return `${text.slice(0, start + BENCH_REGION.start.length)}\n\n${section}\n\n${text.slice(end)}`;
}
