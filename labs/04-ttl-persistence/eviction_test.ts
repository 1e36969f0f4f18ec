/**
 * Unit tests of eviction: each policy removes what it should and stays under the limit. The
 * end-to-end checks over TCP, with `INFO`, are in `eviction_server_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { Evictor } from "./eviction.ts";
import { entryBytes, ExpiringKeyspace, EXPIRY_BYTES } from "./keyspace.ts";

/** A keyspace with `count` keys `k0`... of equal size, and a limit that fits `fit` of them. */
function filled(count: number, fit: number, ttlEvery = 0) {
  const clock = new ManualClock(1_000);
  const db = new ExpiringKeyspace(clock);
  for (let i = 0; i < count; i++) {
    const ttl = ttlEvery > 0 && i % ttlEvery === 0 ? clock.now() + 60_000 : null;
    db.set(`k${String(i).padStart(3, "0")}`, "v".repeat(40), ttl);
  }
  const perKey = entryBytes("k000", "v".repeat(40));
  return { clock, db, perKey, limit: fit * perKey };
}

Deno.test("noeviction evicts nothing and reports that it cannot free memory", () => {
  const { db, limit } = filled(10, 5);
  const evictor = new Evictor([db], { maxmemory: limit, policy: "noeviction" });
  assert.equal(evictor.performEvictions(), false);
  assert.equal(db.size, 10);
  assert.equal(new Evictor([db], { maxmemory: 0, policy: "noeviction" }).performEvictions(), true);
});

Deno.test("allkeys-lru evicts the least recently used keys until under the limit", () => {
  const { db, limit } = filled(0, 5);
  const evictor = new Evictor([db], { maxmemory: limit, policy: "allkeys-lru" });
  assert.equal(db.trackAccess, true, "the LRU policies switch on the keyspace's LRU order");
  for (let i = 0; i < 10; i++) db.set(`k${String(i).padStart(3, "0")}`, "v".repeat(40));
  db.get("k000");
  db.get("k001");
  assert.equal(evictor.performEvictions(), true);
  assert.ok(db.usedMemory <= limit);
  assert.deepEqual([...db.keys()].sort(), ["k000", "k001", "k007", "k008", "k009"]);
  assert.equal(db.evictedKeys, 5);
});

Deno.test("allkeys-lru keeps evicting the oldest as writes go on (the cursor stays right)", () => {
  const { db, perKey } = filled(0, 0);
  const evictor = new Evictor([db], { maxmemory: 20 * perKey, policy: "allkeys-lru" });
  for (let i = 0; i < 200; i++) {
    db.set(`k${String(i).padStart(3, "0")}`, "v".repeat(40));
    db.get("k000"); // one key read all the time is never the least recently used
    evictor.performEvictions();
  }
  assert.ok(db.has("k000"));
  assert.equal(db.size, 20);
  assert.ok(db.has("k199") && db.has("k181") && !db.has("k180"));
});

Deno.test("volatile-lru evicts only keys with a TTL, and gives up when none is left", () => {
  const { db, limit } = filled(10, 4, 2); // k000, k002, ... have a TTL
  const evictor = new Evictor([db], { maxmemory: limit, policy: "volatile-lru" });
  assert.equal(evictor.performEvictions(), false, "five keys without a TTL do not fit in four");
  assert.equal(db.expiringCount, 0);
  assert.deepEqual([...db.keys()].sort(), ["k001", "k003", "k005", "k007", "k009"]);
});

Deno.test("volatile-lru takes the least recently used of the keys with a TTL", () => {
  const { db, perKey } = filled(6, 0, 2); // TTL on k000, k002, k004
  const evictor = new Evictor([db], {
    maxmemory: db.usedMemory - perKey - EXPIRY_BYTES,
    policy: "volatile-lru",
  });
  db.get("k000");
  assert.equal(evictor.performEvictions(), true);
  assert.deepEqual([...db.keys()].sort(), ["k000", "k001", "k003", "k004", "k005"]);
});

Deno.test("allkeys-random evicts keys spread over the keyspace, not just the oldest", () => {
  const { db, limit } = filled(1000, 500);
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const evictor = new Evictor([db], { maxmemory: limit, policy: "allkeys-random", random });
  assert.equal(db.trackAccess, false);
  assert.equal(evictor.performEvictions(), true);
  assert.ok(db.usedMemory <= limit);
  const left = [...db.keys()];
  const oldHalf = left.filter((k) => Number(k.slice(1)) < 500).length;
  assert.ok(oldHalf > 100 && oldHalf < 400, `${oldHalf} of the 500 oldest keys remain`);
});

Deno.test("an expired key met by eviction counts as expired, not evicted", () => {
  const { clock, db, limit } = filled(10, 9, 1);
  clock.advance(60_000);
  const evictor = new Evictor([db], { maxmemory: limit, policy: "volatile-random" });
  assert.equal(evictor.performEvictions(), true);
  assert.equal(db.evictedKeys, 0);
  assert.ok(db.expiredKeys >= 1);
});

Deno.test("the limit is on every database together, and each gives up keys in turn", () => {
  const { clock, db, perKey } = filled(6, 0);
  const other = new ExpiringKeyspace(clock);
  for (let i = 0; i < 6; i++) other.set(`o${i}`, "v".repeat(40));
  const evictor = new Evictor([db, other], { maxmemory: 6 * perKey, policy: "allkeys-lru" });
  assert.equal(evictor.overLimit, true, "each database fits; both together do not");
  assert.equal(evictor.performEvictions(), true);
  assert.equal(db.usedMemory + other.usedMemory <= 6 * perKey, true);
  assert.deepEqual([db.size, other.size], [3, 3], "the oldest of each, in turn");
  assert.deepEqual([...other.keys()], ["o3", "o4", "o5"]);
});
