import assert from "node:assert/strict";
import { RequestDecoder } from "../labs/02-threaded/request_decoder.ts";
import { Batches, formatMix, parseMix } from "./workload.ts";

Deno.test("parseMix() reads weights and defaults a missing weight to 1", () => {
  assert.deepEqual(parseMix("set:80, GET:20,ping"), [
    { command: "set", weight: 80 },
    { command: "get", weight: 20 },
    { command: "ping", weight: 1 },
  ]);
  assert.equal(formatMix(parseMix("set,get:3")), "set:1,get:3");
});

Deno.test("parseMix() rejects an unknown command and a bad weight", () => {
  assert.throws(() => parseMix("flushall"), SyntaxError);
  assert.throws(() => parseMix("set:0"), SyntaxError);
  assert.throws(() => parseMix("set:x"), SyntaxError);
  assert.throws(() => parseMix("set:1:2"), SyntaxError);
});

/** Decodes a batch's bytes with the server's own decoder. */
function decode(bytes: Uint8Array): string[][] {
  const decoder = new RequestDecoder();
  decoder.push(bytes);
  const commands: string[][] = [];
  for (let c = decoder.next(); c !== null; c = decoder.next()) commands.push(c);
  return commands;
}

Deno.test("Batches encode whole commands that the server's decoder reads back", () => {
  const batches = new Batches({
    mix: parseMix("set,get,incr,ping"),
    pipeline: 16,
    keyspace: 100,
    valueSize: 5,
  });
  assert.equal(batches.count, 64, "1024 commands at the least, in batches of 16");
  const commands = decode(batches.full(3));
  assert.equal(commands.length, 16);
  for (const c of commands) {
    switch (c[0]) {
      case "SET":
        assert.match(c[1], /^key:0000000000\d\d$/);
        assert.equal(c[2], "xxxxx");
        break;
      case "GET":
        assert.match(c[1], /^key:0000000000\d\d$/);
        break;
      case "INCR":
        assert.match(c[1], /^counter:0000000000\d\d$/);
        break;
      default:
        assert.deepEqual(c, ["PING"]);
    }
  }
  assert.equal(decode(batches.prefix(3, 5)).length, 5);
  assert.deepEqual(decode(batches.prefix(3, 5)), commands.slice(0, 5));
  assert.deepEqual(batches.full(batches.count + 3), batches.full(3), "indexes wrap around");
});

Deno.test("Batches are the same for the same seed", () => {
  const options = { mix: parseMix("set,get"), pipeline: 4, keyspace: 5000, valueSize: 8 };
  assert.deepEqual(new Batches(options).full(7), new Batches(options).full(7));
  assert.notDeepEqual(new Batches(options).full(7), new Batches({ ...options, seed: 2 }).full(7));
});
