/**
 * A student's workspace type-checks as it is written, with the project's settings: a TODO may
 * leave a name unused, and `noUnusedLocals` would then greet the student with errors in code they
 * have not touched (`markers.ts` quiets those names). `deno check .` covers `exercises/` too, so
 * this holds for the student's own workspace as well as for this test's.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import { writeWorkspace } from "./exercise.ts";
import { LABS } from "./labs.ts";

Deno.test("every lab's untouched workspace passes deno check", async () => {
  const out = await Deno.makeTempDir({ prefix: "cachelab-workspaces-" });
  try {
    const dirs: string[] = [];
    // Lab 4's memcached port too: its workspace is lab 4's with lab 4's own steps done.
    for (const lab of LABS) {
      const dir = join(out, lab.id);
      await writeWorkspace(lab, { out: dir });
      dirs.push(dir);
    }
    // One run for all: the shared modules they import are checked once.
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", join(REPO_ROOT, "deno.json"), ...dirs],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, `deno check failed on the generated workspaces:\n${stderr}`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
