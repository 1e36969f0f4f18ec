import assert from "node:assert/strict";
import { Fifo } from "./fifo.ts";

Deno.test("Fifo returns items in the order they were pushed", () => {
  const queue = new Fifo<number>();
  for (let i = 0; i < 3; i++) queue.push(i);
  assert.equal(queue.length, 3);
  assert.deepEqual([queue.shift(), queue.shift(), queue.shift(), queue.shift()], [
    0,
    1,
    2,
    undefined,
  ]);
  assert.equal(queue.length, 0);
});

Deno.test("Fifo keeps its order across compactions while pushes and shifts interleave", () => {
  const queue = new Fifo<number>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 300; i++) queue.push(next++);
    for (let i = 0; i < 200; i++) assert.equal(queue.shift(), expected++);
  }
  assert.equal(queue.length, next - expected);
  assert.deepEqual(queue.drain(), Array.from({ length: next - expected }, (_, i) => expected + i));
  assert.equal(queue.length, 0);
});
