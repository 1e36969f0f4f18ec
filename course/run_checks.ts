/**
 * Runs a lab's checks against a server, outside `deno test`, and reports each one.
 *
 * `deno test` is the right runner for the course's own CI, but a student checking one step and an
 * instructor grading a submission want something else: the checks in lesson order, a plain report
 * that says which step failed and shows the bytes, and an exit code. This module is that runner;
 * `check.ts` and `grade.ts` are its two front ends.
 *
 * @module
 */

import { CheckFailure, describeError } from "./check_failure.ts";
import { newSeed } from "../shared/testing/random.ts";
import type { CheckEnv, GradeCheck } from "./labs.ts";
import type { RestartOptions } from "./target.ts";
import type { LabProgram } from "../shared/testing/suite.ts";
import type { LessonStep } from "./lesson.ts";

/** A check, and the lesson step it belongs to (or `null` for checks no step names). */
export interface PlannedCheck {
  /** The lesson step, or `null`. */
  lesson: LessonStep | null;
  /** The check. */
  check: GradeCheck;
}

/**
 * Tells whether a lesson's name for a check means this check. A lesson may shorten a long name:
 * it names the check by its first words, with or without a trailing "...".
 */
export function namesCheck(name: string, check: { name: string }): boolean {
  const prefix = name.replace(/\s*(?:\.\.\.|…)$/, "");
  return check.name.startsWith(prefix);
}

/**
 * Orders a suite's checks as the lesson teaches them: each step's checks in turn, then (unless
 * stopping at a step) every check the lesson does not name, in suite order.
 *
 * @param lesson The lesson's steps.
 * @param suite The lab's checks.
 * @param upTo Only the checks of steps 1 to this one.
 * @returns The plan.
 */
export function planChecks(
  lesson: readonly LessonStep[],
  suite: readonly GradeCheck[],
  upTo?: number,
): PlannedCheck[] {
  const plan: PlannedCheck[] = [];
  const planned = new Set<GradeCheck>();
  for (const step of lesson) {
    if (upTo !== undefined && step.number > upTo) break;
    for (const name of step.checks) {
      for (const check of suite) {
        if (planned.has(check) || !namesCheck(name, check)) continue;
        planned.add(check);
        plan.push({ lesson: step, check });
      }
    }
  }
  if (upTo === undefined) {
    for (const check of suite) if (!planned.has(check)) plan.push({ lesson: null, check });
  }
  return plan;
}

/** What became of a check: it passed, it failed, or it never ran because the server was gone. */
export type CheckStatus = "passed" | "failed" | "not run";

/** The outcome of one check. */
export interface CheckResult extends PlannedCheck {
  /** What became of it. */
  status: CheckStatus;
  /** Whether it passed. */
  ok: boolean;
  /** What went wrong, with the bytes expected and received where the check compared bytes. */
  error?: string;
  /** The last bytes the check sent and received, escaped: the request behind a failure. */
  conversation?: string[];
  /** How long it took, in milliseconds. */
  ms: number;
}

/** Options for {@link runChecks}. */
export interface RunOptions {
  /** Stop after the first failure (the student's checker) rather than run everything (grader). */
  stopAtFirstFailure?: boolean;
  /** How long each read waits for the server. Default 5 s. */
  timeoutMs?: number;
  /** The run's seed: the same seed sends the same keys and values. Random when absent. */
  seed?: number;
  /** Called after each check, to print as we go. */
  onResult?: (result: CheckResult) => void;
  /**
   * Asked after a failure whether the server is still there. A reason (it exited, it stopped
   * answering) stops the run: the checks left are marked "not run" instead of each failing with
   * `Connection refused`, which would blame twenty checks for one crash.
   */
  health?: () => Promise<string | undefined>;
  /** Called once, with the reason, when {@link health} says the server is gone. */
  onServerLost?: (reason: string) => void;
  /**
   * Restarts the server for the checks that need it, resolving to its address. Later checks then
   * run against that address.
   */
  restart?: (flags?: readonly string[], how?: RestartOptions) => Promise<string>;
  /** The lab's own program under test (lab 3's client, lab 2's race demo). */
  program?: LabProgram;
}

