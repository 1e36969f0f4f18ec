/**
 * Real clients speaking the TTL commands to lab 4: `redis-cli`, ioredis and redis-py. Each test runs against
 * lab 4 and then, unchanged, against a real `redis-server`: what the tools print and return must be
 * the same for both.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ReplyError } from "ioredis";
import { withIoredis } from "../../shared/testing/ioredis.ts";
import { startLabServer } from "../../shared/testing/processes.ts";
import { findRedisPy, interopTargets, redisCli, redisPy } from "../../shared/testing/programs.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, lab4Args } from "./test_support.ts";

/** Registers one test against lab 4 and one against a real redis-server (see `interopTargets`). */
const testEachTarget = interopTargets({
  name: "lab 4",
  start: () => startLabServer(LAB4_ENTRY, { args: lab4Args(), denoFlags: [...LAB4_DENO_FLAGS] }),
});

testEachTarget("redis-cli sets and reads TTLs", ["redis-cli"], async (_t, s) => {
  assert.equal(await redisCli(s, ["SET", "session", "abc", "EX", "100"]), "OK\n");
  assert.equal(await redisCli(s, ["TTL", "session"]), "100\n");
  assert.equal(await redisCli(s, ["--no-raw", "TTL", "session"]), "(integer) 100\n");
  assert.equal(await redisCli(s, ["EXPIRE", "session", "50", "GT"]), "0\n");
  assert.equal(await redisCli(s, ["EXPIRE", "session", "200", "GT"]), "1\n");
  assert.equal(await redisCli(s, ["PERSIST", "session"]), "1\n");
  assert.equal(await redisCli(s, ["--no-raw", "TTL", "session"]), "(integer) -1\n");
  assert.equal(await redisCli(s, ["--no-raw", "TTL", "nothing"]), "(integer) -2\n");
  assert.equal(await redisCli(s, ["SETEX", "short", "100", "v"]), "OK\n");
  assert.equal(await redisCli(s, ["PEXPIRE", "short", "-1"]), "1\n");
  assert.equal(await redisCli(s, ["--no-raw", "GET", "short"]), "(nil)\n");
  assert.equal(
    await redisCli(s, ["--no-raw", "SET", "k", "v", "EX", "0"]),
    "(error) ERR invalid expire time in 'set' command\n",
  );
  assert.equal(
    await redisCli(s, ["--no-raw", "EXPIRE", "k", "10", "NX", "XX"]),
    "(error) ERR NX and XX, GT or LT options at the same time are not compatible\n",
  );
});

testEachTarget("ioredis speaks every TTL command", [], async (_t, s) => {
  await withIoredis(s, 1, async (redis) => {
    assert.equal(await redis.set("a", "1", "EX", 100), "OK");
    assert.equal(await redis.ttl("a"), 100);
    const pttl = await redis.pttl("a");
    assert.ok(pttl > 95_000 && pttl <= 100_000, `pttl ${pttl}`);
    assert.equal(await redis.set("a", "2", "KEEPTTL"), "OK");
    assert.equal(await redis.ttl("a"), 100);
    assert.equal(await redis.set("a", "3", "PX", 50_000, "GET"), "2");
    assert.equal(await redis.ttl("a"), 50);
    assert.equal(await redis.setex("b", 100, "v"), "OK");
    assert.equal(await redis.psetex("c", 100_000, "v"), "OK");
    assert.deepEqual(await Promise.all([redis.ttl("b"), redis.ttl("c")]), [100, 100]);
    assert.equal(await redis.expire("b", 10, "LT"), 1);
    assert.equal(await redis.pexpire("b", 100, "NX"), 0);
    const at = Date.now() + 100_000;
    assert.equal(await redis.pexpireat("c", at), 1);
    assert.equal(await redis.pexpiretime("c"), at);
    assert.equal(await redis.expireat("c", Math.floor(at / 1000)), 1);
    assert.equal(await redis.expiretime("c"), Math.floor(at / 1000));
    assert.equal(await redis.getex("c", "PERSIST"), "v");
    assert.equal(await redis.ttl("c"), -1);
    assert.equal(await redis.persist("c"), 0);
    assert.equal(await redis.expire("c", -1), 1);
    assert.equal(await redis.exists("c"), 0);
    await assert.rejects(
      redis.set("d", "v", "EX", 0),
      (e: unknown) =>
        e instanceof ReplyError &&
        (e as Error).message === "ERR invalid expire time in 'set' command",
    );
  });
});

testEachTarget("ioredis sees a key expire: a short PX, then the key is gone", [], async (_t, s) => {
  await withIoredis(s, 1, async (redis) => {
    assert.equal(await redis.set("blink", "v", "PX", 100), "OK");
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(await redis.get("blink"), null);
    assert.equal(await redis.ttl("blink"), -2);
  });
});

/** A Python with redis-py, or `null`: its test is then listed as skipped. */
const REDIS_PY = findRedisPy();

/** A Python application's session cache in database 1: TTLs set, read, extended, removed. */
const REDIS_PY_SCRIPT = `
import json, sys
import redis

r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), db=1, socket_timeout=10)
r.flushdb()
r.set("session:1", "ada", ex=100)
r.setex("session:2", 200, "grace")
r.set("forever", "x")
ttls = [r.ttl("session:1"), r.ttl("session:2"), r.ttl("forever"), r.ttl("missing")]
r.expire("session:1", 500, gt=True)
r.persist("session:2")
print(json.dumps({
    "ttls": ttls,
    "after": [r.ttl("session:1"), r.ttl("session:2")],
    "scanned": sorted(key.decode() for key in r.scan_iter(match="session:*")),
    "keyspace": r.info("keyspace")["db1"]["expires"],
    "flushed": r.flushdb(),
}))
`;

testEachTarget(
  "redis-py sets, reads and changes TTLs in database 1",
  [{ name: "redis-py", installed: REDIS_PY !== null }],
  async (_t, s) => {
    assert.deepEqual(await redisPy(REDIS_PY ?? "", s, REDIS_PY_SCRIPT), {
      ttls: [100, 200, -1, -2],
      after: [500, -1],
      scanned: ["session:1", "session:2"],
      keyspace: 1,
      flushed: true,
    });
  },
);
