/**
 * The step-order proof: the checks follow the lesson, lab by lab and step by step.
 *
 * DESIGN.md's contract for course mode: with lesson steps 1 to K done, `deno task check labN
 * --step K+1` passes every check of steps 1 to K and fails first in step K+1; with every step done,
 * `deno task check labN` passes. A check of step 2 that leans on a step-4 command, or a step whose
 * code can be deleted without any check noticing, breaks it, and this test says where.
 *
 * "Steps 1 to K done" is `deno task exercise labN --through K`, run as a student types it. Only
 * the steps that have TODOs change the workspace, so one workspace stands for every K between two
 * such steps: with steps 1 to 3 of lab 1 done (step 2 has no TODO of its own), the step-2 checks
 * must pass and the first failure must be in step 4. That is one `check` run, and one server start,
 * per step with TODOs, plus the finished workspace: what keeps the proof within a few minutes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { copyRepo, firstFailure, shown, task } from "./task_support.ts";

/**
 * The labs the proof covers, in lesson order: every one, lab 2's caching proxy and lab 4's
 * memcached port included (their steps are numbered lists in their labs' lessons, their workspaces
 * their labs' with the labs' own steps done).
 */
const PROVEN: readonly string[] = ["lab1", "lab2", "lab2-proxy", "lab3", "lab4", "lab4-memcache"];

/** One row of the proof's table: a workspace and what `check` made of it. */
interface Row {
  lab: string;
  /** The `--through` the workspace was written with. */
  through: number;
  /** The `--step` checked, or `undefined` for every step. */
  step?: number;
  /** What happened, in a few words. */
  outcome: string;
  /** Seconds, exercise and check together. */
  seconds: number;
}

/** The lesson steps that still have TODOs, from `exercise`'s closing lines. */
function stepsLeft(stdout: string): number[] {
  const listed = /^TODOs for lesson steps ([\d, ]+)/m.exec(stdout);
  if (listed) return listed[1].split(",").map((n) => Number(n.trim()));
  assert.match(stdout, /^No TODOs left/m, stdout);
  return [];
}

Deno.test("step order: with steps 1 to K done, check --step K+1 fails first in step K+1", async (t) => {
  const rows: Row[] = [];
  try {
    for (const lab of PROVEN) {
      await t.step(lab, async () => {
        // A copy per lab, so one lab's workspace cannot help another's.
        await using repo = await copyRepo();
        let through = 0;
        for (;;) {
          const started = performance.now();
          // --force: the workspace before this one had more TODOs, which must not be kept.
          const exercise = await task(
            repo.path,
            "exercise",
            lab,
            "--through",
            String(through),
            "--force",
          );
          assert.equal(exercise.code, 0, shown(exercise));
          const next = stepsLeft(exercise.stdout)[0];
          if (next === undefined) {
            const check = await task(repo.path, "check", lab);
            const seconds = (performance.now() - started) / 1000;
            const passed = /All (\d+) checks of every step pass/.exec(check.stdout);
            rows.push({
              lab,
              through,
              outcome: passed ? `all ${passed[1]} checks pass` : "FAILED: see below",
              seconds,
            });
            assert.equal(check.code, 0, shown(check));
            assert.ok(passed, shown(check));
            break;
          }
          const check = await task(repo.path, "check", lab, "--step", String(next));
          const seconds = (performance.now() - started) / 1000;
          const failure = firstFailure(check.stdout);
          const where = failure?.heading.match(/^Step (\d+)\./)?.[1] ?? failure?.heading;
          rows.push({
            lab,
            through,
            step: next,
            outcome: failure
              ? `first failure in step ${where}: ${failure.check}`
              : `no failure (exit ${check.code})`,
            seconds,
          });
          assert.equal(check.code, 1, `steps 1 to ${through} done: ${shown(check)}`);
          assert.ok(failure, shown(check));
          assert.ok(
            failure.heading.startsWith(`Step ${next}.`),
            `with steps 1 to ${through} done, the first failure must be in step ${next}, ` +
              `not under "${failure.heading}" (${failure.check})`,
          );
          through = next;
        }
      });
    }
  } finally {
    // The table, pass or fail: what a reader of the CI log wants to see first.
    const lines = rows.map((r) =>
      `  ${r.lab.padEnd(13)} through ${String(r.through).padStart(2)}  ${
        (r.step === undefined ? "check" : `--step ${r.step}`).padEnd(9)
      } ${r.seconds.toFixed(1).padStart(5)} s  ${r.outcome}`
    );
    console.log(`\nstep order:\n${lines.join("\n")}`);
  }
});
