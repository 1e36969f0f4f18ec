/**
 * Unit tests of lab 2's building blocks: exact 64-bit integers, the table of watches, sizes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseSize } from "./cli.ts";
import { addInt64, INT64_MAX, INT64_MIN, parseInt64 } from "./integers.ts";
import { Keyspace } from "../../shared/keyspace.ts";
import { Watches } from "./watches.ts";

Deno.test("parseInt64() accepts what Redis's string2ll accepts, small values as numbers", () => {
  assert.equal(parseInt64("0"), 0);
  assert.equal(parseInt64("-42"), -42);
  assert.equal(parseInt64("9223372036854775807"), INT64_MAX);
  assert.equal(parseInt64("-9223372036854775808"), INT64_MIN);
});

Deno.test("parseInt64() refuses leading zeros, signs, spaces and out-of-range values", () => {
  for (
    const text of ["", "-", "+1", "01", "-0", " 1", "1 ", "1e3", "0x10", "9223372036854775808"]
  ) {
    assert.equal(parseInt64(text), null, JSON.stringify(text));
  }
});

Deno.test("addInt64() is exact past 2^53 and reports overflow at the 64-bit edges", () => {
  assert.equal(addInt64(1, 2), 3);
  assert.equal(addInt64(9007199254740992n, 1), 9007199254740993n);
  assert.equal(addInt64(INT64_MAX, -1), INT64_MAX - 1n);
  assert.equal(addInt64(INT64_MAX, 1), null);
  assert.equal(addInt64(INT64_MIN, -1), null);
  assert.equal(addInt64(INT64_MAX, INT64_MIN), -1);
});

/** A keyspace and a table of watches on it, as the transactions stage sets them up. */
function watched(): { db: Keyspace; watches: Watches } {
  const db = new Keyspace();
  const watches = new Watches(db);
  return { db, watches };
}

Deno.test("Watches marks a watcher dirty on set, on deleting an existing key, on clear", () => {
  const { db, watches } = watched();
  const w = { dirty: false };
  watches.watch("k", w);
  db.delete("k");
  assert.equal(w.dirty, false, "deleting a missing key modifies nothing");
  db.clear();
  assert.equal(w.dirty, false, "emptying a keyspace without the key modifies nothing");
  db.set("other", "v");
  assert.equal(w.dirty, false, "another key's write is not ours");
  db.set("k", "v");
  assert.equal(w.dirty, true);
  w.dirty = false;
  db.set("k", "v");
  assert.equal(w.dirty, true, "a write of the same value still counts");
  for (const change of [() => db.delete("k"), () => db.clear()]) {
    db.set("k", "v");
    w.dirty = false;
    change();
    assert.equal(w.dirty, true);
  }
});

Deno.test("Watches forgets a key once its last watcher leaves", () => {
  const { db, watches } = watched();
  const [a, b] = [{ dirty: false }, { dirty: false }];
  watches.watch("k", a);
  watches.watch("k", b);
  watches.unwatch("k", a);
  assert.equal(watches.watchedKeys, 1);
  db.set("k", "v");
  assert.deepEqual([a.dirty, b.dirty], [false, true]);
  watches.unwatch("k", b);
  assert.equal(watches.watchedKeys, 0);
});

Deno.test("Keyspace.observe() returns a function that stops the observer hearing changes", () => {
  const db = new Keyspace();
  const seen: (string | null)[] = [];
  const stop = db.observe({ changing: (key) => seen.push(key) });
  db.set("a", "1");
  db.delete("missing");
  db.delete("a");
  db.clear();
  stop();
  db.set("b", "2");
  assert.deepEqual(seen, ["a", "a", null]);
});

Deno.test("parseSize() reads Redis's memory units", () => {
  assert.equal(parseSize("1048576"), 1048576);
  assert.equal(parseSize("64kb"), 65536);
  assert.equal(parseSize("1k"), 1000);
  assert.equal(parseSize("2MB"), 2 * 1024 * 1024);
  assert.equal(parseSize("lots"), null);
  assert.equal(parseSize("1tb"), null);
});

Deno.test("Watches observes the keyspace only from the first WATCH, and only once", () => {
  const { db, watches } = watched();
  const w = { dirty: false };
  db.set("k", "v");
  watches.watch("k", w);
  watches.watch("k", w);
  let told = 0;
  db.observe({ changing: () => told++ });
  db.set("k", "v2");
  assert.equal(w.dirty, true);
  assert.equal(told, 1);
});
