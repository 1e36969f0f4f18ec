/**
 * `compare.ts --quick --only lab1` end to end, as CI runs it: the report must have every row, with
 * lab 1 measured where one client at a time can be, and skipped where it cannot. Only the shape is
 * checked; the numbers are not (speed is reported, never asserted).
 */

import assert from "node:assert/strict";
import { hasProgram, REPO_ROOT } from "../shared/testing/processes.ts";

const PERMISSIONS = ["--allow-net", "--allow-run", "--allow-read", "--allow-env"];

async function runCompare(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, "bench/compare.ts", ...args],
    cwd: REPO_ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout), err: text.decode(stderr) };
}

/** The first markdown table's rows as `label → cells`. */
function tableRows(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  const start = markdown.indexOf("| workload");
  for (const line of markdown.slice(start).split("\n")) {
    if (!line.startsWith("|")) break;
    const [label, ...cells] = line.slice(1, -1).split("|").map((c) => c.trim());
    if (label !== "workload" && !label.startsWith("-")) rows.set(label, cells);
  }
  return rows;
}

const installed = hasProgram("redis-benchmark");

Deno.test({
  name: installed
    ? "compare.ts --quick --only lab1 prints a row for every workload"
    : "compare.ts --quick --only lab1 (skipped: redis-benchmark is not installed)",
  ignore: !installed,
  fn: async () => {
    const { code, out, err } = await runCompare(["--quick", "--only", "lab1"]);
    assert.equal(code, 0, err);
    assert.match(out, /\| workload +\| lab1 \(01-single-client\) \|/);
    assert.match(out, /- Machine: \d+ cores/);
    assert.match(out, /## Commands run/);
    const rows = tableRows(out);
    assert.deepEqual([...rows.keys()], [
      "SET, -c 50",
      "GET, -c 50",
      "SET, -P 16 -c 50",
      "GET, -P 16 -c 50",
      "SET, -c 1",
      "GET, -c 1",
      "SET, -P 16 -c 1",
      "GET, -P 16 -c 1",
      "loadgen set:50,get:50, -P 16 -c 1",
      "loadgen set:50,get:50, -P 16 -c 50",
      "SET, -d 1024 -P 16 -c 50",
      "SET, -d 1024 -P 16 -c 1",
    ]);
    for (const [label, [cell]] of rows) {
      if (label.includes("-c 50")) {
        assert.equal(cell, "skipped: one client at a time", label);
      } else {
        assert.match(cell, /^\d{1,3}(,\d{3})*$/, `${label}: a number of requests per second`);
      }
    }
  },
});

Deno.test("compare.ts rejects an unknown server in --only", async () => {
  const { code, err } = await runCompare(["--only", "lab99"]);
  assert.equal(code, 2);
  assert.match(err, /Unknown server in --only: lab99/);
});
