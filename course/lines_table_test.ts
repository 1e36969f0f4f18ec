/**
 * The README's table of what each workspace asks a student to write is the count
 * `deno task exercise` prints (`linesPerStep` in `markers.ts`), so it cannot drift from the code.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import { LABS } from "./labs.ts";
import { writeWorkspace } from "./exercise.ts";

/**
 * The table's name for a lab: `lab 1`, `lab 4 memcached port` for `lab4-memcache`, `lab 2 caching
 * proxy` for `lab2-proxy`.
 */
function rowName(id: string): string {
  return id.replace(/^lab(\d)/, "lab $1").replace("-memcache", " memcached port")
    .replace("-proxy", " caching proxy");
}

Deno.test("README's lines-you-write table matches what each workspace takes out", async () => {
  const readme = await Deno.readTextFile(join(REPO_ROOT, "README.md"));
  const out = await Deno.makeTempDir({ prefix: "cachelab-lines-" });
  try {
    for (const lab of LABS) {
      const files = await writeWorkspace(lab, { out: join(out, lab.id) });
      const perStep = new Map<number, number>();
      for (const file of files) {
        for (const [step, n] of file.lines) perStep.set(step, (perStep.get(step) ?? 0) + n);
      }
      const total = [...perStep.values()].reduce((sum, n) => sum + n, 0);
      const steps = [...perStep].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`);
      const row = new RegExp(
        `^\\| ${rowName(lab.id)} +\\| +${total} \\| ${steps.join(", ")} +\\|$`,
        "m",
      );
      assert.match(readme, row, `${lab.id}: ${total} lines, ${steps.join(", ")}`);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
