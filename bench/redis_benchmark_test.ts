import assert from "node:assert/strict";
import { parseBenchmarkCsv, redisBenchmarkArgs } from "./redis_benchmark.ts";

Deno.test("parseBenchmarkCsv() reads redis-benchmark 7's -q --csv output", () => {
  const output = `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",` +
    `"p95_latency_ms","p99_latency_ms","max_latency_ms"\n` +
    `"SET","12853.47","0.073","0.024","0.071","0.103","0.167","4.695"\n` +
    `"GET","13297.87","0.070","0.016","0.071","0.111","0.167","4.007"\n`;
  assert.deepEqual(parseBenchmarkCsv(output), [
    { test: "SET", rps: 12853.47, p50Ms: 0.071, p99Ms: 0.167 },
    { test: "GET", rps: 13297.87, p50Ms: 0.071, p99Ms: 0.167 },
  ]);
});

Deno.test("parseBenchmarkCsv() rejects output without a CSV header", () => {
  assert.throws(() => parseBenchmarkCsv("Could not connect to Redis\n"), SyntaxError);
});

Deno.test("redisBenchmarkArgs() adds -P only for pipelined runs", () => {
  const spec = { tests: ["set", "get"], requests: 100, clients: 50, keyspace: 10, valueSize: 3 };
  assert.ok(!redisBenchmarkArgs("127.0.0.1", 1, { ...spec, pipeline: 1 }).includes("-P"));
  const args = redisBenchmarkArgs("127.0.0.1", 1, { ...spec, pipeline: 16 });
  assert.equal(args[args.indexOf("-P") + 1], "16");
  assert.deepEqual(args.slice(-2), ["-q", "--csv"]);
});
