/**
 * Why the grader can be trusted, proven on every run: it passes every reference lab, it passes
 * a real `redis-server` on the checks marked Redis-compatible, and it fails an untouched exercise
 * workspace at the lesson's first step.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  hasProgram,
  REPO_ROOT,
  startLabServer,
  startRedisServer,
} from "../shared/testing/processes.ts";
import { grade } from "./grade.ts";
import { LABS } from "./labs.ts";
import { writeWorkspace } from "./exercise.ts";

function failures(results: { ok: boolean; check: { name: string }; error?: string }[]): string {
  return results.filter((r) => !r.ok).map((r) => `${r.check.name}: ${r.error}`).join("\n");
}

for (const lab of LABS) {
  Deno.test(`the grader passes the reference ${lab.id}`, async () => {
    await using server = await startLabServer(`${lab.dir}/server.ts`, {
      args: lab.serverArgs,
      denoFlags: lab.denoFlags,
    });
    const results = await grade(lab, server.addr);
    assert.ok(results.length > 0);
    assert.equal(failures(results), "");
  });

  Deno.test(`the grader passes a real redis-server on the Redis-compatible checks of ${lab.id}`, {
    ignore: !hasProgram("redis-server"),
  }, async () => {
    await using redis = await startRedisServer();
    assert.ok(redis);
    const results = await grade(lab, redis.addr, { redisOnly: true });
    assert.ok(results.length > 0);
    assert.equal(failures(results), "");
  });

  Deno.test(`the grader fails the untouched ${lab.id} exercise at the lesson's first step`, async () => {
    const out = await Deno.makeTempDir({ dir: join(REPO_ROOT, "exercises"), prefix: ".test-" });
    try {
      const workspace = join(out, lab.dir.split("/").at(-1) ?? lab.id);
      const files = await writeWorkspace(lab, { out: workspace });
      assert.ok(files.some((f) => f.markers.length > 0), "the lab has no exercise markers");
      await using server = await startLabServer(
        `${workspace.slice(REPO_ROOT.length)}/server.ts`,
        { args: lab.serverArgs, denoFlags: lab.denoFlags },
      );
      const results = await grade(lab, server.addr, { stopAtFirstFailure: true });
      const failed = results.at(-1);
      assert.ok(failed && !failed.ok, "the untouched workspace passed every check");
      assert.equal(failed.lesson?.number, 1, `first failure: ${failed.check.name}`);
      assert.match(failed.error ?? "", /not implemented yet: lesson step 1|Expected/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
}

Deno.test("regenerating a workspace keeps a student's edits unless forced", async () => {
  const out = await Deno.makeTempDir({ dir: join(REPO_ROOT, "exercises"), prefix: ".test-" });
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
    assert.equal(forced.find((f) => f.path === "commands.ts")?.outcome, "overwritten");
    assert.notEqual(await Deno.readTextFile(edited), "// my own work\n");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
