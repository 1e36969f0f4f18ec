/**
 * Unit tests of lab 4's keyspace: lazy expiry, the byte estimate, LRU order, watchers, removals.
 * Time comes from a {@link ManualClock}: nothing here sleeps.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Watches } from "../02-threaded/watches.ts";
import { ManualClock } from "./clock.ts";
import {
  entryBytes,
  ExpiringKeyspace,
  EXPIRY_BYTES,
  MAP_ENTRY_BYTES,
  stringBytes,
} from "./keyspace.ts";

function setup(): { clock: ManualClock; db: ExpiringKeyspace } {
  const clock = new ManualClock(1_000_000);
  return { clock, db: new ExpiringKeyspace(clock) };
}

/** Lab 2's table of watches on this keyspace, settled by expiry as lab 4's expiry stage does. */
function watchesOn(db: ExpiringKeyspace): Watches {
  const watches = new Watches(db);
  watches.settle = (key) => {
    db.expireIfNeeded(key);
  };
  return watches;
}

Deno.test("a key past its time reads as missing and is removed on access", () => {
  const { clock, db } = setup();
  db.set("k", "v", clock.now() + 100);
  clock.advance(99);
  assert.equal(db.get("k"), "v");
  clock.advance(1);
  assert.equal(db.size, 1, "nothing removed it yet: DBSIZE still counts it, as in Redis");
  assert.deepEqual([...db.keys()], [], "KEYS skips it");
  assert.equal(db.get("k"), undefined);
  assert.equal(db.size, 0);
  assert.equal(db.expiredKeys, 1);
});

Deno.test("DEL of a key past its time replies as if it were missing", () => {
  const { clock, db } = setup();
  db.set("k", "v", clock.now() + 10);
  clock.advance(10);
  assert.equal(db.delete("k"), false);
  assert.equal(db.expiredKeys, 1);
});

Deno.test("set() clears a TTL, update() keeps it, a past time removes the key at once", () => {
  const { clock, db } = setup();
  db.set("k", "1", clock.now() + 5000);
  db.update("k", "2");
  assert.equal(db.expiresAt("k"), clock.now() + 5000);
  db.set("k", "3");
  assert.equal(db.expiresAt("k"), null);
  db.set("gone", "v", clock.now());
  assert.equal(db.size, 1, "a SET with a time already past leaves nothing behind");
  assert.equal(db.setExpiresAt("k", clock.now() - 1), true, "a past EXPIRE deletes the key");
  assert.equal(db.has("k"), false);
});

Deno.test("while loading, a time that has passed removes nothing; afterwards it does", () => {
  const { clock, db } = setup();
  db.loading = true;
  db.set("past", "v", clock.now() - 1);
  assert.equal(db.get("past"), "v");
  db.set("later", "v");
  assert.equal(db.setExpiresAt("later", clock.now() - 1), true);
  assert.equal(db.has("later"), true);
  assert.deepEqual([...db.keys()].sort(), ["later", "past"]);
  assert.equal(db.expiredKeys, 0);
  db.loading = false;
  assert.equal(db.get("past"), undefined);
  assert.deepEqual([...db.keys()], []);
  assert.equal(db.has("later"), false);
  assert.equal(db.expiredKeys, 2);
});

Deno.test("usedMemory adds and removes exactly what each key costs", () => {
  const { clock, db } = setup();
  assert.equal(stringBytes(""), 16);
  assert.equal(stringBytes("x".repeat(16)), 32);
  assert.equal(stringBytes("x".repeat(17)), 40);
  db.set("key", "value");
  assert.equal(db.usedMemory, entryBytes("key", "value"));
  db.set("key", "a longer value than before");
  assert.equal(db.usedMemory, entryBytes("key", "a longer value than before"));
  db.setExpiresAt("key", clock.now() + 1000);
  db.setFlags("key", 7);
  assert.equal(
    db.usedMemory,
    entryBytes("key", "a longer value than before") + EXPIRY_BYTES + MAP_ENTRY_BYTES,
  );
  db.update("key", "v");
  db.set("other", "x", clock.now() + 10);
  clock.advance(10);
  db.get("other"); // expires it
  db.persist("key");
  assert.equal(db.usedMemory, entryBytes("key", "v") + MAP_ENTRY_BYTES);
  db.delete("key");
  assert.equal(db.usedMemory, 0);
  db.set("a", "1");
  db.clear();
  assert.equal(db.usedMemory, 0);
});

Deno.test("load() counts bytes, skips expired entries and replaces an existing key", () => {
  const { clock, db } = setup();
  const seen: (string | null)[] = [];
  db.observe({ changing: (key) => seen.push(key) });
  assert.equal(db.load({ key: "old", value: "v", expiresAt: clock.now() - 1, flags: 0 }), false);
  db.load({ key: "k", value: "one", expiresAt: clock.now() + 10, flags: 3 });
  db.load({ key: "k", value: "two", expiresAt: null, flags: 0 });
  assert.equal(db.usedMemory, entryBytes("k", "two"));
  assert.deepEqual(seen, [], "loading is not a change");
});

Deno.test("with trackAccess, storedKeys() lists the least recently used key first", () => {
  const { db } = setup();
  db.trackAccess = true;
  for (const key of ["a", "b", "c", "d"]) db.set(key, key);
  db.get("a");
  db.has("b");
  db.set("c", "new");
  assert.deepEqual([...db.storedKeys()], ["d", "a", "b", "c"]);
  db.trackAccess = false;
  db.get("d");
  assert.deepEqual([...db.storedKeys()], ["d", "a", "b", "c"], "off: reads do not reorder");
});

