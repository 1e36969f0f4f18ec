/**
 * Unit tests of the memory benchmark's pieces (the benchmark itself is run by hand).
 *
 * @module
 */

import assert from "node:assert/strict";
import { benchKey, benchValue, formatResult, taskDenoFlags } from "./memory.ts";

Deno.test("benchKey() and benchValue() are 16 and 32 bytes, and differ for every i", () => {
  for (const i of [0, 1, 999_999, 123_456_789_012]) {
    assert.equal(benchKey(i).length, 16);
    assert.equal(benchValue(i).length, 32);
  }
  assert.notEqual(benchKey(1), benchKey(2));
  assert.notEqual(benchValue(1), benchValue(2));
});

Deno.test("taskDenoFlags() reads the flags a deno task runs a server with", () => {
  const flags = taskDenoFlags("labs/04-ttl-persistence/server.ts");
  assert.ok(flags.includes("--allow-net"), flags.join(" "));
  assert.ok(flags.every((f) => f.startsWith("--")), flags.join(" "));
  assert.deepEqual(taskDenoFlags("labs/99-none/server.ts"), ["--allow-net"]);
});

Deno.test("formatResult() shows growth per key and what the server reports", () => {
  const line = formatResult(
    { name: "x", before: 10 * 1024 * 1024, after: 110 * 1024 * 1024, keys: 1000, usedMemory: 0 },
    1_000_000,
  );
  assert.match(line, /growth \+\s*100\.0 MB\s+\(105 B\/key, 1000 keys\)/);
});
