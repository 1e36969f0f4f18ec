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

import type { GradeCheck } from "./labs.ts";
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

/** The outcome of one check. */
export interface CheckResult extends PlannedCheck {
  /** Whether it passed. */
  ok: boolean;
  /** What went wrong, with the bytes expected and received where the check compared bytes. */
  error?: string;
  /** How long it took, in milliseconds. */
  ms: number;
}

/** Options for {@link runChecks}. */
export interface RunOptions {
  /** Stop after the first failure (the student's checker) rather than run everything (grader). */
  stopAtFirstFailure?: boolean;
  /** Give up on a check that takes longer than this. Default 30 s. */
  timeoutMs?: number;
  /** Called after each check, to print as we go. */
  onResult?: (result: CheckResult) => void;
}

/**
 * Runs planned checks against a server, one after another.
 *
 * @param plan What to run, in order.
 * @param addr The server, `host:port`.
 * @param options Stop at the first failure, a timeout, a progress callback.
 * @returns One result per check run.
 */
export async function runChecks(
  plan: readonly PlannedCheck[],
  addr: string,
  options: RunOptions = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const timeoutMs = options.timeoutMs ?? 30_000;
  for (const planned of plan) {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let error: string | undefined;
    try {
      await Promise.race([
        planned.check.run(addr),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`No answer within ${timeoutMs / 1000} s`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    } finally {
      clearTimeout(timer);
    }
    const result = { ...planned, ok: error === undefined, error, ms: performance.now() - started };
    results.push(result);
    options.onResult?.(result);
    if (!result.ok && options.stopAtFirstFailure) break;
  }
  return results;
}

/**
 * Formats one result as report lines: a mark and the check's name, then the error indented.
 *
 * @param result The check's outcome.
 * @returns Lines without a trailing newline.
 */
export function formatResult(result: CheckResult): string {
  const line = `  ${result.ok ? "ok  " : "FAIL"} ${result.check.name}`;
  if (result.ok || result.error === undefined) return line;
  // node:assert appends a generic diff of the same two strings; the message already shows them.
  const message = result.error.split("\n+ actual - expected")[0].trimEnd();
  return `${line}\n${message.split("\n").map((l) => `         ${l}`).join("\n")}`;
}

/**
 * Prints results as they come, under a heading for each lesson step: what `check` and `grade`
 * show.
 *
 * @returns A callback for {@link RunOptions.onResult}.
 */
export function printByStep(): (result: CheckResult) => void {
  let heading: string | undefined;
  return (result) => {
    const title = result.lesson
      ? `Step ${result.lesson.number}. ${result.lesson.title}`
      : "More checks (edge cases and earlier labs)";
    if (title !== heading) console.log(`\n${heading = title}`);
    console.log(formatResult(result));
  };
}
