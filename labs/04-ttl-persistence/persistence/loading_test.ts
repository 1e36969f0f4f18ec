/**
 * Loading a big snapshot while clients call, as Redis does it: the server listens first, answers
 * `-LOADING` to the commands it cannot run yet and `INFO` with its progress, and says it is ready
 * (`listening on`) only once every key is in. Told to stop meanwhile, it exits without saving
 * half the data over the whole.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { concatBytes } from "../../../shared/resp/bytes.ts";
import { encodeCommand } from "../../../shared/resp/encoder.ts";
import { ErrorReply, SimpleString } from "../../../shared/resp/reply.ts";
import { freePort, type RunningServer, spawnLabServer } from "../../../shared/testing/processes.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY } from "../test_support.ts";
import { writeSnapshotSync } from "./snapshot.ts";

/** Enough keys that loading them takes the server many slices of its work, on any machine. */
const KEYS = 2_000_000;

/** Redis's words, which clients look for. */
const LOADING = "LOADING Redis is loading the dataset in memory";

async function withSnapshot(fn: (dir: string, bytes: Uint8Array) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "loading_test_" });
  try {
    const path = join(dir, "dump.rdb");
    const entries = function* () {
      for (let i = 0; i < KEYS; i++) {
        yield { key: `key:${i}`, value: `value:${i}`, expiresAt: null, flags: 0 };
      }
    };
    writeSnapshotSync(path, [{ db: 0, entries: entries() }], {
      createdAt: Date.now(),
      tempPath: join(dir, "temp.rdb"),
    });
    await fn(dir, Deno.readFileSync(path));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function start(dir: string): RunningServer {
  return spawnLabServer(LAB4_ENTRY, freePort(), {
    args: ["--dir", dir, "--save", "3600 1", "--appendonly", "no"],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
}

/** Connects as soon as the server's port is open. */
async function connectEarly(server: RunningServer): Promise<RawClient> {
  for (let attempt = 0; attempt < 500; attempt++) {
    try {
      return await RawClient.connect(server.addr);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw new Error(`Nothing listens on ${server.addr}:\n${server.output()}${server.log()}`);
}

Deno.test("while a big snapshot loads, clients get -LOADING and INFO shows progress", async () => {
  await withSnapshot(async (dir) => {
    await using server = start(dir);
    await using client = await connectEarly(server);
    // The port is open, but the server has not said it is ready. Everything goes in one write:
    // the server reads it between two slices of its loading and answers it all there, so every
    // reply below comes while it loads, however fast this machine loads.
    const probes = [
      ["PING"],
      ["INFO", "persistence"],
      ["CONFIG", "GET", "appendonly"],
      ["SELECT", "0"],
      ["GET", "key:1"],
      ["MULTI"],
      ["SET", "k", "v"],
      ["EXEC"],
    ];
    await client.send(concatBytes(probes.map(encodeCommand)));
    const replies = [];
    for (const _ of probes) replies.push(await client.readReply());
    const [first, info, config, select, get, multi, set, exec] = replies;
    assert.ok(first instanceof ErrorReply, `PING while loading: ${JSON.stringify(first)}`);
    assert.equal(first.message, LOADING);
    assert.doesNotMatch(server.output(), /listening on/);
    // What Redis runs while loading still runs: INFO, CONFIG GET, SELECT.
    assert.match(String(info), /\r\nloading:1\r\n/);
    assert.match(String(info), /\r\nloading_loaded_perc:\d+\.\d\d\r\n/);
    assert.deepEqual(config, ["appendonly", "no"]);
    assert.deepEqual(select, new SimpleString("OK"));
    assert.equal((get as ErrorReply).message, LOADING);
    // A command refused while queueing aborts the transaction, as Redis's flagTransaction().
    assert.deepEqual(multi, new SimpleString("OK"));
    assert.equal((set as ErrorReply).message, LOADING);
    assert.equal(
      (exec as ErrorReply).message,
      "EXECABORT Transaction discarded because of previous errors.",
    );
    // Retried as a client library would, it is answered once every key is in.
    let refused = 1;
    for (;;) {
      const reply = await client.call("DBSIZE");
      if (!(reply instanceof ErrorReply)) {
        assert.equal(reply, KEYS, "all the keys, not some");
        break;
      }
      assert.equal(reply.message, LOADING);
      refused++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.match(server.output(), /listening on/);
    assert.match(String(await client.call("INFO", "persistence")), /\r\nloading:0\r\n/);
    assert.equal(await client.call("GET", "key:123456"), "value:123456");
    const stats = String(await client.call("INFO", "errorstats"));
    assert.match(stats, new RegExp(`errorstat_LOADING:count=${refused + 2}\\r\\n`));
  });
});

Deno.test("told to stop while loading, the server exits without saving a half-loaded snapshot", async () => {
  await withSnapshot(async (dir, before) => {
    const server = start(dir);
    try {
      const client = await connectEarly(server);
      const reply = await client.call("PING");
      assert.ok(reply instanceof ErrorReply && reply.message === LOADING);
      await client.close();
      // With a save point set, a stop saves a snapshot; but not of half the keys.
      const status = await server.kill("SIGTERM");
      assert.equal(status.code, 0, server.log());
      assert.match(server.log(), /Stopping while loading: nothing is saved/);
      assert.doesNotMatch(server.output(), /listening on/);
      assert.deepEqual(Deno.readFileSync(join(dir, "dump.rdb")), before, "the file is as it was");
    } finally {
      await server.stop();
    }
  });
});
