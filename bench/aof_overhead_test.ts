/**
 * `aof_overhead.ts` end to end on a tiny load: both servers start, every pair is measured, and
 * each server's CPU time comes back from `INFO cpu`. Only the shape is checked; the numbers are
 * not (speed is reported, never asserted).
 */

import assert from "node:assert/strict";
import { hasProgram, REPO_ROOT } from "../shared/testing/processes.ts";
import { median, middleHalf } from "./pairs.ts";

Deno.test("median() takes the middle value, or the mean of the two middle ones", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
});

Deno.test("middleHalf() gives the medians of the lower and the upper half", () => {
  assert.deepEqual(middleHalf([8, 1, 7, 2, 6, 3, 5, 4]), [2.5, 6.5]);
  assert.deepEqual(middleHalf([5, 1, 4, 2, 3]), [1.5, 4.5]);
  assert.deepEqual(middleHalf([2, 1]), [1, 2]);
  assert.deepEqual(middleHalf([7]), [7, 7]);
});

const installed = hasProgram("redis-benchmark");

Deno.test({
  name: installed
    ? "bench:aof measures each pair and reports a median ratio and CPU per request"
    : "bench:aof (skipped: redis-benchmark is not installed)",
  ignore: !installed,
  async fn() {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "bench/aof_overhead.ts",
        "--pairs",
        "2",
        "--requests",
        "5000",
        "--policies",
        "everysec",
      ],
      cwd: REPO_ROOT,
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const out = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const rows = out.split("\n").filter((line) => /^\| [12] \|/.test(line));
    assert.equal(rows.length, 2, out);
    for (const row of rows) {
      const [, , without, withLog, ratio, cpuWithout, cpuWith] = row.split("|").map((c) =>
        c.trim()
      );
      assert.match(without, /^[\d,]+$/);
      assert.match(withLog, /^[\d,]+$/);
      assert.match(ratio, /^\d+\.\d\d×$/);
      assert.ok(Number(cpuWithout) > 0 && Number(cpuWith) > 0, `CPU per request in ${row}`);
    }
    const x = String.raw`\d+\.\d\d×`;
    assert.match(
      out,
      new RegExp(
        String
          .raw`--appendfsync everysec: median ratio ${x} \(middle half of the pairs ${x} to ${x}, ` +
          String.raw`all ${x} to ${x}\); server CPU per request [\d.]+ µs no log, ` +
          String.raw`[\d.]+ µs log \(median of the pairs' ratios ${x}\)`,
      ),
    );
  },
});
