/**
 * Real, unmodified clients against lab 2: `redis-cli`, `redis-benchmark` with fifty connections,
 * ioredis, node-redis and redis-py — counters, MSET/MGET, transactions and WATCH, binary values,
 * SCAN, numbered databases, and many clients at once.
 *
 * As in lab 1's interop tests, each test runs against lab 2 and then, unchanged, against a real
 * `redis-server`: that second run shows the expected outputs are Redis's, not ours. Unlike lab 1,
 * clients here overlap on purpose: two connections racing on a WATCHed key, fifty benchmark
 * clients, twenty ioredis connections incrementing one counter.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES, WatchError } from "redis";
import { withIoredis } from "../../shared/testing/ioredis.ts";
import { type RunningServer, startLabServer } from "../../shared/testing/processes.ts";
import {
  findRedisPy,
  interopTargets,
  parseBenchmarkCsv,
  redisCli,
  redisPy,
  runProgram,
} from "../../shared/testing/programs.ts";

const LAB2 = "labs/02-threaded/server.ts";

/** Long enough for a loaded CI machine, short enough that a stuck client fails the test. */
const TIMEOUT_MS = 10_000;

/** Registers one test against lab 2 and one against a real redis-server (see `interopTargets`). */
const testEachTarget = interopTargets({ name: "lab 2", start: () => startLabServer(LAB2) });

const lines = (...text: string[]) => new TextEncoder().encode(text.map((l) => `${l}\n`).join(""));

// ---------------------------------------------------------------------------------------------
// redis-cli and redis-benchmark
// ---------------------------------------------------------------------------------------------

testEachTarget("redis-cli one-shot commands print Redis's replies", ["redis-cli"], async (t, s) => {
  // When stdout is not a terminal, redis-cli prints replies raw: the bytes, then a newline.
  await t.step("INCR, INCRBY, DECR and DECRBY count", async () => {
    assert.equal(await redisCli(s, ["INCR", "visits"]), "1\n");
    assert.equal(await redisCli(s, ["INCRBY", "visits", "41"]), "42\n");
    assert.equal(await redisCli(s, ["DECR", "visits"]), "41\n");
    assert.equal(await redisCli(s, ["DECRBY", "visits", "-9"]), "50\n");
    assert.equal(await redisCli(s, ["--no-raw", "INCR", "visits"]), "(integer) 51\n");
    assert.equal(
      await redisCli(s, ["SET", "visits", "lots"]) + await redisCli(s, ["INCR", "visits"]),
      "OK\nERR value is not an integer or out of range\n\n",
    );
  });

  await t.step("MSET and MGET, with nil for a missing key", async () => {
    assert.equal(await redisCli(s, ["MSET", "a", "1", "b", "two words", "c", ""]), "OK\n");
    assert.equal(await redisCli(s, ["MGET", "a", "b", "c", "nope"]), "1\ntwo words\n\n\n");
    assert.equal(
      await redisCli(s, ["--no-raw", "MGET", "a", "b", "nope"]),
      '1) "1"\n2) "two words"\n3) (nil)\n',
    );
  });

  await t.step("SETNX, SET NX/XX/GET, APPEND, STRLEN, GETDEL", async () => {
    assert.equal(await redisCli(s, ["SETNX", "colour", "red"]), "1\n");
    assert.equal(await redisCli(s, ["SETNX", "colour", "blue"]), "0\n");
    assert.equal(await redisCli(s, ["--no-raw", "SET", "colour", "blue", "NX"]), "(nil)\n");
    assert.equal(await redisCli(s, ["SET", "colour", "green", "XX", "GET"]), "red\n");
    assert.equal(await redisCli(s, ["APPEND", "colour", "ish"]), "8\n");
    assert.equal(await redisCli(s, ["STRLEN", "colour"]), "8\n");
    assert.equal(await redisCli(s, ["GETDEL", "colour"]), "greenish\n");
    assert.equal(await redisCli(s, ["EXISTS", "colour"]), "0\n");
  });

  await t.step("KEYS, DBSIZE and FLUSHDB see the whole keyspace", async () => {
    assert.equal(await redisCli(s, ["FLUSHDB"]), "OK\n");
    assert.equal(await redisCli(s, ["MSET", "user:1", "x", "user:2", "y", "other", "z"]), "OK\n");
    // KEYS has no defined order; compare as sets.
    const keys = (await redisCli(s, ["KEYS", "user:*"])).split("\n").filter((k) => k !== "");
    assert.deepEqual(keys.sort(), ["user:1", "user:2"]);
    assert.equal(await redisCli(s, ["DBSIZE"]), "3\n");
    assert.equal(await redisCli(s, ["FLUSHDB"]), "OK\n");
    assert.equal(await redisCli(s, ["DBSIZE"]), "0\n");
  });
});