/**
 * The longest a whole check may take, given the read timeout: a check makes several reads, so a
 * few timeouts' worth, and never less than 30 s, which the slowest reference checks need.
 */
function checkTimeoutMs(readTimeoutMs: number): number {
  return Math.max(30_000, 6 * readTimeoutMs);
}

/**
 * Runs planned checks against a server, one after another.
 *
 * @param plan What to run, in order.
 * @param addr The server, `host:port`.
 * @param options Stop at the first failure, timeouts, the seed, progress, what to do when the
 *   server is gone.
 * @returns One result per planned check, those that did not run included (as "not run"), unless
 *   stopping at the first failure.
 */
export async function runChecks(
  plan: readonly PlannedCheck[],
  addr: string,
  options: RunOptions = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const restart = options.restart;
  const env: CheckEnv = {
    seed: options.seed ?? newSeed(),
    timeoutMs: options.timeoutMs ?? 5_000,
    restart: restart && (async (flags, how) => addr = await restart(flags, how)),
    program: options.program,
  };
  const limitMs = checkTimeoutMs(env.timeoutMs);
  let lost: string | undefined;
  for (const planned of plan) {
    if (lost !== undefined) {
      const skipped: CheckResult = { ...planned, status: "not run", ok: false, ms: 0 };
      results.push(skipped);
      options.onResult?.(skipped);
      continue;
    }
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let error: string | undefined;
    let conversation: string[] | undefined;
    const flags = planned.check.flags;
    try {
      // A check of a limit runs on a server started with that limit, and the server goes back
      // to its defaults afterwards (in `finally`), so the checks after it see what they expect.
      if (flags && env.restart) await env.restart(flags);
      await Promise.race([
        planned.check.run(addr, env),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`The check took longer than ${limitMs / 1000} s`)),
            limitMs,
          );
        }),
      ]);
    } catch (e) {
      error = describeError(e);
      if (e instanceof CheckFailure) conversation = e.conversation;
    } finally {
      clearTimeout(timer);
      if (flags && env.restart) {
        await env.restart([]).catch((e) =>
          error ??= `Restarting without ${flags.join(" ")}: ${describeError(e)}`
        );
      }
    }
    const ok = error === undefined;
    const result: CheckResult = {
      ...planned,
      status: ok ? "passed" : "failed",
      ok,
      error,
      conversation,
      ms: performance.now() - started,
    };
    results.push(result);
    options.onResult?.(result);
    if (ok) continue;
    if (options.stopAtFirstFailure) break;
    lost = await options.health?.();
    if (lost !== undefined) options.onServerLost?.(lost);
  }
  return results;
}

/**
 * Formats one result as report lines: a mark and the check's name, then the error and the
 * conversation indented.
 *
 * @param result The check's outcome.
 * @returns Lines without a trailing newline.
 */
export function formatResult(result: CheckResult): string {
  const mark = { passed: "ok  ", failed: "FAIL", "not run": "skip" }[result.status];
  const line = `  ${mark} ${result.check.name}`;
  if (result.status !== "failed") return line;
  const details = (result.error ?? "").split("\n");
  if (result.conversation?.length) details.push("last exchange:", ...result.conversation);
  return `${line}\n${details.map((l) => `         ${l}`).join("\n")}`;
}

/**
 * Prints results as they come, under a heading for each lesson step: what `check` and `grade`
 * show. Checks that did not run are left out: the reason was said once, and twenty "skip" lines
 * would bury it.
 *
 * @param write Where each line goes (default: standard output).
 * @returns A callback for {@link RunOptions.onResult}.
 */
export function printByStep(
  write: (line: string) => void = (line) => console.log(line),
): (result: CheckResult) => void {
  let heading: string | undefined;
  return (result) => {
    if (result.status === "not run") return;
    const title = result.lesson
      ? `Step ${result.lesson.number}. ${result.lesson.title}`
      : "More checks (edge cases and earlier labs)";
    if (title !== heading) write(`\n${heading = title}`);
    write(formatResult(result));
  };
}
