/**
 * The grader: runs a lab's black-box suite against any server, in any language, and reports each
 * check.
 *
 * ```
 * deno task grade lab2 --addr 127.0.0.1:6379                 a server that is already running
 * deno task grade lab2 --cmd "python3 server.py --port {port}"  started (and stopped) for you
 * deno task grade lab2                                        this repository's reference lab
 * ```
 *
 * Keys and values are random for every run, the earlier labs' checks run again as regressions,
 * and the exit code is 0 only if every check passed. The grader is trusted because CI proves it:
 * it passes every reference lab, fails every untouched exercise at its first step, and passes a
 * real `redis-server` for the checks marked Redis-compatible (`course/grade_test.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError } from "../shared/cli.ts";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import { findLab, type Lab, type LabRun, LABS } from "./labs.ts";
import { type LessonStep, parseLesson } from "./lesson.ts";
import { type CheckResult, planChecks, printByStep, runChecks } from "./run_checks.ts";
import { commandServer, external, repoServer, type Target } from "./target.ts";

/**
 * Reads a lab's lesson steps from its README.
 *
 * @param lab The lab.
 * @returns The steps and the checks each names; none for a lab checked in suite order.
 */
export async function lessonOf(lab: Lab): Promise<LessonStep[]> {
  if (!lab.lessonOrder) return [];
  return parseLesson(await Deno.readTextFile(`${REPO_ROOT}${lab.dir}/README.md`));
}

/** Options for {@link grade}. */
export interface GradeOptions {
  /** Only the checks the real server passes (to grade the grader against it). */
  compatibleOnly?: boolean;
  /** Stop at the first failure. */
  stopAtFirstFailure?: boolean;
  /** Called after each check. */
  onResult?: (result: CheckResult) => void;
}

/**
 * Runs a lab's checks, in lesson order, against a server.
 *
 * @param lab The lab whose suite to run.
 * @param run The prepared run (its checks).
 * @param addr The server, `host:port`.
 * @param options Which checks, and progress.
 * @returns One result per check run.
 */
export async function grade(
  lab: Lab,
  run: LabRun,
  addr: string,
  options: GradeOptions = {},
): Promise<CheckResult[]> {
  const checks = run.checks.filter((check) => !options.compatibleOnly || check.compatible);
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

const TASK = "deno task grade";

const USAGE = `Usage: deno task grade <lab> [--addr HOST:PORT | --cmd "COMMAND"] [options]

Runs a lab's black-box suite against a server and reports every check.

  <lab>               ${LABS.map((lab) => lab.id).join(", ")}
  --addr HOST:PORT    grade a server that is already running
  --cmd "COMMAND"     start the server with this shell command; {port} is replaced by a free
                      port, and the server is ready when that port accepts connections
                      (default: this repository's reference server for the lab)
  --compatible-only   only the checks the real server (redis-server, or memcached for
                      lab4-memcache) passes too
  --help              show this help

Exit status: 0 if every check passed, 1 if any failed, 2 for a usage error.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({ usage: TASK, help: USAGE }, () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        addr: { type: "string" },
        cmd: { type: "string" },
        "compatible-only": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }));
  const lab = positionals.length === 1 ? findLab(positionals[0]) : undefined;
  if (lab === undefined) usageError(`Name one lab: ${LABS.map((l) => l.id).join(", ")}`, TASK);
  if (values.addr && values.cmd) usageError("Give --addr or --cmd, not both", TASK);
  await using run = await lab.prepare(!values.addr && !values.cmd);
  let target: Target;
  let addr: string;
  try {
    if (values.addr) ({ target, addr } = { target: external(values.addr), addr: values.addr });
    else if (values.cmd) {
      target = await commandServer(values.cmd);
      addr = target.addr;
    } else ({ target, addr } = await startForRun(lab, run, `${lab.dir}/server.ts`));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  await using _server = target;
  console.log(`${lab.title}: grading ${addr}`);
  const results = await grade(lab, run, addr, {
    compatibleOnly: values["compatible-only"],
    onResult: printByStep(),
  });
  const failed = results.filter((r) => !r.ok).length;
  console.log(
    `\n${lab.id}: ${results.length} checks, ${results.length - failed} passed, ${failed} failed`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