testEachTarget("redis-cli runs piped transactions", ["redis-cli"], async (t, s) => {
  await t.step("MULTI queues, EXEC prints each queued command's reply", async () => {
    const out = await redisCli(
      s,
      [],
      lines("SET visits 10", "MULTI", "INCR visits", "INCRBY visits 5", "GET visits", "EXEC"),
    );
    assert.equal(out, "OK\nOK\nQUEUED\nQUEUED\nQUEUED\n11\n16\n16\n");
  });

  await t.step(
    "a WATCHed key changed before EXEC makes EXEC print nil and run nothing",
    async () => {
      const out = await redisCli(
        s,
        [],
        lines("SET balance 10", "WATCH balance", "SET balance 11", "MULTI", "INCR balance", "EXEC"),
      );
      // The empty line is EXEC's *-1 in raw mode: the transaction did not run.
      assert.equal(out, "OK\nOK\nOK\nOK\nQUEUED\n\n");
      assert.equal(await redisCli(s, ["GET", "balance"]), "11\n");
    },
  );

  await t.step("an unknown command while queueing aborts EXEC", async () => {
    const out = await redisCli(s, [], lines("MULTI", "INCR n", "NOPE", "EXEC", "GET n"));
    assert.equal(
      out,
      "OK\nQUEUED\nERR unknown command 'NOPE', with args beginning with: \n\n" +
        "EXECABORT Transaction discarded because of previous errors.\n\n\n",
    );
  });
});

