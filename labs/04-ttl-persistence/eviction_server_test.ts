/**
 * Eviction end to end: lab 4's server started with a small `--maxmemory` and each policy, written
 * to over TCP, and read back through `INFO` and `DBSIZE`.
 *
 * `used_memory` is the keyspace's estimate of its data (see `keyspace.ts`), checked before every
 * write as Redis's `performEvictions()` does. So after a write the data may exceed the limit by
 * that one write, never more: the bound the first test checks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorReply, SimpleString } from "../../shared/resp/reply.ts";
import {
  freePort,
  hasProgram,
  startLabServer,
  startRedisServer,
} from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { command } from "../01-single-client/suite.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, lab4Args } from "./test_support.ts";

const OOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
const VALUE = "v".repeat(1000);
/** What one key of this test costs, generously: the value, the key, the headers. */
const ONE_WRITE = 1200;

function startLab4(maxmemory: string, policy: string) {
  return startLabServer(LAB4_ENTRY, {
    args: lab4Args("--maxmemory", maxmemory, "--maxmemory-policy", policy),
    denoFlags: [...LAB4_DENO_FLAGS],
  });
}

/** One field of `INFO`, as a number. */
async function infoField(c: RawClient, section: string, field: string): Promise<number> {
  const info = await c.call("INFO", section) as string;
  const found = info.match(new RegExp(`\\r\\n${field}:(\\d+)\\r\\n`));
  assert.ok(found, `INFO ${section} has ${field}: ${info}`);
  return Number(found[1]);
}

/** Sends `count` SETs in one pipelined write and returns the replies, in order. */
async function setMany(
  c: RawClient,
  keys: (i: number) => string,
  count: number,
  extra: string[] = [],
): Promise<string[]> {
  let batch = "";
  for (let i = 0; i < count; i++) batch += command("SET", keys(i), VALUE, ...extra);
  await c.send(batch);
  const replies: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await c.readReply();
    if (reply instanceof SimpleString) replies.push(reply.value);
    else if (reply instanceof ErrorReply) replies.push(`-${reply.message}`);
    else assert.fail(`SET replies with a status or an error, got ${String(reply)}`);
  }
  return replies;
}

Deno.test("allkeys-lru: a server with a small --maxmemory stays under it while written to", async () => {
  await using server = await startLab4("256kb", "allkeys-lru");
  await using c = await RawClient.connect(server.addr);
  assert.deepEqual(await c.call("CONFIG", "GET", "maxmemory"), ["maxmemory", "262144"]);
  for (let round = 0; round < 4; round++) {
    const replies = await setMany(c, (i) => `key:${round}:${i}`, 500);
    assert.ok(replies.every((r) => r === "OK"), "every write succeeds: old keys make room");
    const used = await infoField(c, "memory", "used_memory");
    assert.ok(used <= 262144 + ONE_WRITE, `used_memory ${used} stays under maxmemory 262144`);
  }
  const keys = await c.call("DBSIZE") as number;
  assert.ok(keys > 100 && keys < 262144 / 1000, `DBSIZE ${keys}: what fits, no more`);
  assert.ok(await infoField(c, "stats", "evicted_keys") >= 2000 - keys);
  assert.match(await c.call("INFO", "memory") as string, /\r\nmaxmemory_policy:allkeys-lru\r\n/);
});

Deno.test("allkeys-lru keeps the keys that are read and evicts the ones nobody reads", async () => {
  await using server = await startLab4("128kb", "allkeys-lru");
  await using c = await RawClient.connect(server.addr);
  await setMany(c, (i) => `hot:${i}`, 10);
  for (let round = 0; round < 10; round++) {
    await setMany(c, (i) => `cold:${round}:${i}`, 50);
    // Reading the hot keys makes them the most recently used again.
    for (let i = 0; i < 10; i++) assert.equal(await c.call("GET", `hot:${i}`), VALUE);
  }
  assert.equal(await c.call("EXISTS", "cold:0:0", "cold:0:1"), 0, "early cold keys are gone");
  assert.ok(await infoField(c, "stats", "evicted_keys") > 0);
});

Deno.test("noeviction: past maxmemory, writes that add data get Redis's OOM error", async () => {
  await using server = await startLab4("64kb", "noeviction");
  await using c = await RawClient.connect(server.addr);
  const replies = await setMany(c, (i) => `k:${i}`, 100);
  const firstOom = replies.indexOf(OOM.slice(0, -2));
  assert.ok(firstOom > 10 && firstOom < 100, `writes succeed until the limit (${firstOom})`);
  assert.ok(replies.slice(firstOom).every((r) => r === OOM.slice(0, -2)), "then all fail");
  await c.send(command("SET", "more", "x") + command("APPEND", "k:0", "x"));
  await c.expect(OOM + OOM);
  await c.send(command("GET", "k:0") + command("EXPIRE", "k:0", "100"));
  await c.expect(`$1000\r\n${VALUE}\r\n:1\r\n`);
  // Deleting frees room: writes work again.
  let del = `*${firstOom + 1}\r\n$3\r\nDEL\r\n`;
  for (let i = 0; i < firstOom; i++) del += `$${`k:${i}`.length}\r\nk:${i}\r\n`;
  await c.send(del);
  await c.expect(`:${firstOom}\r\n`);
  await c.send(command("SET", "more", "x"));
  await c.expect("+OK\r\n");
  assert.equal(await infoField(c, "stats", "evicted_keys"), 0);
});

