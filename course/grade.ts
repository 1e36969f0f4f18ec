/**
 * The grader: runs a lab's black-box suite against any server, in any language, and reports each
 * check, for one submission or a whole class.
 *
 * ```
 * deno task grade lab2 --addr 127.0.0.1:6379                    a server that is already running
 * deno task grade lab2 --cmd "python3 server.py --port {port}"  started (and stopped) for you
 * deno task grade lab2 --batch submissions/                     every folder with a grade.json
 * deno task grade lab2                                          this repository's reference lab
 * ```
 *
 * Keys and values are random for every run but come from a seed the report prints (`--seed N`
 * sends the same ones again); the earlier labs' checks run again as regressions. Exit status: 0
 * every check passed, 1 a check failed, 2 a usage error, 3 nothing could be checked (the server
 * never started, or the grader itself failed), so a script can tell a student's failure from a
 * broken run.
 *
 * The grader is trusted because CI proves it: it passes every reference lab, fails every
 * untouched exercise at its first step, and passes a real `redis-server` (and `memcached`) on
 * the checks marked compatible (`course/grade_test.ts`, `course/tasks_test.ts`). It survives
 * what real submissions do (`course/grade_robust_test.ts`): wrapper scripts that do not `exec`,
 * servers that crash halfway or listen on `::1` only, servers that answer nothing.
 *
 * @module
 */

import { isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
import { connectOptions } from "../shared/testing/raw_client.ts";
import { newSeed } from "../shared/testing/random.ts";
import type { LabProgram } from "../shared/testing/suite.ts";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import {
  entryIn,
  findLab,
  type Lab,
  type LabRun,
  LABS,
  runnableHere,
  SCRATCH_PARENT,
} from "./labs.ts";
import { type LessonStep, parseLesson, parseListLesson } from "./lesson.ts";
import {
  exitCode,
  EXTENSIONS,
  type Format,
  FORMATS,
  type GradeReport,
  render,
  score,
  textSummary,
  verdict,
} from "./report.ts";
import { type CheckResult, planChecks, printByStep, runChecks } from "./run_checks.ts";
import {
  commandServer,
  external,
  repoServer,
  type RestartOptions,
  StartError,
  tail,
  type Target,
} from "./target.ts";

/**
 * Reads a lab's lesson steps from its README.
 *
 * @param lab The lab.
 * @returns The steps and the checks each names; none for a lab checked in suite order.
 */
export async function lessonOf(lab: Lab): Promise<LessonStep[]> {
  if (!lab.lessonOrder) return [];
  const markdown = await Deno.readTextFile(`${REPO_ROOT}${lab.dir}/README.md`);
  return lab.part ? parseListLesson(markdown, lab.part.heading) : parseLesson(markdown);
}

/** Options for {@link grade}. */
export interface GradeOptions {
  /** Only the checks the real server passes (to grade the grader against it). */
  compatibleOnly?: boolean;
  /** Stop at the first failure, leaving the rest out of the results. */
  stopAtFirstFailure?: boolean;
  /** How long each read waits for the server. Default 5 s. */
  timeoutMs?: number;
  /** The seed keys and values come from. Random when absent. */
  seed?: number;
  /** Called after each check. */
  onResult?: (result: CheckResult) => void;
  /** Asked after a failure whether the server is still there (see `runChecks`). */
  health?: () => Promise<string | undefined>;
  /** Called once when `health` says it is gone. */
  onServerLost?: (reason: string) => void;
  /**
   * Restarts the server, resolving to the address the checks use. Without it, the checks that
   * restart the server are left out.
   */
  restart?: (flags?: readonly string[], how?: RestartOptions) => Promise<string>;
  /** Whether `restart` can start the server with a check's options (`--maxclients 2`). */
  takesFlags?: boolean;
  /** The lab's own program under test; without it, the checks that run it are left out. */
  program?: LabProgram;
}

/**
 * Runs a lab's checks, in lesson order, against a server.
 *
 * @param lab The lab whose suite to run.
 * @param run The prepared run (its checks).
 * @param addr The server, `host:port`.
 * @param options Which checks, timeouts, the seed, progress.
 * @returns One result per check.
 */
export async function grade(
  lab: Lab,
  run: LabRun,
  addr: string,
  options: GradeOptions = {},
): Promise<CheckResult[]> {
  const checks = runnableHere(run.checks).checks.filter((check) =>
    (!options.compatibleOnly || check.compatible) &&
    (!check.needsRestart || options.restart !== undefined) &&
    (!check.needsLabProgram || options.program !== undefined) &&
    (!check.flags || (options.restart !== undefined && options.takesFlags === true))
  );
  const plan = planChecks(await lessonOf(lab), checks);
  return await runChecks(plan, addr, options);
}

/**
 * Starts a lab's server from this repository for a prepared run.
 *
 * @param lab The lab.
 * @param run The prepared run (its server arguments).
 * @param entry The server's path from the repository root (the reference or a workspace).
 * @returns The running server, and the address its checks connect to.
 */
export async function startForRun(
  lab: Lab,
  run: LabRun,
  entry: string,
): Promise<{ target: Target; addr: string }> {
  const target = await repoServer(entry, { args: run.serverArgs, denoFlags: lab.denoFlags });
  return { target, addr: run.checkAddr?.(target.addr) ?? target.addr };
}

/** Where the server to grade comes from. */
export type Submission =
  | { addr: string }
  | { cmd: string; cwd?: string }
  | { reference: true };

/** Options for {@link gradeSubmission}. */
export interface SubmissionOptions {
  /** Only the checks the real server passes too. */
  compatibleOnly?: boolean;
  /** After the first failure, mark the rest "not run". */
  failFast?: boolean;
  /** How long each read waits for the server. Default 5 s. */
  timeoutMs?: number;
  /** The seed; a fresh one when absent (the report says which). */
  seed?: number;
  /** Where the text report goes, line by line. */
  write: (line: string) => void;
}

/**
 * Grades one submission: starts it (or reaches it), runs the lab's checks, stops it.
 *
 * @param lab The lab.
 * @param submission An address, a command, or this repository's reference.
 * @param options Which checks, timeouts, the seed, where the text goes.
 * @returns The report; `couldNotRun` says why when no check could run.
 */
export async function gradeSubmission(
  lab: Lab,
  submission: Submission,
  options: SubmissionOptions,
): Promise<GradeReport> {
  const seed = options.seed ?? newSeed();
  const timeoutMs = options.timeoutMs ?? 5_000;
  const described = "addr" in submission
    ? submission.addr
    : "cmd" in submission
    ? submission.cmd
    : entryIn(lab, lab.dir);
  const report: GradeReport = {
    lab: lab.id,
    title: lab.title,
    target: described,
    seed,
    results: [],
  };
  await using run = await lab.prepare("reference" in submission);
  let target: Target;
  let addr: string;
  try {
    if ("addr" in submission) {
      if (run.upstream !== undefined) {
        throw new StartError(
          `${lab.id} is checked against an upstream the grader starts and watches: give ` +
            `--cmd with {upstream} (such as "... --upstream {upstream} --port {port}")`,
        );
      }
      await reachable(submission.addr);
      target = external(submission.addr);
      addr = submission.addr;
    } else if ("cmd" in submission) {
      target = await commandServer(submission.cmd, {
        cwd: submission.cwd,
        scratchParent: SCRATCH_PARENT,
        checkPort: lab.checkPort,
        upstream: run.upstream,
      });
      addr = target.addr;
    } else ({ target, addr } = await startForRun(lab, run, entryIn(lab, lab.dir)));
  } catch (error) {
    report.couldNotRun = error instanceof Error ? error.message : String(error);
    options.write(`${lab.title}: could not start ${described}`);
    options.write(textSummary(report));
    return report;
  }
  await using _server = target;
  options.write(`${lab.title}: grading ${addr} (seed ${seed})`);
  const unrestartable = target.restart ? [] : run.checks.filter((check) => check.needsRestart);
  if (unrestartable.length > 0) {
    const noun = unrestartable.length === 1
      ? "1 check that restarts"
      : `${unrestartable.length} checks that restart`;
    options.write(
      `(${noun} the server left out: the grader can restart only a server it starts, with --cmd)`,
    );
  }
  const unflaggable = target.takesFlags ? [] : run.checks.filter((check) => check.flags);
  if (unflaggable.length > 0) {
    options.write(
      `(${unflaggable.length} check${unflaggable.length === 1 ? "" : "s"} left out: they ` +
        `start the server with options (${unflaggable[0].flags?.join(" ")}, ...), which needs ` +
        `--cmd with a {flags} placeholder)`,
    );
  }
  for (const note of runnableHere(run.checks).notes) options.write(note);
  // The grader knows a lab's own programs only in this repository: the reference's.
  const program = "reference" in submission ? run.program?.(lab.dir) : undefined;
  const programless = program ? [] : run.checks.filter((check) => check.needsLabProgram);
  if (programless.length > 0) {
    options.write(
      `(${programless.length} check${programless.length === 1 ? "" : "s"} of the lab's own ` +
        "program (lab 3's client, lab 2's race demo) left out: the grader runs it only for this " +
        `repository's reference; deno task check ${lab.id} runs the workspace's)`,
    );
  }
  // A restarted reference server listens on a new port: the health probe must follow it.
  let current = addr;
  const restart = restarter(target, "reference" in submission ? run.checkAddr : undefined);
  report.results = await grade(lab, run, addr, {
    compatibleOnly: options.compatibleOnly,
    timeoutMs,
    seed,
    onResult: printByStep(options.write),
    health: options.failFast
      ? () => Promise.resolve("Stopped at the first failure (--fail-fast).")
      : () => serverHealth(target, run, current, timeoutMs),
    onServerLost: (reason) => {
      report.serverLost = reason;
      options.write(`\n${reason}`);
    },
    restart: restart && (async (flags, how) => current = await restart(flags, how)),
    takesFlags: target.takesFlags,
    program,
  });
  options.write(textSummary(report));
  return report;
}

/**
 * How the checks restart a server the grader started, or `undefined` for one it did not.
 *
 * @param target The server.
 * @param checkAddr Where the checks connect, given where the server listens (lab 4's memcached
 *   port, for a reference server); the same address by default.
 * @returns A function resolving to the address the checks use after the restart.
 */
export function restarter(
  target: Target,
  checkAddr: (serverAddr: string) => string = (addr) => addr,
): ((flags?: readonly string[], how?: RestartOptions) => Promise<string>) | undefined {
  const restart = target.restart;
  if (restart === undefined) return undefined;
  return async (flags, how) => {
    await restart.call(target, flags, how);
    return checkAddr(target.addr);
  };
}

/** Connects once, so that an address where nothing listens is "could not run", not 40 failures. */
async function reachable(addr: string): Promise<void> {
  try {
    (await Deno.connect(connectOptions(addr))).close();
  } catch (error) {
    throw new StartError(
      `Nothing accepts connections at ${addr}: ${error instanceof Error ? error.message : error}`,
    );
  }
}

/**
 * After a failed check: is the server still there? `undefined` if it answers; otherwise why not,
 * said once, with the exit status and the last lines it printed (a Python traceback, say).
 */
async function serverHealth(
  target: Target,
  run: LabRun,
  addr: string,
  timeoutMs: number,
): Promise<string | undefined> {
  if (target.ended() === undefined && await run.probe(addr, timeoutMs)) return undefined;
  // It does not answer. If it is dying, give its exit a moment to be seen, so the report names
  // the crash rather than the silence that follows it.
  for (let i = 0; i < 20 && target.ended() === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const ended = target.ended();
  const why = ended === undefined
    ? `The server stopped answering: nothing came back to a PING within ${timeoutMs / 1000} s.`
    : `The server ${ended}.`;
  return `${why} The checks after this one were not run.` +
    tail(target.log(), "\nIts last output:\n");
}

/** A student's folder in batch mode: what `grade.json` may say. */
export interface Manifest {
  /** The command that starts the server, run in the student's folder (`{port}` and so on). */
  cmd: string;
}

/**
 * Reads and checks a `grade.json`.
 *
 * @param text The file's text.
 * @returns The manifest.
 * @throws {SyntaxError} If it is not JSON with a string `cmd`.
 */
export function parseManifest(text: string): Manifest {
  const parsed: unknown = JSON.parse(text);
  if (
    typeof parsed !== "object" || parsed === null || !("cmd" in parsed) ||
    typeof parsed.cmd !== "string" || parsed.cmd.trim() === ""
  ) {
    throw new SyntaxError(`grade.json needs a "cmd": {"cmd": "python3 server.py --port {port}"}`);
  }
  return { cmd: parsed.cmd };
}

/** One student's line in the batch summary. */
export interface BatchRow {
  /** The submission's folder name. */
  student: string;
  /** What the grader found. */
  report: GradeReport;
  /** How long grading took. */
  seconds: number;
}

/**
 * The batch summary: one row per student, widths fitted to the names.
 *
 * @param rows The students, in order.
 * @returns The table as lines.
 */
export function summaryTable(rows: readonly BatchRow[]): string {
  const header = ["student", "verdict", "score", "passed", "failed", "not run", "seconds"];
  const lines = rows.map(({ student, report, seconds }) => {
    const { score: total, max } = score(report.results);
    const count = (status: string) => report.results.filter((r) => r.status === status).length;
    return [
      student,
      verdict(report),
      `${total}/${max}`,
      String(count("passed")),
      String(count("failed")),
      String(count("not run")),
      seconds.toFixed(1),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [header, ...lines].map((cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  "))
    .join("\n");
}

/**
 * Grades every folder of `dir` that holds a `grade.json`, one after another (they would compete
 * for the machine's cores otherwise, and timing-sensitive checks would fail at random).
 *
 * @returns The rows, for the summary and the exit code.
 */
async function gradeBatch(
  lab: Lab,
  dir: string,
  options: Omit<SubmissionOptions, "write"> & { format: Format; output?: string },
): Promise<BatchRow[]> {
  const students: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isDirectory) continue;
    try {
      await Deno.stat(join(dir, entry.name, "grade.json"));
      students.push(entry.name);
    } catch {
      // not a submission: no grade.json
    }
  }
  students.sort();
  if (students.length === 0) throw new StartError(`No folder of ${dir} has a grade.json`);
  if (options.output) await Deno.mkdir(options.output, { recursive: true });
  const rows: BatchRow[] = [];
  for (const student of students) {
    const folder = join(dir, student);
    const lines: string[] = [];
    const write = (line: string) => {
      lines.push(line);
      console.log(line);
    };
    console.log(`\n===== ${student} =====`);
    const started = performance.now();
    let report: GradeReport;
    try {
      const manifest = parseManifest(await Deno.readTextFile(join(folder, "grade.json")));
      report = await gradeSubmission(lab, { cmd: manifest.cmd, cwd: folder }, {
        ...options,
        write,
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report = { lab: lab.id, title: lab.title, target: folder, seed: 0, results: [] };
      report.couldNotRun = `${join(student, "grade.json")}: ${message}`;
      write(textSummary(report));
    }
    const file = options.output
      ? join(options.output, `${student}.${EXTENSIONS[options.format]}`)
      : join(folder, `grade-report.${EXTENSIONS[options.format]}`);
    await Deno.writeTextFile(
      file,
      options.format === "text" ? lines.join("\n") + "\n" : render(report, options.format),
    );
    rows.push({ student, report, seconds: (performance.now() - started) / 1000 });
  }
  return rows;
}

const TASK = "deno task grade";

const USAGE =
  `Usage: deno task grade <lab> [--addr HOST:PORT | --cmd "COMMAND" | --batch DIR] [options]

Runs a lab's black-box suite against a server and reports every check.

  <lab>               ${LABS.map((lab) => lab.id).join(", ")}
  --addr HOST:PORT    grade a server that is already running
  --cmd "COMMAND"     start the server with this shell command (run by sh -c, in its own
                      process group, stopped with it). Placeholders: {port} a free port, which
                      the server must listen on (127.0.0.1 or ::1); {port2} a second free port
                      (lab 4's memcached port: lab4-memcache checks it when it is given);
                      {dir} a fresh empty directory for its files, removed afterwards;
                      {flags} options a check of a limit needs, such as --maxclients 2 (the
                      grader restarts the server with them, then without); {upstream} the
                      server lab2-proxy forwards to, which the grader starts and watches.
                      Lab 4's persistence check restarts it (same command, same {dir}).
                      With --addr, or no {flags}, those checks are left out, and said so
  --batch DIR         grade every folder of DIR that holds a grade.json such as
                      {"cmd": "python3 server.py --port {port}"} (run in that folder), then print
                      a summary table; each report is saved as FOLDER/grade-report.<ext>, or as
                      OUTPUT/FOLDER.<ext> with --output
                      (with none of these three: this repository's reference server for the lab)
  --compatible-only   only the checks the real server (redis-server, or memcached for
                      lab4-memcache) passes too
  --fail-fast         stop at the first failed check; the rest are reported as not run
  --timeout MS        how long to wait for each reply (default 5000)
  --seed N            the seed for random keys and values (default: a new one, printed)
  --format FORMAT     ${FORMATS.join(", ")} (default text). Gradescope writes results.json
  --output FILE       write the report there instead of standard output (the text report is
                      still printed); with --batch, a directory for the reports
  --help              show this help

Exit status: 0 every check passed, 1 a check failed, 2 a usage error, 3 nothing could be
checked (the server never started, or the grader failed). With --batch, the worst of them.`;

/** Resolves a path the user typed against the folder they typed it in (`deno task` changes it). */
function fromUser(path: string): string {
  return isAbsolute(path) ? path : resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), path);
}

function positiveNumber(text: string | undefined, flag: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = wholeNumber(text, 1, max);
  if (n === null) {
    usageError(`Invalid ${flag}: "${text}" is not a whole number from 1 to ${max}`, TASK);
  }
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({ usage: TASK, help: USAGE }, () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        addr: { type: "string" },
        cmd: { type: "string" },
        batch: { type: "string" },
        "compatible-only": { type: "boolean", default: false },
        "fail-fast": { type: "boolean", default: false },
        timeout: { type: "string" },
        seed: { type: "string" },
        format: { type: "string", default: "text" },
        output: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }));
  const lab = positionals.length === 1 ? findLab(positionals[0]) : undefined;
  if (lab === undefined) usageError(`Name one lab: ${LABS.map((l) => l.id).join(", ")}`, TASK);
  const sources = [values.addr, values.cmd, values.batch].filter((v) => v !== undefined);
  if (sources.length > 1) usageError("Give one of --addr, --cmd and --batch", TASK);
  const format = FORMATS.find((f) => f === values.format);
  if (format === undefined) {
    usageError(`Invalid --format: "${values.format}" is not one of ${FORMATS.join(", ")}`, TASK);
  }
  const seed = values.seed === undefined ? newSeed() : wholeNumber(values.seed, 0, 2 ** 32 - 1) ??
    usageError(`Invalid --seed: "${values.seed}" is not a whole number below 2^32`, TASK);
  const common = {
    compatibleOnly: values["compatible-only"],
    failFast: values["fail-fast"],
    timeoutMs: positiveNumber(values.timeout, "--timeout", 600_000),
    seed,
  };
  const output = values.output === undefined ? undefined : fromUser(values.output);

  if (values.batch !== undefined) {
    const rows = await gradeBatch(lab, fromUser(values.batch), { ...common, format, output });
    console.log(`\n${lab.id}: ${rows.length} submissions graded\n\n${summaryTable(rows)}`);
    return Math.max(...rows.map((row) => exitCode(row.report)));
  }

  // A document on standard output must be the only thing there: the progress goes to stderr.
  const toStdout = format === "text" || output !== undefined;
  const lines: string[] = [];
  const write = (line: string) => {
    lines.push(line);
    if (toStdout) console.log(line);
    else console.error(line);
  };
  const submission: Submission = values.addr !== undefined
    ? { addr: values.addr }
    : values.cmd !== undefined
    ? { cmd: values.cmd, cwd: Deno.env.get("INIT_CWD") }
    : { reference: true };
  const report = await gradeSubmission(lab, submission, { ...common, write });
  if (format !== "text") {
    const document = render(report, format);
    if (output !== undefined) await Deno.writeTextFile(output, document);
    else await writeAll(document);
  } else if (output !== undefined) await Deno.writeTextFile(output, lines.join("\n") + "\n");
  return exitCode(report);
}

/** Writes a whole document to standard output (console.log would add a newline). */
async function writeAll(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let written = 0; written < bytes.length;) {
    written += await Deno.stdout.write(bytes.subarray(written));
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    // Whatever went wrong is the grader's (or the batch folder's), not a failed check: exit 3.
    console.error(`The grader could not run: ${error instanceof Error ? error.stack : error}`);
    code = 3;
  }
  Deno.exit(code);
}
