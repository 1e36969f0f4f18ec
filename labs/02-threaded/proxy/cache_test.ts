/**
 * Unit tests of the proxy's cache: LRU order, the byte bound, the maximum age, on a clock moved by
 * hand.
 *
 * @module
 */

import assert from "node:assert/strict";
import { entrySize, LruCache } from "./cache.ts";

/** A cache whose clock the test moves. */
function cacheWith(options: { maxEntries?: number; maxBytes?: number; maxAgeMs?: number } = {}) {
  const clock = { time: 0 };
  const cache = new LruCache({
    maxEntries: options.maxEntries ?? 100,
    maxBytes: options.maxBytes ?? 1_000_000,
    maxAgeMs: options.maxAgeMs ?? 1000,
    now: () => clock.time,
  });
  return { cache, clock };
}

Deno.test("LruCache returns what was stored, and a cached nil as a hit with value null", () => {
  const { cache } = cacheWith();
  cache.set("k", "v");
  cache.set("missing", null);
  assert.deepEqual(cache.get("k"), { value: "v" });
  assert.deepEqual(cache.get("missing"), { value: null });
  assert.equal(cache.get("never"), undefined);
});

Deno.test("LruCache evicts the least recently used entry; a hit makes an entry recent", () => {
  const { cache } = cacheWith({ maxEntries: 3 });
  cache.set("a", "1");
  cache.set("b", "2");
  cache.set("c", "3");
  assert.ok(cache.get("a")); // a is now the most recent; b is the least
  cache.set("d", "4");
  assert.equal(cache.get("b"), undefined);
  for (const key of ["a", "c", "d"]) assert.ok(cache.get(key), `${key} is still cached`);
  assert.equal(cache.size, 3);
  assert.equal(cache.stats.evictions, 1);
});

Deno.test("LruCache keeps the bytes of keys and values under maxBytes", () => {
  const { cache } = cacheWith({ maxBytes: 10 });
  cache.set("a", "1234"); // 5 bytes
  cache.set("b", "1234"); // 10 bytes in all: fits exactly
  assert.equal(cache.bytes, 10);
  cache.set("c", "12"); // 13 bytes: a goes
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.bytes, 8);
  assert.equal(cache.stats.evictions, 1);
});

Deno.test("LruCache does not store a value bigger than maxBytes, and drops the old one", () => {
  const { cache } = cacheWith({ maxBytes: 10 });
  cache.set("k", "small");
  cache.set("other", "1");
  cache.set("k", "x".repeat(10)); // 11 bytes with its key
  assert.equal(cache.get("k"), undefined);
  assert.deepEqual(cache.get("other"), { value: "1" }, "nothing else was evicted for it");
  assert.equal(cache.bytes, entrySize("other", "1"));
});

Deno.test("LruCache serves an entry younger than maxAgeMs and never an older one", () => {
  const { cache, clock } = cacheWith({ maxAgeMs: 1000 });
  cache.set("k", "v");
  clock.time = 999;
  assert.deepEqual(cache.get("k"), { value: "v" });
  clock.time = 1000;
  assert.equal(cache.get("k"), undefined);
  assert.equal(cache.stats.expirations, 1);
  assert.equal(cache.size, 0);
});

Deno.test("LruCache: a hit does not make an entry younger; storing again does", () => {
  const { cache, clock } = cacheWith({ maxAgeMs: 1000 });
  cache.set("read", "v");
  cache.set("rewritten", "v");
  clock.time = 600;
  assert.ok(cache.get("read"));
  cache.set("rewritten", "v2");
  clock.time = 1200;
  assert.equal(cache.get("read"), undefined, "its age counts from when it was stored");
  assert.deepEqual(cache.get("rewritten"), { value: "v2" });
});

Deno.test("LruCache.purgeExpired() drops only old entries and counts them", () => {
  const { cache, clock } = cacheWith({ maxAgeMs: 1000 });
  cache.set("old1", "v");
  cache.set("old2", "v");
  clock.time = 500;
  cache.set("young", "v");
  clock.time = 1000;
  cache.purgeExpired();
  assert.equal(cache.size, 1);
  assert.equal(cache.bytes, entrySize("young", "v"));
  assert.equal(cache.stats.expirations, 2);
});

Deno.test("LruCache.delete() and clear() forget entries and their bytes", () => {
  const { cache } = cacheWith();
  cache.set("a", "1");
  cache.set("b", "2");
  assert.equal(cache.delete("a"), true);
  assert.equal(cache.delete("a"), false);
  assert.equal(cache.bytes, 2);
  cache.clear();
  assert.equal(cache.size, 0);
  assert.equal(cache.bytes, 0);
  assert.equal(cache.get("b"), undefined);
});

Deno.test("LruCache with maxEntries 0 caches nothing", () => {
  const { cache } = cacheWith({ maxEntries: 0 });
  cache.set("k", "v");
  assert.equal(cache.get("k"), undefined);
  assert.equal(cache.stats.evictions, 0);
});

Deno.test("LruCache keys and values are byte strings: binary bytes are kept and counted", () => {
  const { cache } = cacheWith();
  const key = "k\r\n\x00\xff";
  const value = "\x00\x80\xfe\r\n";
  cache.set(key, value);
  assert.deepEqual(cache.get(key), { value });
  assert.equal(cache.bytes, 10);
});
