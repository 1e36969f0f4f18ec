/**
 * The student's checker: runs a lab's checks against their workspace, in lesson order, and stops
 * at the first one that fails, showing the bytes it expected and the bytes it got.
 *
 * ```
 * deno task exercise lab1          write exercises/01-single-client/ (once)
 * deno task check lab1             every step, stopping at the first failure
 * deno task check lab1 --step 4    only steps 1 to 4
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError } from "../shared/cli.ts";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import { lessonOf, restarter, startForRun } from "./grade.ts";
import { entryIn, findLab, labFolder, LABS, runnableHere } from "./labs.ts";
import { planChecks, printByStep, runChecks } from "./run_checks.ts";

const TASK = "deno task check";

const USAGE = `Usage: deno task check <lab> [--step N]

Starts your workspace's server (exercises/<lab>/server.ts; for lab2-proxy, its proxy.ts in front
of an upstream it starts) and runs the lab's checks in lesson order, stopping at the first failure.

  <lab>        ${LABS.map((lab) => lab.id).join(", ")}
  --step N     only the checks of lesson steps 1 to N
  --help       show this help

Exit status: 0 if every check ran passed, 1 if one failed, 2 for a usage error.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({ usage: TASK, help: USAGE }, () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { step: { type: "string" }, help: { type: "boolean", default: false } },
    }));
  const lab = positionals.length === 1 ? findLab(positionals[0]) : undefined;
  const upTo = values.step === undefined ? undefined : Number(values.step);
  if (lab === undefined) usageError(`Name one lab: ${LABS.map((l) => l.id).join(", ")}`, TASK);
  if (upTo !== undefined && !(Number.isInteger(upTo) && upTo > 0)) {
    usageError(`Invalid step: "${values.step}" is not a positive whole number`, TASK);
  }
  const entry = entryIn(lab, `exercises/${labFolder(lab)}`);
  try {
    await Deno.stat(`${REPO_ROOT}${entry}`);
  } catch {
    console.error(`No workspace at ${entry}. Create it with: deno task exercise ${lab.id}`);
    return 2;
  }
  await using run = await lab.prepare(true);
  const runnable = runnableHere(run.checks);
  const plan = planChecks(await lessonOf(lab), runnable.checks, upTo);
  let started;
  try {
    started = await startForRun(lab, run, entry);
  } catch (error) {
    console.error(`Your server did not start.\n${error instanceof Error ? error.message : error}`);
    return 1;
  }
  await using running = started.target;
  console.log(`${lab.title}: checking ${entry} on ${started.addr}`);
  for (const note of runnable.notes) console.log(note);
  const results = await runChecks(plan, started.addr, {
    stopAtFirstFailure: true,
    onResult: printByStep(),
    // Lab 4's persistence check stops your server and starts it again, on the same directory.
    restart: restarter(running, run.checkAddr),
    // Your lab's own program too, where a step has you write part of it (lab 3's client).
    program: run.program?.(`exercises/${labFolder(lab)}`),
  });
  const failure = results.find((r) => !r.ok);
  if (failure === undefined) {
    const scope = upTo === undefined ? "every step" : `steps 1 to ${upTo}`;
    console.log(`\nAll ${results.length} checks of ${scope} pass.`);
    return 0;
  }
  const where = failure.lesson ? `lesson step ${failure.lesson.number}` : "the extra checks";
  console.log(`\nStopped at the first failure, in ${where}. Your server's log:`);
  console.log(running.log().trim().split("\n").slice(-10).map((l) => `  | ${l}`).join("\n"));
  return 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
