/**
 * Real threads on shared memory: Workers incrementing one `SharedArrayBuffer` counter.
 *
 * What is checked exactly is what holds on every machine: the forced interleaving loses an update
 * without a lock and none with the futex mutex, and `Atomics.add` and the mutex reach exactly
 * N × M. How many updates the free-running plain loop loses depends on how the operating system
 * schedules the threads — on a busy two-core machine possibly none in a given run — so it is only
 * printed by `deno task lab2:race`, never asserted.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CONTENDED, FutexMutex, LOCKED, UNLOCKED } from "./futex_mutex.ts";
import { runCounterRace, runLostUpdateTimeline } from "./shared_counter.ts";

Deno.test("FutexMutex moves between UNLOCKED and LOCKED, and tryLock fails while it is held", () => {
  const words = new Int32Array(new SharedArrayBuffer(8));
  const mutex = new FutexMutex(words, 1);
  assert.equal(mutex.state, UNLOCKED);
  mutex.lock(); // free: the fast path, no waiting
  assert.equal(mutex.state, LOCKED);
  assert.equal(mutex.tryLock(), false);
  mutex.unlock();
  assert.equal(mutex.state, UNLOCKED);
  assert.equal(mutex.tryLock(), true);
  assert.equal(words[1], LOCKED, "the state lives in the shared word itself");
  mutex.unlock();
  assert.equal(words[0], 0, "the lock touched a word that is not its own");
});

Deno.test("FutexMutex.unlock() of a CONTENDED lock frees it for the waiter", () => {
  const words = new Int32Array(new SharedArrayBuffer(4));
  const mutex = new FutexMutex(words, 0);
  mutex.lock();
  Atomics.store(words, 0, CONTENDED); // what a second thread's lock() does before it sleeps
  mutex.unlock();
  assert.equal(mutex.state, UNLOCKED);
});

Deno.test("FutexMutex refuses memory that is not shared", () => {
  assert.throws(() => new FutexMutex(new Int32Array(2), 0), {
    name: "TypeError",
    message: "Cannot build a FutexMutex: the Int32Array is not shared memory",
  });
});

Deno.test("two Workers without a lock, both reading before either writes, lose an update", async () => {
  const { events, final } = await runLostUpdateTimeline("plain");
  assert.deepEqual(events, ["A reads 0", "B reads 0", "A writes 1", "B writes 1"]);
  assert.equal(final, 1);
});

Deno.test("two Workers with the futex mutex: B waits for the lock, reads A's write, no update lost", async () => {
  const { events, final } = await runLostUpdateTimeline("mutex");
  assert.deepEqual(events, [
    "A reads 0",
    "B waits for the lock",
    "A writes 1",
    "B reads 1",
    "B writes 2",
  ]);
  assert.equal(final, 2);
});

Deno.test("Workers incrementing through the futex mutex reach exactly N × M", async () => {
  const result = await runCounterRace("mutex", { workers: 4, increments: 20_000 });
  assert.equal(result.got, 80_000);
  assert.equal(result.lost, 0);
});

Deno.test("Workers using Atomics.add reach exactly N × M", async () => {
  const result = await runCounterRace("atomic", { workers: 4, increments: 20_000 });
  assert.equal(result.got, 80_000);
  assert.equal(result.lost, 0);
});

Deno.test("runCounterRace() of plain increments finishes and reports got + lost = N × M", async () => {
  // The upper bound is all a free-running race promises; the loss itself is the demo's to show.
  const result = await runCounterRace("plain", { workers: 4, increments: 20_000 });
  assert.ok(result.got > 0 && result.got <= 80_000, `counted ${result.got}`);
  assert.equal(result.lost, 80_000 - result.got);
});
