/**
 * Running the course tools as people type them, for tests: `deno task <name> ...` as a
 * subprocess with the permissions deno.json gives it, in a throwaway copy of the repository.
 *
 * `tasks_test.ts` (the student's and the instructor's everyday paths) and `grade_robust_test.ts`
 * (the grader against misbehaving submissions) share these.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../shared/testing/processes.ts";

/** What a task printed, and how it exited. */
export interface TaskRun {
  /** The exit code. */
  code: number;
  /** Everything it printed to standard output. */
  stdout: string;
  /** Everything it printed to standard error. */
  stderr: string;
}

/**
 * Generous: the slowest run here (lab 3's 74 checks, each through a fresh secure handshake) takes
 * about 7 s on an idle machine. This only keeps a hung server from hanging the test run.
 */
const TASK_TIMEOUT_MS = 120_000;

/**
 * Runs `deno task <args>` in `repo` as a student would, and fails the test if it crashed.
 *
 * A crash (an uncaught `NotCapable`, say) exits with 1, as a failed check does, so the exit code
 * cannot tell them apart: Deno's `error: Uncaught` on stderr can.
 */
export async function task(repo: string, ...args: string[]): Promise<TaskRun> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), TASK_TIMEOUT_MS);
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["task", ...args],
      cwd: repo,
      // INIT_CWD is where the user typed the command; `deno task` sets it only if it is not set
      // already, so one inherited from an outer `deno task test` would point elsewhere.
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", INIT_CWD: repo },
      stdin: "null",
      signal: abort.signal,
    }).output();
    const decoder = new TextDecoder();
    const run = {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
    assert.doesNotMatch(
      run.stderr,
      /error: Uncaught|NotCapable|The grader could not run/,
      `deno task ${args.join(" ")} crashed:\n${run.stderr}`,
    );
    return run;
  } finally {
    clearTimeout(timer);
  }
}

/** Shows a run's whole output in an assertion's message, for when it did not go as expected. */
export function shown(run: TaskRun): string {
  return `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}

/**
 * The first failing check of a `check` or `grade` report, and the heading it is under: a lesson
 * step (`Step 1. ...`) or the checks no step names (`More checks ...`).
 */
export function firstFailure(report: string): { heading: string; check: string } | undefined {
  let heading = "";
  for (const line of report.split("\n")) {
    if (/^(Step \d+\.|More checks)/.test(line)) heading = line;
    const failed = /^ {2}FAIL (.+)$/.exec(line);
    if (failed) return { heading, check: failed[1] };
  }
  return undefined;
}

/** Asserts the grader's last line: every one of a positive number of checks passed. */
export function assertGradePassed(run: TaskRun, lab: string): void {
  assert.equal(run.code, 0, shown(run));
  const summary = new RegExp(`^${lab}: (\\d+) checks, (\\d+) passed, 0 failed$`, "m").exec(
    run.stdout,
  );
  assert.ok(summary, shown(run));
  assert.ok(Number(summary[1]) > 0 && summary[1] === summary[2], summary[0]);
}

/** What the course tasks need from the repository: their config, the tools, the labs. */
const COPIED = ["deno.json", "deno.lock", "course", "shared", "labs"];

/**
 * Copies a file, or a directory and everything under it.
 *
 * @param from The file or directory to copy.
 * @param to Where the copy goes; directories are created as needed.
 */
export async function copyTree(from: string, to: string): Promise<void> {
  if ((await Deno.stat(from)).isFile) return await Deno.copyFile(from, to);
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    await copyTree(join(from, entry.name), join(to, entry.name));
  }
}

/** A copy of the repository to run tasks in, removed at the end of an `await using` block. */
export interface RepoCopy extends AsyncDisposable {
  /** The copy's directory. */
  path: string;
}

/**
 * Copies the repository's tools and labs to a temporary directory. Disposing it asserts that the
 * runs removed their scratch directories from `data/`, then removes the copy.
 */
export async function copyRepo(): Promise<RepoCopy> {
  const path = await Deno.makeTempDir({ prefix: "cachelab-tasks-" });
  for (const name of COPIED) await copyTree(join(REPO_ROOT, name), join(path, name));
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      try {
        const left = [];
        try {
          for await (const entry of Deno.readDir(join(path, "data"))) left.push(entry.name);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
        assert.deepEqual(left, [], "a run left its scratch directory in data/");
      } finally {
        await Deno.remove(path, { recursive: true });
      }
    },
  };
}
