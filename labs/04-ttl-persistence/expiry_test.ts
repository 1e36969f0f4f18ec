/**
 * Unit tests of active expiry: sampling finds keys nobody reads, keeps going while a sample is
 * mostly expired, respects its time budget, and measures the average TTL. No test sleeps.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { ActiveExpiry } from "./expiry.ts";
import { ExpiringKeyspace } from "./keyspace.ts";

function setup(): { clock: ManualClock; db: ExpiringKeyspace } {
  const clock = new ManualClock(5_000_000);
  return { clock, db: new ExpiringKeyspace(clock) };
}

Deno.test("a cycle removes expired keys nobody reads, and leaves the rest", () => {
  const { clock, db } = setup();
  for (let i = 0; i < 100; i++) db.set(`short:${i}`, "v", clock.now() + 100);
  for (let i = 0; i < 100; i++) db.set(`long:${i}`, "v", clock.now() + 60_000);
  for (let i = 0; i < 100; i++) db.set(`forever:${i}`, "v");
  clock.advance(100);
  const expiry = new ActiveExpiry([db]);
  const result = expiry.runCycle();
  assert.ok(result.expired > 0, "found expired keys");
  // Cycles until a sample is mostly live: all 100 short keys go, in one cycle or a few.
  for (let i = 0; i < 20 && db.expiringCount > 100; i++) expiry.runCycle();
  assert.equal(db.expiringCount, 100);
  assert.equal(db.size, 200);
  assert.equal(db.expiredKeys, 100);
});

Deno.test("a cycle stops after one sample when few keys are expired", () => {
  const { clock, db } = setup();
  for (let i = 0; i < 1000; i++) db.set(`k${i}`, "v", clock.now() + (i < 1 ? 1 : 60_000));
  clock.advance(1);
  const result = new ActiveExpiry([db], { keysPerSample: 20 }).runCycle();
  assert.equal(result.sampled, 20, "one sample: at most 1 in 20 was expired");
});

Deno.test("a cycle keeps sampling while most of each sample is expired", () => {
  const { clock, db } = setup();
  for (let i = 0; i < 1000; i++) db.set(`k${i}`, "v", clock.now() + 10);
  clock.advance(10);
  const result = new ActiveExpiry([db]).runCycle();
  assert.equal(result.expired, 1000);
  assert.equal(db.size, 0);
});

Deno.test("a cycle stops at its time budget and says so", () => {
  const { clock, db } = setup();
  for (let i = 0; i < 1000; i++) db.set(`k${i}`, "v", clock.now() + 10);
  clock.advance(10);
  let fakeTime = 0;
  // Each look at the processor clock costs 10 ms: the 25 ms budget lasts three samples.
  const expiry = new ActiveExpiry([db], { elapsed: () => (fakeTime += 10) });
  const result = expiry.runCycle();
  assert.equal(result.timeCapReached, true);
  assert.ok(result.expired < 1000 && result.expired >= 20, `expired ${result.expired}`);
  assert.equal(expiry.timeCapReached, 1);
});

Deno.test("the cursor resumes where the last cycle stopped, so every key gets looked at", () => {
  const { clock, db } = setup();
  for (let i = 0; i < 200; i++) db.set(`k${i}`, "v", clock.now() + 60_000);
  db.set("k199", "v", clock.now() + 1); // the last key in the map's order
  clock.advance(1);
  const expiry = new ActiveExpiry([db], { keysPerSample: 20 });
  for (let i = 0; i < 10; i++) expiry.runCycle();
  assert.equal(db.expiredKeys, 1);
});

Deno.test("avg_ttl follows the sampled keys' remaining time, smoothed as Redis does", () => {
  const { clock, db } = setup();
  for (let i = 0; i < 10; i++) db.set(`k${i}`, "v", clock.now() + 10_000);
  const expiry = new ActiveExpiry([db]);
  expiry.runCycle();
  assert.equal(expiry.avgTtl(0), 10_000);
  clock.advance(5_000);
  expiry.runCycle();
  assert.equal(expiry.avgTtl(0), (10_000 / 50) * 49 + 5_000 / 50);
  db.clear();
  expiry.runCycle();
  assert.equal(expiry.avgTtl(0), 0);
});

Deno.test("start() ticks on a timer and stop() ends it", async () => {
  const { clock, db } = setup();
  db.set("k", "v", clock.now() + 1);
  clock.advance(1);
  const expiry = new ActiveExpiry([db], { hz: 100 });
  expiry.start();
  try {
    for (let i = 0; i < 50 && db.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
  } finally {
    expiry.stop();
  }
  assert.equal(db.size, 0);
  assert.ok(expiry.cycles >= 1);
});

Deno.test("setHz() changes the frequency at runtime, clamped to 1..500 as Redis clamps it", () => {
  const expiry = new ActiveExpiry([new ExpiringKeyspace(new ManualClock(0))], { hz: 10 });
  expiry.setHz(1000);
  assert.equal(expiry.hz, 500);
  expiry.setHz(0);
  assert.equal(expiry.hz, 1);
  expiry.start();
  expiry.setHz(20);
  assert.equal(expiry.hz, 20);
  expiry.stop();
});

Deno.test("a cycle walks every database, and keeps each one's average TTL", () => {
  const clock = new ManualClock(5_000_000);
  const databases = [0, 1, 2].map(() => new ExpiringKeyspace(clock));
  const [first, empty, last] = databases;
  for (let i = 0; i < 30; i++) first.set(`short:${i}`, "v", clock.now() + 10);
  for (let i = 0; i < 30; i++) last.set(`short:${i}`, "v", clock.now() + 10);
  last.set("long", "v", clock.now() + 60_000);
  clock.advance(10);
  const expiry = new ActiveExpiry(databases);
  for (let i = 0; i < 20 && first.expiringCount + last.expiringCount > 1; i++) expiry.runCycle();
  assert.deepEqual([first.size, empty.size, last.size], [0, 0, 1]);
  assert.equal(expiry.avgTtl(0), 0);
  assert.ok(expiry.avgTtl(2) > 59_000, `database 2's average: ${expiry.avgTtl(2)}`);
});
