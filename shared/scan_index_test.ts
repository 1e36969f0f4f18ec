/**
 * Unit tests of SCAN's cursor (`scan_index.ts`) through the keyspace that keeps it: the promise
 * that a key present for a whole scan is returned, with writes and deletes between the steps.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Keyspace } from "./keyspace.ts";

/** Runs a whole scan, calling `between` after each step; returns every key returned. */
function scanAll(db: Keyspace, count: number, between: () => void): string[] {
  const returned: string[] = [];
  let cursor = 0n;
  let steps = 0;
  do {
    const step = db.scan(cursor, count);
    returned.push(...step.keys);
    cursor = step.cursor;
    between();
    assert.ok(++steps < 100_000, "the scan ends");
  } while (cursor !== 0n);
  return returned;
}

/** A small deterministic random generator, so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

Deno.test("scan() returns every key once when nothing changes, in steps of about COUNT", () => {
  const db = new Keyspace();
  for (let i = 0; i < 95; i++) db.set(`k${i}`, "v");
  const first = db.scan(0n, 10);
  assert.equal(first.keys.length, 10);
  assert.notEqual(first.cursor, 0n);
  const all = scanAll(db, 10, () => {});
  assert.equal(all.length, 95);
  assert.equal(new Set(all).size, 95);
});

Deno.test("scan() returns every key that stays, with inserts and deletes between steps", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const next = random(seed);
    const db = new Keyspace();
    // Keys that stay for the whole scan, and churn around them.
    const stable = Array.from({ length: 300 }, (_, i) => `stable:${i}`);
    let churn = 0;
    for (const key of stable) {
      db.set(key, "v");
      db.set(`churn:${churn++}`, "v");
    }
    const returned = new Set(scanAll(db, 1 + Math.floor(next() * 20), () => {
      // Each step: delete some churn keys (shifting every later key in the Map), add new ones,
      // delete and re-add a churn key (it moves to the end), overwrite a stable one (it stays).
      for (let i = 0; i < 15; i++) db.delete(`churn:${Math.floor(next() * churn)}`);
      for (let i = 0; i < 10; i++) db.set(`churn:${churn++}`, "v");
      const moved = `churn:${Math.floor(next() * churn)}`;
      if (db.delete(moved)) db.set(moved, "again");
      db.set(stable[Math.floor(next() * stable.length)], "overwritten");
    }));
    for (const key of stable) assert.ok(returned.has(key), `seed ${seed}: ${key} was returned`);
    for (const key of returned) {
      assert.ok(key.startsWith("stable:") || key.startsWith("churn:"), key);
    }
  }
});

Deno.test("scan() ends even while keys are added faster than it walks", () => {
  const db = new Keyspace();
  for (let i = 0; i < 100; i++) db.set(`k${i}`, "v");
  let added = 0;
  // Ten new keys per step, one key per step scanned: without a horizon this would never end.
  const returned = scanAll(db, 1, () => {
    for (let i = 0; i < 10; i++) db.set(`new${added++}`, "v");
  });
  for (let i = 0; i < 100; i++) assert.ok(returned.includes(`k${i}`), `k${i}`);
  assert.ok(
    !returned.some((k) => k.startsWith("new")),
    "keys added after the start are not needed",
  );
});

Deno.test("scan() survives compaction: old cursors still land in the right place", () => {
  const db = new Keyspace();
  for (let i = 0; i < 5000; i++) db.set(`k${i}`, "v");
  const first = db.scan(0n, 100);
  // Delete most keys the scan has not reached, and churn enough to force a compaction.
  for (let i = 200; i < 4900; i++) db.delete(`k${i}`);
  for (let i = 0; i < 3000; i++) {
    db.set(`tmp${i}`, "v");
    db.delete(`tmp${i}`);
  }
  const rest = scanAll(db, 100, () => {});
  const returned = new Set([...first.keys, ...scanAll(db, 100, () => {}), ...rest]);
  for (let i = 0; i < 200; i++) assert.ok(returned.has(`k${i}`), `k${i}`);
  for (let i = 4900; i < 5000; i++) assert.ok(returned.has(`k${i}`), `k${i}`);
  // Continuing from the first step's cursor finds the keys after it, none before.
  const fromCursor = new Set<string>();
  let cursor = first.cursor;
  do {
    const step = db.scan(cursor, 100);
    step.keys.forEach((k) => fromCursor.add(k));
    cursor = step.cursor;
  } while (cursor !== 0n);
  assert.deepEqual(
    [...fromCursor].sort(),
    [
      ...Array.from({ length: 100 }, (_, i) => `k${100 + i}`),
      ...Array.from(
        { length: 100 },
        (_, i) => `k${4900 + i}`,
      ),
    ].sort(),
  );
});

Deno.test("scan() after FLUSHDB: an old cursor ends the scan, a new one sees new keys", () => {
  const db = new Keyspace();
  for (let i = 0; i < 50; i++) db.set(`k${i}`, "v");
  const { cursor } = db.scan(0n, 10);
  db.clear();
  db.set("fresh", "v");
  // Added after the old scan began: past its horizon, so it need not (and does not) come.
  assert.deepEqual(db.scan(cursor, 10), { keys: [], cursor: 0n });
  assert.deepEqual(db.scan(0n, 10), { keys: ["fresh"], cursor: 0n });
});
