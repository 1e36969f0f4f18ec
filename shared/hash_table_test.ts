/**
 * Unit tests of the keyspace's hash table (`hash_table.ts`): a `Map` is the specification, so most
 * of these run the same random operations on both, iterators included, and compare every answer.
 *
 * @module
 */

import assert from "node:assert/strict";
import { hashOf, HashTable, MAX_CHAIN } from "./hash_table.ts";
import { SeededRandom } from "./testing/random.ts";

Deno.test("HashTable: get, set, has, delete and size, as a Map's", () => {
  const table = new HashTable<string>();
  assert.equal(table.set("a", "1"), table);
  table.set("b", "2").set("a", "3");
  assert.equal(table.size, 2);
  assert.equal(table.get("a"), "3");
  assert.equal(table.get("c"), undefined);
  assert.equal(table.has("b"), true);
  assert.equal(table.delete("b"), true);
  assert.equal(table.delete("b"), false);
  assert.equal(table.has("b"), false);
  assert.deepEqual([...table.keys()], ["a"]);
});

Deno.test("HashTable: keys are byte strings compared by content, the empty one and NUL included", () => {
  const table = new HashTable<number>();
  const keys = ["", "\0", "\0\0", "a\0b", "\xff\xfe", "k".repeat(100_000)];
  keys.forEach((key, i) => table.set(key, i));
  // The same contents built another way: a different string object, the same key.
  keys.forEach((key, i) => assert.equal(table.get(key.split("").join("")), i));
  assert.equal(table.size, keys.length);
});

Deno.test("HashTable: order is insertion order; a new value keeps its place; moveToEnd moves", () => {
  const table = new HashTable<number>();
  for (const key of ["a", "b", "c", "d"]) table.set(key, 0);
  table.set("b", 1);
  assert.deepEqual([...table.keys()], ["a", "b", "c", "d"]);
  assert.equal(table.moveToEnd("a"), true);
  assert.equal(table.moveToEnd("zz"), false);
  table.delete("c");
  table.set("c", 2);
  assert.deepEqual([...table.keys()], ["b", "d", "a", "c"]);
  assert.equal(table.get("b"), 1);
});

/** The operations the random runs pick from, with their weights. */
const OPS = ["set", "set", "set", "get", "delete", "delete", "move", "next", "next", "drop"];

/**
 * Runs the same random operations on a Map and a HashTable, with up to three live iterators on
 * each, and compares every answer: the table must behave as a Map does, growth, shrinking and
 * squeezing out holes under running iterators included.
 */
function differential(seed: number, steps: number, keyCount: number, clearEvery: number): void {
  const random = new SeededRandom(seed);
  const map = new Map<string, number>();
  // Each entry weighs its key's length plus its value, so a weight is wrong if any update is lost.
  const table = new HashTable<number>({ weigh: (key, value) => key.length + value });
  const weightOfMap = () => [...map].reduce((sum, [key, value]) => sum + key.length + value, 0);
  const iterators: [Iterator<string>, Iterator<string>][] = [];
  for (let step = 0; step < steps; step++) {
    const key = `k${random.below(keyCount)}`;
    const op = random.pick(OPS);
    const where = `seed ${seed}, step ${step}, ${op} ${key}`;
    if (op === "set") {
      map.set(key, step);
      table.set(key, step);
    } else if (op === "get") {
      assert.equal(table.get(key), map.get(key), where);
      assert.equal(table.has(key), map.has(key), where);
    } else if (op === "delete") {
      assert.equal(table.delete(key), map.delete(key), where);
    } else if (op === "move") {
      const value = map.get(key);
      if (value !== undefined) {
        map.delete(key);
        map.set(key, value);
      }
      assert.equal(table.moveToEnd(key), value !== undefined, where);
    } else if (op === "next") {
      if (iterators.length < 3 && random.chance(0.3)) iterators.push([map.keys(), table.keys()]);
      for (const [fromMap, fromTable] of iterators) {
        assert.deepEqual(fromTable.next(), fromMap.next(), where);
      }
    } else if (iterators.length > 0) {
      // Dropped without a word, or closed as for...of closes it on break.
      const [, fromTable] = iterators.splice(random.below(iterators.length), 1)[0];
      if (random.chance(0.5)) fromTable.return?.();
    }
    if (clearEvery > 0 && step % clearEvery === clearEvery - 1) {
      map.clear();
      table.clear();
    }
    assert.equal(table.size, map.size, where);
    if (step % 100 === 0) assert.equal(table.weight, weightOfMap(), where);
  }
  const contents = [...table.keys()].map((key) => [key, table.get(key)]);
  assert.deepEqual(contents, [...map.entries()], `seed ${seed}: final contents`);
  assert.equal(table.weight, weightOfMap(), `seed ${seed}: final weight`);
}

Deno.test("HashTable: random operations with live iterators answer exactly as a Map", () => {
  for (let seed = 1; seed <= 40; seed++) differential(seed, 4_000, 1 + (seed * 37) % 300, 0);
});

Deno.test("HashTable: the same with clear() between, iterators running through it", () => {
  for (let seed = 41; seed <= 60; seed++) differential(seed, 3_000, 200, 700);
});

Deno.test("HashTable: a key moved to the end under an iterator is met again, as in a Map", () => {
  const table = new HashTable<number>();
  for (let i = 0; i < 5; i++) table.set(`k${i}`, i);
  const seen: string[] = [];
  for (const key of table.keys()) {
    seen.push(key);
    if (seen.length <= 2) table.moveToEnd(key);
  }
  assert.deepEqual(seen, ["k0", "k1", "k2", "k3", "k4", "k0", "k1"]);
});

Deno.test("HashTable: iterators stay on their key while a million moves squeeze out holes", () => {
  const table = new HashTable<number>();
  for (let i = 0; i < 1_000; i++) table.set(`k${i}`, i);
  const iterator = table.keys();
  for (let i = 0; i < 500; i++) iterator.next();
  // Each move leaves a hole; the table squeezes them out every few hundred moves.
  for (let n = 0; n < 1_000_000; n++) table.moveToEnd(`k${500 + (n % 100)}`);
  // Keys 600 to 999 were never moved: the iterator meets them next, then the moved ones.
  const rest = [...iterator];
  assert.equal(rest[0], "k600");
  assert.equal(rest.length, 500);
});

Deno.test("HashTable: keys built to share one bucket make it pick a new seed", () => {
  const seed = 12345;
  const table = new HashTable<number>({ seed });
  // Keys whose hash under the known seed ends in seven zero bits: they share bucket 0 at every
  // size the table takes on the way to 128 entries.
  const colliding: string[] = [];
  for (let i = 0; colliding.length < MAX_CHAIN + 10; i++) {
    if ((hashOf(`flood:${i}`, seed) & 127) === 0) colliding.push(`flood:${i}`);
  }
  colliding.forEach((key, i) => table.set(key, i));
  assert.notEqual(table.seed, seed);
  colliding.forEach((key, i) => assert.equal(table.get(key), i));
  assert.deepEqual([...table.keys()], colliding);
});

Deno.test("HashTable: hashOf depends on every byte and on the seed", () => {
  assert.notEqual(hashOf("key:1", 1), hashOf("key:2", 1));
  assert.notEqual(hashOf("key:1", 1), hashOf("key:1", 2));
  assert.notEqual(hashOf("", 1), hashOf("\0", 1));
  assert.equal(hashOf("same", 7), hashOf("same", 7));
});
