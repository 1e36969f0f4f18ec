/**
 * Why the grader can be trusted, proven on every run: it passes every reference lab, it passes
 * the real `redis-server` (and `memcached`) on the checks marked compatible, and it fails every
 * untouched exercise workspace at the first check it runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasProgram, REPO_ROOT } from "../shared/testing/processes.ts";
import { startMemcached } from "../labs/04-ttl-persistence/memcache/testing.ts";
import { grade, restarter, startForRun } from "./grade.ts";
import { entryIn, type Lab, labFolder, LABS, runnableHere, SCRATCH_PARENT } from "./labs.ts";
import { commandServer } from "./target.ts";
import { writeWorkspace } from "./exercise.ts";
import type { CheckResult } from "./run_checks.ts";
// Lab 3's channel opens OpenSSL once per process, when its module loads (channel/openssl.ts), and
// keeps it open. Loading it here, before any test runs, keeps that out of each test's resource check.
import "../labs/03-secure/channel/openssl.ts";

/**
 * A throwaway folder inside `exercises/` (ignored by git), where a workspace's relative imports
 * resolve as in a student's. `exercises/` itself does not exist in a fresh clone.
 */
async function scratchWorkspace(): Promise<string> {
  await Deno.mkdir(join(REPO_ROOT, "exercises"), { recursive: true });
  return await Deno.makeTempDir({ dir: join(REPO_ROOT, "exercises"), prefix: ".test-" });
}

function failures(results: CheckResult[]): string {
  return results.filter((r) => !r.ok).map((r) => `${r.check.name}: ${r.error}`).join("\n");
}

/**
 * Starts the real server a lab's compatible checks reproduce, or `null` if it is absent.
 * `redis-server` is started as the grader starts a student's (`--cmd`, with a `{dir}`), so the
 * grader can restart it for lab 4's persistence check.
 */
async function startReal(
  lab: Lab,
): Promise<
  {
    addr: string;
    stop(): Promise<void>;
    restart?: (flags?: readonly string[]) => Promise<string>;
    takesFlags?: boolean;
  } | null
> {
  if (lab.reference === "redis-server") {
    const target = await commandServer(
      "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no --dir {dir} {flags}",
      { scratchParent: SCRATCH_PARENT },
    );
    return {
      addr: target.addr,
      stop: async () => await target[Symbol.asyncDispose](),
      restart: restarter(target),
      takesFlags: target.takesFlags,
    };
  }
  if (lab.reference === "memcached") return await startMemcached();
  return null;
}

for (const lab of LABS) {
  Deno.test(`the grader passes the reference ${lab.id}`, async () => {
    await using run = await lab.prepare(true);
    const { target, addr } = await startForRun(lab, run, entryIn(lab, lab.dir));
    await using _server = target;
    // With a restart, so the checks that restart the server (lab 4's persistence) run too, and
    // the reference's client, for the checks of a client (lab 3's step 3).
    const results = await grade(lab, run, addr, {
      restart: restarter(target, run.checkAddr),
      takesFlags: target.takesFlags,
      program: run.program?.(lab.dir),
    });
    assert.ok(results.length > 0);
    assert.equal(failures(results), "");
    // All of them, but those needing a program this machine lacks (CI installs strace).
    const runnable = runnableHere(run.checks);
    for (const note of runnable.notes) console.log(`${lab.id}: ${note}`);
    assert.equal(results.length, runnable.checks.length, "checks left out");
  });

  if (lab.reference !== null) {
    const installed = hasProgram(lab.reference);
    Deno.test({
      name: `the grader passes a real ${lab.reference} on the compatible checks of ${lab.id}` +
        (installed ? "" : ` (skipped: ${lab.reference} is not installed)`),
      ignore: !installed,
      fn: async () => {
        await using run = await lab.prepare(false);
        const real = await startReal(lab);
        assert.ok(real, `${lab.reference} did not start`);
        try {
          const results = await grade(lab, run, real.addr, {
            compatibleOnly: true,
            restart: "restart" in real ? real.restart : undefined,
            takesFlags: "takesFlags" in real ? real.takesFlags : undefined,
          });
          assert.ok(results.length > 0);
          assert.equal(failures(results), "");
        } finally {
          await real.stop();
        }
      },
    });
  }
}

for (const lab of LABS.filter((lab) => /^lab\d$/.test(lab.id))) {
  Deno.test(`the grader fails the untouched ${lab.id} exercise at its first check`, async () => {
    const out = await scratchWorkspace();
    try {
      const workspace = join(out, labFolder(lab));
      const files = await writeWorkspace(lab, { out: workspace });
      assert.ok(files.some((f) => f.markers.length > 0), "the lab has no exercise markers");
      await using run = await lab.prepare(true);
      const entry = `${workspace.slice(REPO_ROOT.length)}/server.ts`;
      const { target, addr } = await startForRun(lab, run, entry);
      await using _server = target;
      const results = await grade(lab, run, addr, { stopAtFirstFailure: true });
      assert.equal(results.length, 1, `passed: ${results.slice(0, -1).map((r) => r.check.name)}`);
      assert.equal(results[0].ok, false);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
}

Deno.test("regenerating a workspace keeps a student's edits unless forced", async () => {
  const out = await scratchWorkspace();
  let backup: string | undefined;
  try {
    const [lab] = LABS;
    const first = await writeWorkspace(lab, { out });
    assert.ok(first.every((f) => f.outcome === "created"));
    const edited = join(out, "commands.ts");
    await Deno.writeTextFile(edited, "// my own work\n");
    const again = await writeWorkspace(lab, { out });
    assert.equal(again.find((f) => f.path === "commands.ts")?.outcome, "kept");
    assert.ok(
      again.filter((f) => f.path !== "commands.ts").every((f) => f.outcome === "unchanged"),
    );
    assert.equal(await Deno.readTextFile(edited), "// my own work\n");
    const forced = await writeWorkspace(lab, { out, force: true });
    backup = forced.backup;
    assert.equal(forced.find((f) => f.path === "commands.ts")?.outcome, "overwritten");
    assert.notEqual(await Deno.readTextFile(edited), "// my own work\n");
    // --force saved the old workspace beside it first.
    assert.ok(backup !== undefined && backup.startsWith(`${out}.bak-`), backup);
    assert.equal(await Deno.readTextFile(join(backup, "commands.ts")), "// my own work\n");
  } finally {
    await Deno.remove(out, { recursive: true });
    if (backup !== undefined) await Deno.remove(backup, { recursive: true });
  }
});

Deno.test("a check that needs a program this machine lacks is left out, and said so", () => {
  const check = (name: string, needsProgram?: string) => ({
    name,
    compatible: false,
    points: 1,
    needsProgram,
    run: () => Promise.resolve(),
  });
  const { checks, notes } = runnableHere([
    check("plain"),
    check("traced", "sh"),
    check("needs a program nobody has", "cachelab-no-such-program"),
  ]);
  assert.deepEqual(checks.map((c) => c.name), ["plain", "traced"]);
  assert.deepEqual(notes, [
    "(1 check left out: it needs cachelab-no-such-program, which is not installed here)",
  ]);
});