Deno.test("with trackAccess, reading every key while listing them visits each once", () => {
  const { db } = setup();
  db.trackAccess = true;
  for (const key of ["a", "b", "c"]) db.set(key, key);
  const seen: string[] = [];
  for (const key of db.keys()) seen.push(`${key}=${db.get(key)}`); // what DUMP does
  assert.deepEqual(seen, ["a=a", "b=b", "c=c"]);
});

Deno.test("with trackAccess, expiringKeys() is in LRU order too, for volatile-lru", () => {
  const { clock, db } = setup();
  db.trackAccess = true;
  db.set("x", "1", clock.now() + 1000);
  db.set("y", "1", clock.now() + 1000);
  db.set("plain", "1");
  db.get("x");
  assert.deepEqual([...db.expiringKeys()], ["y", "x"]);
  db.setExpiresAt("y", clock.now() + 2000);
  assert.deepEqual([...db.expiringKeys()], ["x", "y"]);
});

Deno.test("moving a key in LRU order is not a change: no watcher, no observer", () => {
  const { db } = setup();
  db.trackAccess = true;
  db.set("k", "v");
  const watches = watchesOn(db);
  const watcher = { dirty: false };
  watches.watch("k", watcher);
  const seen: (string | null)[] = [];
  db.observe({ changing: (key) => seen.push(key) });
  db.get("k");
  db.has("k");
  assert.deepEqual([watcher.dirty, seen], [false, []]);
});

Deno.test("EXPIRE and PERSIST mark watchers; an expiry at EXEC time does too", () => {
  const { clock, db } = setup();
  db.set("k", "v");
  const watches = watchesOn(db);
  const watcher = { dirty: false };
  watches.watch("k", watcher);
  db.setExpiresAt("k", clock.now() + 100);
  assert.equal(watcher.dirty, true);
  watcher.dirty = false;
  db.persist("k");
  assert.equal(watcher.dirty, true);
  watcher.dirty = false;
  db.setExpiresAt("k", clock.now() + 100);
  watcher.dirty = false;
  clock.advance(100);
  watches.settle("k");
  assert.equal(watcher.dirty, true, "the watched key expired since WATCH");
  watches.unwatch("k", watcher);
});

Deno.test("WATCH of a key already past its time removes it first: no false conflict", () => {
  const { clock, db } = setup();
  db.set("k", "v", clock.now() + 10);
  clock.advance(10);
  const watches = watchesOn(db);
  const watcher = { dirty: false };
  watches.watch("k", watcher);
  watches.settle("k");
  assert.equal(watcher.dirty, false);
});

Deno.test("removal observers hear of expired and evicted keys, and nothing else", () => {
  const { clock, db } = setup();
  const removed: string[] = [];
  db.observe({ removed: (key, reason) => removed.push(`${reason} ${key}`) });
  db.set("a", "1", clock.now() + 5);
  db.set("b", "2");
  db.set("c", "3");
  db.delete("c");
  clock.advance(5);
  db.get("a");
  db.evict("b");
  assert.deepEqual(removed, ["expired a", "evicted b"]);
  assert.deepEqual([db.expiredKeys, db.evictedKeys], [1, 1]);
});

Deno.test("copy() carries the expiry and flags, replaces the destination's, and keeps the estimate", () => {
  const { clock, db } = setup();
  const at = clock.now() + 5_000;
  db.set("src", "value", at);
  db.setFlags("src", 7);
  db.set("dst", "old", clock.now() + 100);
  db.setFlags("dst", 9);
  assert.equal(db.copy("src", "dst"), true);
  assert.deepEqual(db.peek("dst"), { key: "dst", value: "value", expiresAt: at, flags: 7 });
  db.set("plain", "p");
  assert.equal(db.copy("plain", "dst"), true);
  assert.deepEqual(db.peek("dst"), { key: "dst", value: "p", expiresAt: null, flags: 0 });
  assert.equal(db.copy("missing", "dst"), false);
  const expected = entryBytes("src", "value") + EXPIRY_BYTES + MAP_ENTRY_BYTES +
    entryBytes("dst", "p") + entryBytes("plain", "p");
  assert.equal(db.usedMemory, expected);
  // An expired source is missing: it is removed, and nothing is copied.
  clock.advance(5_000);
  assert.equal(db.copy("src", "gone"), false);
  assert.equal(db.peek("gone"), undefined);
  assert.equal(db.expiredKeys, 1);
});

Deno.test("scan() skips expired keys and, in LRU order, still returns keys read between steps", () => {
  const { clock, db } = setup();
  db.trackAccess = true;
  for (let i = 0; i < 100; i++) db.set(`k${i}`, "v");
  db.set("doomed", "v", clock.now() + 10);
  clock.advance(10);
  const returned = new Set<string>();
  let cursor = 0n;
  let steps = 0;
  do {
    const step = db.scan(cursor, 7);
    step.keys.forEach((k) => returned.add(k));
    cursor = step.cursor;
    // Reading keys moves them to the end of the Map: ahead of the cursor or behind it.
    for (let i = 0; i < 100; i += 9) db.get(`k${(i + steps * 13) % 100}`);
    assert.ok(++steps < 1000, "the scan ends");
  } while (cursor !== 0n);
  assert.equal(returned.size, 100);
  assert.ok(!returned.has("doomed"));
  assert.equal(db.expiredKeys, 1, "the scan removed the expired key it met");
});
