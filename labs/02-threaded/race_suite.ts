/**
 * Lab 2's check of its locks (lesson step 8): the race demo under test (`race.ts`, as `deno task
 * lab2:race` runs it) is run with small sizes, and its own table read back. The unlocked rows lose
 * a different number each run and are not judged; the locked rows must lose nothing, and the
 * interleaving the demo forces step by step must end at 2 with the futex mutex.
 *
 * @module
 */

import { REPO_ROOT } from "../../shared/testing/processes.ts";
import { runProgram } from "../../shared/testing/programs.ts";
import type { SuiteStep } from "../../shared/testing/suite.ts";

/** Small enough to run in about a second, big enough that two Workers overlap. */
const SIZES = ["--clients", "5", "--requests", "10", "--workers", "2", "--increments", "20000"];

/** The "lost" column of a row of the demo's table, or `undefined` if the row is missing. */
function lost(table: string, row: string): number | undefined {
  const line = table.split("\n").find((l) => l.trimStart().startsWith(row));
  const numbers = line?.slice(line.indexOf(row) + row.length).match(/[\d,]+/g);
  return numbers === undefined || numbers === null || numbers.length < 3
    ? undefined
    : Number(numbers[2].replaceAll(",", ""));
}

/** Lab 2's checks of the race demo, in lesson order. */
export const raceSteps: readonly SuiteStep[] = [
  {
    name: "the race demo: the lab's Mutex and the futex mutex lose no update, and the forced " +
      "interleaving makes B wait",
    redis: false,
    needsLabProgram: true,
    async run(ctx) {
      const program = ctx.program();
      const run = await runProgram(Deno.execPath(), [
        "run",
        ...program.denoFlags,
        `${REPO_ROOT}${program.entry}`,
        ...SIZES,
      ]);
      const table = new TextDecoder().decode(run.stdout);
      const shown = `It printed:\n${table.trimEnd()}\n${run.stderr.trim()}`.trimEnd();
      if (run.code !== 0) {
        throw new Error(
          `The race demo (${program.entry}) exited with status ${run.code}` +
            (run.code === 137 ? " (killed after 20 s: a waiter that is never woken?)" : "") +
            `.\n${shown}\nA release must wake the next waiter in Mutex (lock.ts), and unlock() ` +
            "must notify a sleeper in FutexMutex (race/futex_mutex.ts).",
        );
      }
      const mutex = lost(table, "with the lab's Mutex");
      if (mutex !== 0) {
        throw new Error(
          `With the lab's Mutex, SLOWINCR lost ${mutex ?? "an unknown number of"} updates.\n` +
            `${shown}\nMutex.lock() in lock.ts must make a caller wait while someone holds the ` +
            "lock, and a release must hand it to the next waiter without freeing it in between " +
            "(a newcomer could take it first, and two would hold it).",
        );
      }
      const futex = lost(table, "futex mutex");
      const forced = table.split("\n").find((l) => /^\s*futex mutex\s+A reads/.test(l));
      if (futex !== 0 || forced === undefined || !forced.trimEnd().endsWith("→ 2")) {
        throw new Error(
          `With the futex mutex, Workers lost ${futex ?? "an unknown number of"} increments, or ` +
            `the forced interleaving did not end at 2.\n${shown}\nFutexMutex.lock() in ` +
            "race/futex_mutex.ts must take the word from UNLOCKED to LOCKED with " +
            "Atomics.compareExchange, and otherwise mark it CONTENDED and Atomics.wait(); " +
            "unlock() must free it and, if it was CONTENDED, Atomics.notify() a sleeper.",
        );
      }
    },
  },
];