testEachTarget(
  "redis-benchmark with 50 clients completes SET, GET, INCR and MSET",
  ["redis-benchmark", "redis-cli"],
  async (t, s) => {
    await t.step("every test reports results, with no error", async () => {
      // redis-benchmark 7 stops at the first error reply and exits non-zero, so a clean exit
      // means every reply was good. Speed is never asserted.
      const result = await runProgram("redis-benchmark", [
        ...["-h", s.host, "-p", String(s.port)],
        ...["-c", "50", "-n", "2000", "-t", "set,get,incr,mset", "-q", "--csv"],
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
      const rows = parseBenchmarkCsv(new TextDecoder().decode(result.stdout));
      assert.deepEqual(rows.map((r) => r.test), ["SET", "GET", "INCR", "MSET (10 keys)"]);
      for (const row of rows) assert.ok(row.rps > 0, `${row.test} reported ${row.rps} req/s`);
    });

    await t.step("its 2000 INCRs from 50 connections all counted", async () => {
      // Without -r, every INCR hits the one key "counter:__rand_int__".
      assert.equal(await redisCli(s, ["GET", "counter:__rand_int__"]), "2000\n");
    });
  },
);

// ---------------------------------------------------------------------------------------------
// ioredis
// ---------------------------------------------------------------------------------------------

testEachTarget("ioredis works unchanged", [], async (t, s) => {
  await t.step("a pipeline of counters, MSET and MGET gets its replies in order", async () => {
    await withIoredis(s, 1, async (redis) => {
      const results = await redis.pipeline()
        .incr("hits")
        .incrby("hits", 10)
        .decr("hits")
        .mset("x", "1", "y", "2")
        .mget("x", "y", "z")
        .setnx("x", "3")
        .exec();
      assert.deepEqual(results, [
        [null, 1],
        [null, 11],
        [null, 10],
        [null, "OK"],
        [null, ["1", "2", null]],
        [null, 0],
      ]);
    });
  });

  await t.step("multi/exec runs the queued commands together", async () => {
    await withIoredis(s, 1, async (redis) => {
      const results = await redis.multi().set("n", "5").incr("n").get("n").exec();
      assert.deepEqual(results, [[null, "OK"], [null, 6], [null, "6"]]);
    });
  });

  await t.step("WATCH: a write from a second connection makes exec return null", async () => {
    await withIoredis(s, 2, async (a, b) => {
      await a.set("stock", "10");
      assert.equal(await a.watch("stock"), "OK");
      const stock = Number(await a.get("stock"));
      // Between a's read and a's EXEC, another client buys one.
      assert.equal(await b.decr("stock"), 9);
      assert.equal(await a.multi().set("stock", String(stock - 1)).exec(), null);
      assert.equal(await a.get("stock"), "9", "the losing transaction wrote nothing");
      // Retry, as a client should: read again under a fresh WATCH.
      await a.watch("stock");
      const again = Number(await a.get("stock"));
      assert.deepEqual(await a.multi().set("stock", String(again - 1)).exec(), [[null, "OK"]]);
      assert.equal(await b.get("stock"), "8");
    });
  });

  await t.step("binary keys and values round-trip through MSET and mgetBuffer", async () => {
    await withIoredis(s, 1, async (redis) => {
      const k1 = Buffer.from([0x6b, 0x00, 0xff]);
      const k2 = Buffer.from([0x0d, 0x0a, 0x80]);
      const v1 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      const v2 = Buffer.from([0x00, 0x00, 0xc3, 0x28]); // NULs and invalid UTF-8
      assert.equal(await redis.mset(k1, v1, k2, v2), "OK");
      assert.deepEqual(await redis.mgetBuffer(k1, k2, "missing"), [v1, v2, null]);
      assert.equal(await redis.append(k2, Buffer.from([0xff])), 5);
      assert.deepEqual(await redis.getBuffer(k2), Buffer.concat([v2, Buffer.from([0xff])]));
    });
  });

  await t.step("20 connections × 50 pipelined INCR on one key count exactly 1000", async () => {
    await withIoredis(s, 20, async (...clients) => {
      await Promise.all(clients.map((redis) => {
        const pipeline = redis.pipeline();
        for (let i = 0; i < 50; i++) pipeline.incr("shared");
        return pipeline.exec();
      }));
      assert.equal(await clients[0].get("shared"), "1000");
    });
  });
});

// ---------------------------------------------------------------------------------------------
// node-redis
// ---------------------------------------------------------------------------------------------

/**
 * A node-redis client with its default options — it opens with `HELLO 3`, so replies come in
 * RESP3 — and reconnecting off so a failure fails the test.
 *
 * @param database The database it selects on connect, as an application's `{ database: 2 }`.
 */
function nodeRedisClient(server: RunningServer, database?: number) {
  return createClient({
    url: `redis://${server.host}:${server.port}`,
    database,
    socket: { reconnectStrategy: false, connectTimeout: TIMEOUT_MS },
  });
}

type NodeRedisClient = ReturnType<typeof nodeRedisClient>;

/** Runs `fn` with `count` node-redis clients; any `error` event they emit fails the test. */
async function withNodeRedis(
  server: RunningServer,
  count: number,
  fn: (...clients: NodeRedisClient[]) => Promise<void>,
  database?: number,
): Promise<void> {
  const errors: unknown[] = [];
  const clients = Array.from({ length: count }, () => nodeRedisClient(server, database));
  for (const client of clients) client.on("error", (error) => errors.push(error));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    await fn(...clients);
  } finally {
    await Promise.all(clients.map((client) => client.isOpen ? client.close() : undefined));
  }
  // node-redis reports socket trouble through this event, not through the commands' promises.
  assert.deepEqual(errors, []);
}

testEachTarget("node-redis with its default options works unchanged", [], async (t, s) => {
  await t.step("counters, MSET and MGET, one command at a time and pipelined", async () => {
    await withNodeRedis(s, 1, async (client) => {
      assert.equal(await client.incr("hits"), 1);
      assert.equal(await client.incrBy("hits", 10), 11);
      assert.equal(await client.decrBy("hits", 4), 7);
      assert.equal(await client.mSet({ x: "1", y: "2" }), "OK");
      assert.deepEqual(await client.mGet(["x", "y", "z"]), ["1", "2", null]);
      const replies = await client.multi().incr("p").incr("p").get("p").execAsPipeline();
      assert.deepEqual(replies, [1, 2, "2"]);
    });
  });

  await t.step("multi/exec runs the queued commands together", async () => {
    await withNodeRedis(s, 1, async (client) => {
      const replies = await client.multi().set("n", "5").incr("n").getSet("n", "0").exec();
      assert.deepEqual(replies, ["OK", 6, "6"]);
      assert.equal(await client.get("n"), "0");
    });
  });

  await t.step("WATCH: a write from a second client makes exec throw WatchError", async () => {
    await withNodeRedis(s, 2, async (a, b) => {
      await a.set("seats", "3");
      assert.equal(await a.watch("seats"), "OK");
      const seats = Number(await a.get("seats"));
      assert.equal(await b.decr("seats"), 2);
      await assert.rejects(
        a.multi().set("seats", String(seats - 1)).exec(),
        (error: unknown) => error instanceof WatchError,
      );
      assert.equal(await a.get("seats"), "2", "the losing transaction wrote nothing");
    });
  });

  await t.step("binary values come back as Buffers with a type mapping", async () => {
    await withNodeRedis(s, 1, async (client) => {
      const v1 = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80]);
      const v2 = Buffer.from([0xc3, 0x28, 0x00]);
      assert.equal(await client.mSet([["b1", v1], ["b2", v2]]), "OK");
      const binary = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
      assert.deepEqual(await binary.mGet(["b1", "b2", "none"]), [v1, v2, null]);
      assert.deepEqual(await binary.getDel("b1"), v1);
      assert.equal(await client.exists("b1"), 0);
    });
  });

  await t.step("10 clients × 100 INCR on one key count exactly 1000", async () => {
    await withNodeRedis(s, 10, async (...clients) => {
      await Promise.all(clients.map(async (client) => {
        for (let i = 0; i < 100; i++) await client.incr("shared");
      }));
      assert.equal(await clients[0].get("shared"), "1000");
    });
  });
});