Deno.test("volatile-lru evicts only keys with a TTL, then refuses writes", async () => {
  await using server = await startLab4("64kb", "volatile-lru");
  await using c = await RawClient.connect(server.addr);
  assert.ok((await setMany(c, (i) => `keep:${i}`, 20)).every((r) => r === "OK"));
  const volatile = await setMany(c, (i) => `ttl:${i}`, 200, ["EX", "1000"]);
  assert.ok(volatile.every((r) => r === "OK"), "keys with a TTL make room for each other");
  assert.equal(await c.call("EXISTS", ...Array.from({ length: 20 }, (_, i) => `keep:${i}`)), 20);
  assert.ok(await infoField(c, "stats", "evicted_keys") > 0);
  // Keys without a TTL cannot be evicted: once they alone fill the memory, writes fail.
  const plain = await setMany(c, (i) => `plain:${i}`, 100);
  assert.ok(plain.includes(OOM.slice(0, -2)), "past the limit with nothing volatile left: OOM");
  assert.equal(await c.call("EXISTS", ...Array.from({ length: 20 }, (_, i) => `keep:${i}`)), 20);
});

Deno.test("allkeys-random evicts and stays under the limit", async () => {
  await using server = await startLab4("128kb", "allkeys-random");
  await using c = await RawClient.connect(server.addr);
  const replies = await setMany(c, (i) => `r:${i}`, 1000);
  assert.ok(replies.every((r) => r === "OK"));
  const used = await infoField(c, "memory", "used_memory");
  assert.ok(used <= 131072 + ONE_WRITE, `used_memory ${used}`);
  // Oldest-first would keep exactly the last ~110 keys written. A random pick keeps some older
  // ones: a key 200 writes old survives with odds of about e^-2, so ~18 of the first 800 remain.
  let older = 0;
  for (let i = 0; i < 800; i++) older += await c.call("EXISTS", `r:${i}`) as number;
  assert.ok(older > 0, "some keys older than the last few hundred remain");
});

Deno.test({
  name: `real Redis: noeviction's error is the one lab 4 sends${
    hasProgram("redis-server") ? "" : " (skipped: redis-server is not installed)"
  }`,
  ignore: !hasProgram("redis-server"),
  fn: async () => {
    // A limit of one byte: Redis's own memory is already past it, so any write is refused.
    await using redis = await startRedisServer(["--maxmemory", "1"]);
    if (redis === null) throw new Error("redis-server disappeared");
    await using c = await RawClient.connect(redis.addr);
    await c.send(command("SET", "k", "v") + command("GET", "k") + command("DEL", "k"));
    await c.expect(OOM + "$-1\r\n:0\r\n");
  },
});

Deno.test("memcached writes obey --maxmemory too: noeviction answers SERVER_ERROR out of memory", async () => {
  const memcachePort = freePort();
  await using server = await startLabServer(LAB4_ENTRY, {
    args: lab4Args(
      "--maxmemory",
      "64kb",
      "--maxmemory-policy",
      "noeviction",
      "--memcache-port",
      String(memcachePort),
    ),
    denoFlags: [...LAB4_DENO_FLAGS],
  });
  await using mc = await RawClient.connect(`127.0.0.1:${memcachePort}`);
  // Far more than 64 KiB of 1000-byte values: the writes succeed until the bound, then fail.
  let stored = 0;
  for (let i = 0; i < 200; i++) {
    await mc.send(`set mc:${i} 0 0 ${VALUE.length}\r\n${VALUE}\r\n`);
    const line = await mc.readLine();
    if (line === "STORED") {
      stored++;
      continue;
    }
    assert.equal(line, "SERVER_ERROR out of memory storing object");
    break;
  }
  assert.ok(stored > 10 && stored < 200, `stored ${stored} values before refusing`);
  await using resp = await RawClient.connect(server.addr);
  assert.ok(await infoField(resp, "memory", "used_memory") <= 64 * 1024 + ONE_WRITE);
});

Deno.test("CONFIG SET maxmemory changes the limit at runtime when the server started with one", async () => {
  await using server = await startLab4("256kb", "allkeys-lru");
  await using c = await RawClient.connect(server.addr);
  await setMany(c, (i) => `key:${i}`, 500);
  const before = await c.call("DBSIZE") as number;
  assert.deepEqual(await c.call("CONFIG", "SET", "maxmemory", "64kb"), new SimpleString("OK"));
  assert.deepEqual(await c.call("CONFIG", "GET", "maxmemory"), ["maxmemory", "65536"]);
  // The next write evicts down to the new limit.
  await setMany(c, (i) => `more:${i}`, 1);
  const after = await c.call("DBSIZE") as number;
  assert.ok(after < before / 2, `DBSIZE ${before} -> ${after}: evicted down to 64kb`);
  assert.ok(await infoField(c, "memory", "used_memory") <= 65536 + ONE_WRITE);
});

Deno.test("CONFIG SET maxmemory is refused by a server started without a limit", async () => {
  await using server = await startLab4("0", "noeviction");
  await using c = await RawClient.connect(server.addr);
  const reply = await c.call("CONFIG", "SET", "maxmemory", "1mb");
  assert.ok(reply instanceof ErrorReply && /started without --maxmemory/.test(reply.message));
  assert.deepEqual(await c.call("CONFIG", "SET", "maxmemory", "0"), new SimpleString("OK"));
});
