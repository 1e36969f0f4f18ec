import assert from "node:assert/strict";
import { LatencyHistogram } from "./histogram.ts";

Deno.test("LatencyHistogram is exact below 128 µs", () => {
  const h = new LatencyHistogram();
  for (let us = 1; us <= 100; us++) h.record(us);
  assert.deepEqual(h.summary(), { p50: 50, p99: 99, p999: 100, max: 100, mean: 51 });
});

Deno.test("LatencyHistogram reports large values within 1/64 above the truth", () => {
  for (const value of [128, 1000, 4000, 65_537, 1_234_567, 60_000_000]) {
    const h = new LatencyHistogram();
    h.record(value);
    h.record(0);
    const p50 = h.percentile(0.5);
    const p99 = h.percentile(0.99);
    assert.equal(p50, 0);
    assert.equal(p99, value, "the top percentile never exceeds the exact maximum");
    const other = new LatencyHistogram();
    other.record(value);
    other.record(value * 2);
    const median = other.percentile(0.5);
    assert.ok(median >= value && median <= value * (1 + 1 / 64), `${median} for ${value}`);
  }
});

Deno.test("LatencyHistogram reports zeros when nothing was recorded", () => {
  assert.deepEqual(new LatencyHistogram().summary(), { p50: 0, p99: 0, p999: 0, max: 0, mean: 0 });
});
