/**
 * One thread of the shared-counter race: a Worker that increments a counter living in a
 * `SharedArrayBuffer` that every Worker (and the main thread) sees at once.
 *
 * Started by `shared_counter.ts`, never run on its own. It receives one {@link CounterJob}, does
 * it, posts `{ ms }` (how long its increments took) and waits to be terminated.
 *
 * The three ways to increment, from wrong to right:
 *
 * - `plain`: a load of the counter, then a store of that value + 1. Another thread's increments
 *   that land between the two are overwritten: lost. Each of the two steps is an atomic load or
 *   store, and that is not enough: the read-modify-write as a whole is not one step.
 * - `atomic`: `Atomics.add`, one indivisible read-modify-write done by the processor.
 * - `mutex`: an ordinary read and write, `c[0] = c[0] + 1`, inside a {@link FutexMutex}: only one
 *   thread at a time is between the read and the write, and the lock's atomic operations make
 *   each holder see the previous holder's write. Slower than `Atomics.add`, but it protects any code, not
 *   just an addition.
 *
 * @module
 */

import {
  type CounterJob,
  type IncrementMode,
  PERMIT,
  PHASE,
  SLOT,
  STEP,
} from "./counter_layout.ts";
import { FutexMutex } from "./futex_mutex.ts";

/** Blocks until `words[index] >= min`, sleeping in `Atomics.wait` rather than spinning. */
function waitAtLeast(words: Int32Array, index: number, min: number): void {
  for (;;) {
    const value = Atomics.load(words, index);
    if (value >= min) return;
    Atomics.wait(words, index, value);
  }
}

/** Stores and wakes whoever waits on that slot. */
function publish(words: Int32Array, index: number, value: number): void {
  Atomics.store(words, index, value);
  Atomics.notify(words, index);
}

/**
 * Increments as fast as possible.
 *
 * The plain loop loads with `Atomics.load` and stores with `Atomics.store` on purpose. Written as
 * `words[C] = words[C] + 1` (or `words[C]++`) it races just the same, but worse and less
 * visibly: JavaScript promises nothing about when other threads see plain reads and writes, so
 * the optimizing compiler may keep the counter in a register for the whole loop and store it
 * rarely. The result then depends on the compiler rather than on the interleaving this demo is
 * about. Atomic loads and stores are each performed, in order, every time; only the gap between
 * them is left, which is the race.
 */
function runFree(words: Int32Array, mode: IncrementMode, increments: number): void {
  const mutex = new FutexMutex(words, SLOT.LOCK);
  const C = SLOT.COUNTER;
  if (mode === "plain") {
    for (let i = 0; i < increments; i++) {
      const read = Atomics.load(words, C);
      Atomics.store(words, C, read + 1);
    }
  } else if (mode === "atomic") {
    for (let i = 0; i < increments; i++) Atomics.add(words, C, 1);
  } else {
    for (let i = 0; i < increments; i++) {
      mutex.lock();
      const read = words[C];
      words[C] = read + 1;
      mutex.unlock();
    }
  }
}

/**
 * One increment, stopped at each step until the main thread allows the next, so a test can put
 * two threads' reads and writes in exactly the order it wants.
 */
function runStep(words: Int32Array, mode: IncrementMode, worker: number): void {
  if (mode === "atomic") throw new TypeError("Cannot step an atomic add: it has no gap to stop in");
  const mutex = new FutexMutex(words, SLOT.LOCK);
  const base = SLOT.STEPS + worker * STEP.SIZE;
  waitAtLeast(words, base + STEP.PERMIT, PERMIT.BEGIN);
  if (mode === "mutex") mutex.lock();
  // A load and a store, as in runFree's plain loop; here the main thread chooses what runs between.
  const read = Atomics.load(words, SLOT.COUNTER);
  Atomics.store(words, base + STEP.SEEN, read);
  publish(words, base + STEP.PHASE, PHASE.READ);
  waitAtLeast(words, base + STEP.PERMIT, PERMIT.WRITE);
  Atomics.store(words, SLOT.COUNTER, read + 1);
  if (mode === "mutex") mutex.unlock();
  publish(words, base + STEP.PHASE, PHASE.WROTE);
}

// A Worker module's global scope has `onmessage` and `postMessage`; Deno types it as `window`.
const worker = self as unknown as {
  onmessage: ((event: MessageEvent<CounterJob>) => void) | null;
  postMessage(message: { ms: number }): void;
};

worker.onmessage = ({ data: job }) => {
  const words = new Int32Array(job.buffer);
  if (job.run === "step") {
    runStep(words, job.mode, job.worker);
    worker.postMessage({ ms: 0 });
    return;
  }
  // The start line: creating a Worker takes milliseconds, long enough for the first one to finish
  // a million increments before the last one starts. Waiting here makes them actually overlap.
  Atomics.add(words, SLOT.READY, 1);
  Atomics.notify(words, SLOT.READY);
  waitAtLeast(words, SLOT.GO, 1);
  const start = performance.now();
  runFree(words, job.mode, job.increments);
  worker.postMessage({ ms: performance.now() - start });
};
