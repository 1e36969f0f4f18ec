/**
 * Unit tests of lab 2's async {@link Mutex}: exclusion, FIFO order, no barging, one-shot release.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Mutex } from "./lock.ts";

/** Lets every promise callback that is ready run, so "nothing else happened" is a real claim. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("Mutex.lock() takes a free lock at once and the release frees it", async () => {
  const mutex = new Mutex();
  assert.equal(mutex.locked, false);
  const release = await mutex.lock();
  assert.equal(mutex.locked, true);
  release();
  assert.equal(mutex.locked, false);
});

Deno.test("Mutex.lock() makes a second caller wait until the holder releases", async () => {
  const mutex = new Mutex();
  const release = await mutex.lock();
  let second: (() => void) | null = null;
  const waiting = mutex.lock().then((r) => second = r);
  await settle();
  assert.equal(second, null, "the second caller got the lock while the first held it");
  release();
  await waiting;
  assert.ok(second, "the second caller never got the lock");
  assert.equal(mutex.locked, true, "the lock was handed over, so it is still held");
  (second as () => void)();
  assert.equal(mutex.locked, false);
});

Deno.test("Mutex.lock() serves waiters in the order they asked", async () => {
  const mutex = new Mutex();
  const first = await mutex.lock();
  const order: number[] = [];
  const waiters = [1, 2, 3, 4].map((n) =>
    mutex.lock().then((release) => {
      order.push(n);
      release();
    })
  );
  first();
  await Promise.all(waiters);
  assert.deepEqual(order, [1, 2, 3, 4]);
  assert.equal(mutex.locked, false);
});

Deno.test("Mutex.lock() lets no newcomer jump ahead of a waiter being handed the lock", async () => {
  const mutex = new Mutex();
  const first = await mutex.lock();
  const order: string[] = [];
  const waiter = mutex.lock().then((release) => {
    order.push("waiter");
    release();
  });
  first();
  // The waiter's promise is resolved but its callback has not run yet: the lock must not look free.
  assert.equal(mutex.locked, true);
  const newcomer = mutex.lock().then((release) => {
    order.push("newcomer");
    release();
  });
  await Promise.all([waiter, newcomer]);
  assert.deepEqual(order, ["waiter", "newcomer"]);
});

Deno.test("Mutex: releasing twice does nothing the second time, even when another holds the lock", async () => {
  const mutex = new Mutex();
  const first = await mutex.lock();
  const secondTaken = mutex.lock();
  first();
  const second = await secondTaken;
  first(); // the bug this guards against: a stale release in a finally
  assert.equal(mutex.locked, true, "a stale release freed the lock its new holder owns");
  let third = false;
  const thirdTaken = mutex.lock().then((release) => {
    third = true;
    release();
  });
  await settle();
  assert.equal(third, false, "a stale release let a third caller in");
  second();
  await thirdTaken;
  assert.equal(third, true);
  assert.equal(mutex.locked, false);
});

Deno.test("Mutex is not reentrant: the holder's own second lock() waits for its release", async () => {
  const mutex = new Mutex();
  const release = await mutex.lock();
  let again = false;
  const second = mutex.lock().then((r) => {
    again = true;
    r();
  });
  await settle();
  assert.equal(again, false, "the holder took the lock twice");
  release();
  await second;
  assert.equal(again, true);
});

Deno.test("Mutex.runExclusive() returns fn's value and releases the lock", async () => {
  const mutex = new Mutex();
  assert.equal(await mutex.runExclusive(() => 42), 42);
  assert.equal(await mutex.runExclusive(() => Promise.resolve("async")), "async");
  assert.equal(mutex.locked, false);
});

Deno.test("Mutex.runExclusive() releases the lock when fn throws or rejects", async () => {
  const mutex = new Mutex();
  await assert.rejects(
    mutex.runExclusive(() => {
      throw new RangeError("sync failure");
    }),
    { name: "RangeError", message: "sync failure" },
  );
  assert.equal(mutex.locked, false);
  await assert.rejects(mutex.runExclusive(() => Promise.reject(new Error("async failure"))), {
    message: "async failure",
  });
  assert.equal(mutex.locked, false);
});

Deno.test("Mutex.runExclusive() holds the lock across every await inside fn", async () => {
  const mutex = new Mutex();
  const events: string[] = [];
  const task = (name: string) =>
    mutex.runExclusive(async () => {
      events.push(`${name} start`);
      await settle();
      events.push(`${name} end`);
    });
  await Promise.all([task("a"), task("b"), task("c")]);
  assert.deepEqual(events, ["a start", "a end", "b start", "b end", "c start", "c end"]);
});

Deno.test("Mutex: a read-await-write counter loses updates without the lock and none with it", async () => {
  const tasks = 20;
  let unsafe = 0;
  await Promise.all(
    Array.from({ length: tasks }, async () => {
      const read = unsafe;
      await Promise.resolve(); // every task reads before any writes: they all write 1
      unsafe = read + 1;
    }),
  );
  assert.equal(unsafe, 1, "without the lock every task read 0");

  const mutex = new Mutex();
  let safe = 0;
  await Promise.all(
    Array.from({ length: tasks }, () =>
      mutex.runExclusive(async () => {
        const read = safe;
        await Promise.resolve();
        safe = read + 1;
      })),
  );
  assert.equal(safe, tasks);
});
