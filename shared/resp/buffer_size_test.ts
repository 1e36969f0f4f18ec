import assert from "node:assert/strict";
import { CapacityPolicy, fitCapacity, SHRINK_WINDOW } from "./buffer_size.ts";

Deno.test("fitCapacity() is the smallest power of two that holds n, never below the minimum", () => {
  assert.equal(fitCapacity(0, 1024), 1024);
  assert.equal(fitCapacity(1024, 1024), 1024);
  assert.equal(fitCapacity(1025, 1024), 2048);
  assert.equal(fitCapacity(40_000, 1024), 65_536);
});

Deno.test("CapacityPolicy shrinks a buffer only at the end of a window in which it stayed small", () => {
  const policy = new CapacityPolicy(1024, 4);
  policy.note(40_000); // a burst grew the buffer to 64 KiB
  for (let use = 1; use < 4; use++) assert.equal(policy.fit(65_536), 65_536, `use ${use}`);
  // The window that held the burst ends: the burst still counts, so the buffer stays.
  assert.equal(policy.fit(65_536), 65_536);
  // A whole window of small uses: back to what they needed.
  for (let use = 1; use <= 3; use++) {
    policy.note(600);
    assert.equal(policy.fit(65_536), 65_536, `use ${use}`);
  }
  assert.equal(policy.fit(65_536), 1024);
});

Deno.test("CapacityPolicy keeps a buffer that steady traffic fills more than half of", () => {
  const policy = new CapacityPolicy(1024);
  for (let use = 0; use < 10 * SHRINK_WINDOW; use++) {
    policy.note(17_000); // a pipeline of big values, every batch: 32 KiB is the fit
    assert.equal(policy.fit(32_768), 32_768);
  }
});

Deno.test("CapacityPolicy shrinks to the window's peak, not all the way down", () => {
  const policy = new CapacityPolicy(1024, 2);
  policy.note(3000);
  policy.fit(65_536);
  assert.equal(policy.fit(65_536), 4096);
  // Within a factor of two of the peak it is left alone: no copying for a few bytes.
  policy.note(2100);
  policy.fit(4096);
  assert.equal(policy.fit(4096), 4096);
});
