/**
 * `ab.ts` end to end on a tiny load, with this checkout as its own baseline: both servers start,
 * every pair is measured and a summary printed. Only the shape is checked; the numbers are not
 * (speed is reported, never asserted).
 */

import assert from "node:assert/strict";
import { hasProgram, REPO_ROOT } from "../shared/testing/processes.ts";

const installed = hasProgram("redis-benchmark");

Deno.test({
  name: installed
    ? "bench:ab measures a lab against a baseline checkout, pair by pair"
    : "bench:ab (skipped: redis-benchmark is not installed)",
  ignore: !installed,
  async fn() {
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "bench/ab.ts",
          ...args,
        ],
        cwd: REPO_ROOT,
        stdin: "null",
        env: { NO_COLOR: "1" },
      }).output();
    const { code, stdout, stderr } = await run(
      "--baseline",
      REPO_ROOT,
      "--lab",
      "2",
      "--pairs",
      "2",
      "--requests",
      "5000",
    );
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const rows = out.split("\n").filter((line) => /^\| [12] \|/.test(line));
    assert.equal(rows.length, 2, out);
    assert.match(out, /this checkout against the baseline: median ratio \d+\.\d\d×/);

    const missing = await run("--baseline", "/nonexistent", "--lab", "2");
    assert.equal(missing.code, 2);
    assert.match(new TextDecoder().decode(missing.stderr), /No lab 2 server in \/nonexistent/);
  },
});
