/**
 * `deno task lab2:race` as a user runs it: its help, its refusals, and a small run's table.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "../../shared/testing/processes.ts";
import { runProgram } from "../../shared/testing/programs.ts";

/** Runs race.ts with the permissions `deno task lab2:race` gives it; killed if it hangs. */
async function race(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runProgram(Deno.execPath(), [
    "run",
    "--allow-read",
    "--allow-net=127.0.0.1",
    `${REPO_ROOT}labs/02-threaded/race.ts`,
    ...args,
  ]);
  return { code, stdout: new TextDecoder().decode(stdout), stderr };
}

Deno.test("lab2:race --help describes both races and exits 0", async () => {
  const { code, stdout } = await race("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task lab2:race \[options\]/);
  assert.match(stdout, /--workers N/);
  assert.match(stdout, /--clients N/);
});

Deno.test("lab2:race refuses an unknown flag or a bad number with exit code 2", async () => {
  const unknown = await race("--bogus");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown option '--bogus'/);
  const zero = await race("--workers", "0");
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /Invalid --workers: "0" is not a whole number from 1 to 64/);
});

Deno.test("lab2:race prints both tables; every locked row loses nothing", async () => {
  const { code, stdout, stderr } = await race(
    ...["--clients", "3", "--requests", "4", "--delay-ms", "0"],
    ...["--workers", "2", "--increments", "2000"],
  );
  assert.equal(code, 0, stderr);
  const row = (label: string) => {
    const match = stdout.match(
      new RegExp(`^  ${label} +([\\d,]+) +([\\d,]+) +([\\d,]+) +\\d+ ms$`, "m"),
    );
    assert.ok(match, `no row "${label}" in:\n${stdout}`);
    return match.slice(1).map((n) => Number(n.replaceAll(",", "")));
  };
  assert.deepEqual(row("with the lab's Mutex"), [12, 12, 0]);
  assert.deepEqual(row("Atomics.add"), [4000, 4000, 0]);
  assert.deepEqual(row("futex mutex"), [4000, 4000, 0]);
  // The unlocked rows vary; what they must do is add up.
  for (const label of ["without a lock", "load, then store"]) {
    const [expected, got, lost] = row(label);
    assert.equal(got + lost, expected, label);
  }
  assert.match(stdout, /without a lock +A reads 0 · B reads 0 · A writes 1 · B writes 1 +→ 1/);
  assert.match(
    stdout,
    /futex mutex +A reads 0 · B waits for the lock · A writes 1 · B reads 1 · B writes 2 +→ 2/,
  );
});