// ---------------------------------------------------------------------------------------------
// SCAN, as the tools drive it
// ---------------------------------------------------------------------------------------------

testEachTarget(
  "redis-cli --scan, ioredis scanStream and node-redis scanIterator list every key",
  ["redis-cli"],
  async (t, s) => {
    const keys = Array.from({ length: 250 }, (_, i) => `scan:${i}`);
    await redisCli(s, ["FLUSHDB"]);
    await redisCli(s, ["MSET", ...keys.flatMap((k) => [k, "v"]), "other", "v"]);
    const sorted = (text: string) => [...new Set(text.split("\n").filter((k) => k !== ""))].sort();

    await t.step("redis-cli --scan walks the cursor to the end; --pattern filters", async () => {
      // redis-cli sends SCAN with its default COUNT of 10, so 251 keys take many steps.
      assert.deepEqual(sorted(await redisCli(s, ["--scan"])), [...keys, "other"].sort());
      assert.deepEqual(sorted(await redisCli(s, ["--scan", "--pattern", "scan:*"])), keys.sort());
    });

    await t.step("ioredis scanStream", async () => {
      await withIoredis(s, 1, async (redis) => {
        const found = new Set<string>();
        for await (const page of redis.scanStream({ match: "scan:*", count: 20 })) {
          for (const key of page as string[]) found.add(key);
        }
        assert.deepEqual([...found].sort(), keys.sort());
      });
    });

    await t.step("node-redis scanIterator", async () => {
      await withNodeRedis(s, 1, async (client) => {
        const found = new Set<string>();
        for await (const page of client.scanIterator({ MATCH: "scan:*", COUNT: 30 })) {
          for (const key of page) found.add(key);
        }
        assert.deepEqual([...found].sort(), keys.sort());
      });
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Numbered databases, as applications choose them
// ---------------------------------------------------------------------------------------------

testEachTarget(
  "ioredis { db: 1 } and node-redis { database: 2 } each work in their own database",
  [],
  async (t, s) => {
    const keys = Array.from({ length: 120 }, (_, i) => `in-db:${i}`);

    await t.step(
      "ioredis { db: 1 }: its keys, its scanStream, none of them in database 0",
      async () => {
        await withIoredis(s, 1, async (zero) => {
          await withIoredis(s, 1, async (one) => {
            await one.flushdb();
            assert.equal(await one.mset(...keys.flatMap((key) => [key, "1"])), "OK");
            assert.equal(await zero.exists(keys[0]), 0);
            const found = new Set<string>();
            for await (const page of one.scanStream({ count: 25 })) {
              for (const key of page as string[]) found.add(key);
            }
            assert.deepEqual([...found].sort(), [...keys].sort());
            assert.match(await one.info("keyspace"), /\r\ndb1:keys=120,/);
            assert.equal(await one.flushdb(), "OK");
          }, { db: 1 });
        });
      },
    );

    await t.step("node-redis { database: 2 }: a transaction and scanIterator there", async () => {
      await withNodeRedis(s, 1, async (two) => {
        await two.flushDb();
        const replies = await two.multi().set("counter", "10").incrBy("counter", 5).exec();
        assert.deepEqual(replies, ["OK", 15]);
        assert.equal(await two.move("counter", 3), 1);
        assert.equal(await two.exists("counter"), 0);
        await two.mSet(keys.slice(0, 40).map((key) => [key, "2"]));
        const found = new Set<string>();
        for await (const page of two.scanIterator({ MATCH: "in-db:*", COUNT: 15 })) {
          for (const key of page) found.add(key);
        }
        assert.equal(found.size, 40);
        assert.equal(await two.flushDb(), "OK");
      }, 2);
      await withNodeRedis(s, 1, async (three) => {
        assert.equal(await three.get("counter"), "15", "MOVE put it in database 3");
        await three.flushDb();
      }, 3);
    });
  },
);

/** A Python with redis-py, or `null`: its tests are then listed as skipped. */
const REDIS_PY = findRedisPy();

/**
 * What a Python application does with `Redis(db=1)`: writes, a pipelined transaction, `scan_iter`
 * through every key, the keyspace of database 0 untouched.
 */
const REDIS_PY_SCRIPT = `
import json, sys
import redis

host, port = sys.argv[1], int(sys.argv[2])
one = redis.Redis(host=host, port=port, db=1, socket_timeout=10)
zero = redis.Redis(host=host, port=port, db=0, socket_timeout=10)
one.flushdb()
one.mset({f"py:{i}": str(i) for i in range(150)})
pipe = one.pipeline(transaction=True)
pipe.incr("counter")
pipe.incrby("counter", 41)
pipe.get("py:7")
found = sorted(key.decode() for key in one.scan_iter(match="py:*", count=20))
print(json.dumps({
    "transaction": [reply.decode() if isinstance(reply, bytes) else reply for reply in pipe.execute()],
    "scanned": len(found),
    "distinct": len(set(found)),
    "dbsize": one.dbsize(),
    "database_0_sees": zero.exists("py:0", "counter"),
    "client_db": one.client_info()["db"],
    "flushed": one.flushdb(),
}))
`;

testEachTarget(
  "redis-py Redis(db=1): a transaction, scan_iter, database 0 untouched",
  [{ name: "redis-py", installed: REDIS_PY !== null }],
  async (_t, s) => {
    assert.deepEqual(await redisPy(REDIS_PY ?? "", s, REDIS_PY_SCRIPT), {
      transaction: [1, 42, "7"],
      scanned: 150,
      distinct: 150,
      dbsize: 151,
      database_0_sees: 0,
      client_db: 1,
      flushed: true,
    });
  },
);
