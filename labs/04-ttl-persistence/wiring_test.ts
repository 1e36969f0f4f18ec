/**
 * How `server.ts` wires the parts together, checked end to end: writes reach the append-only log
 * with absolute times and come back after a restart; the memcached port serves the same keyspace.
 * The parts themselves are tested in `persistence/` and `memcache/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { bulk, command } from "../01-single-client/suite.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, scratchDir } from "./test_support.ts";

Deno.test("--appendonly yes: writes are logged with absolute times and survive a restart", async () => {
  const dir = scratchDir();
  const args = ["--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"];
  const start = () => startLabServer(LAB4_ENTRY, { args, denoFlags: [...LAB4_DENO_FLAGS] });
  {
    await using server = await start();
    await using c = await RawClient.connect(server.addr);
    await c.send(
      command("SET", "session", "abc", "EX", "100") + command("SET", "n", "1") +
        command("INCR", "n") + command("SETEX", "gone", "100", "x") +
        command("EXPIRE", "gone", "-1") + command("SET", "n", "x", "NX"),
    );
    await c.expect("+OK\r\n+OK\r\n:2\r\n+OK\r\n:1\r\n$-1\r\n");
  }
  const log = await Deno.readTextFile(join(dir, "appendonly.aof"));
  assert.ok(log.includes(bulk("PXAT")), "SET ... EX is logged as SET ... PXAT");
  assert.ok(!log.includes(bulk("EX")), "no relative time reaches the log");
  assert.ok(log.includes(command("DEL", "gone")), "an expiry already past is logged as DEL");
  assert.ok(!log.includes(bulk("NX")), "a SET NX that changed nothing is not logged");

  await using server = await start();
  await using c = await RawClient.connect(server.addr);
  const ttl = await c.call("TTL", "session") as number;
  assert.ok(ttl > 90 && ttl <= 100, `the TTL came back as a moment, not a fresh 100 s: ${ttl}`);
  await c.send(command("GET", "session") + command("GET", "n") + command("EXISTS", "gone"));
  await c.expect(bulk("abc") + bulk("2") + ":0\r\n");
});

Deno.test("--memcache-port serves the same keyspace, with the same expiry", async () => {
  const port = freePort();
  await using server = await startLabServer(LAB4_ENTRY, {
    args: ["--dir", scratchDir(), "--save", "", "--memcache-port", String(port)],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
  await using memcache = await RawClient.connect(`${server.host}:${port}`);
  await using resp = await RawClient.connect(server.addr);
  await memcache.send("set greeting 0 100 5\r\nhello\r\n");
  await memcache.expect("STORED\r\n");
  await resp.send(command("GET", "greeting") + command("TTL", "greeting"));
  await resp.expect(bulk("hello") + ":100\r\n");
  await resp.send(command("SET", "from-resp", "hi"));
  await resp.expect("+OK\r\n");
  await memcache.send("get from-resp\r\n");
  await memcache.expect("VALUE from-resp 0 2\r\nhi\r\nEND\r\n");
});

Deno.test("RENAME, COPY and INCRBYFLOAT of keys with a TTL come back through the log with it", async () => {
  const dir = scratchDir();
  const args = ["--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"];
  const start = () => startLabServer(LAB4_ENTRY, { args, denoFlags: [...LAB4_DENO_FLAGS] });
  const at = String(Date.now() + 3_600_000);
  {
    await using server = await start();
    await using c = await RawClient.connect(server.addr);
    await c.send(
      command("SET", "a", "v", "PXAT", at) + command("SET", "b", "old", "EX", "5") +
        command("RENAME", "a", "b") + command("COPY", "b", "c") + command("SET", "d", "x") +
        command("RENAMENX", "c", "e") + command("COPY", "d", "e", "REPLACE") +
        command("SET", "f", "1.5", "PXAT", at) + command("INCRBYFLOAT", "f", "0.1"),
    );
    await c.expect("+OK\r\n+OK\r\n+OK\r\n:1\r\n+OK\r\n:1\r\n:1\r\n+OK\r\n" + bulk("1.6"));
  }
  // The TTL travels with the key inside the command, so no rewrite is needed: replaying RENAME
  // moves the key and its TTL again, exactly as the first time.
  const log = await Deno.readTextFile(join(dir, "appendonly.aof"));
  assert.ok(log.includes(command("RENAME", "a", "b")), "RENAME is logged as sent");
  assert.ok(log.includes(command("COPY", "d", "e", "REPLACE")), "COPY is logged as sent");
  assert.ok(log.includes(command("SET", "f", "1.6", "KEEPTTL")), "INCRBYFLOAT logs its result");

  await using server = await start();
  await using c = await RawClient.connect(server.addr);
  await c.send(
    command("EXISTS", "a", "c") + command("GET", "b") + command("PEXPIRETIME", "b") +
      command("GET", "e") + command("PEXPIRETIME", "e") + command("GET", "f") +
      command("PEXPIRETIME", "f"),
  );
  await c.expect(
    ":0\r\n" + bulk("v") + `:${at}\r\n` + bulk("x") + ":-1\r\n" + bulk("1.6") + `:${at}\r\n`,
  );
});
