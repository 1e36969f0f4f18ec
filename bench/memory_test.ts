/**
 * Unit tests of the memory benchmark's pieces (the benchmark itself is run by hand).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  benchKey,
  benchValue,
  floodBound,
  formatConnections,
  formatFlood,
  formatResult,
  taskDenoFlags,
  withV8Flags,
} from "./memory.ts";

const MB = 1024 * 1024;

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

Deno.test("withV8Flags() replaces, removes or keeps a task's V8 flags", () => {
  const task = ["--allow-net", "--v8-flags=--max-semi-space-size=8"];
  assert.deepEqual(withV8Flags(task, undefined), task);
  assert.deepEqual(withV8Flags(task, ""), ["--allow-net"]);
  assert.deepEqual(withV8Flags(task, "--optimize-for-size"), [
    "--allow-net",
    "--v8-flags=--optimize-for-size",
  ]);
  assert.deepEqual(withV8Flags(["--allow-net"], "--expose-gc"), [
    "--allow-net",
    "--v8-flags=--expose-gc",
  ]);
});

Deno.test("floodBound() is 1.5 × maxmemory plus the empty server, and formatFlood() shows the ratio", () => {
  assert.equal(floodBound(50 * MB, 48 * MB), 123 * MB);
  const line = formatFlood({
    name: "x",
    empty: 48 * MB,
    peak: 246 * MB,
    after: 200 * MB,
    usedMemory: 50 * MB,
    evicted: 2_500_000,
    writesPerSecond: 120_000,
  }, 50 * MB);
  assert.match(line, /evicted 2500000 +120k SET\/s +peak 2\.00× the bound \(123\.0 MB\)/);
});

Deno.test("formatConnections() shows the cost per client and what stays after they close", () => {
  const line = formatConnections(
    { name: "x", before: 10 * MB, open: 60 * MB, closed: 20 * MB },
    5000,
  );
  assert.match(
    line,
    /open\s+60\.0 MB \(\+10\.2 KB a client\)\s+closed\s+20\.0 MB \(\+10\.0 MB kept\)/,
  );
});
