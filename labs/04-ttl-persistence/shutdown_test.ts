/**
 * Stopping lab 4's real server when its last words cannot be written: SIGTERM and `SHUTDOWN`
 * must refuse to exit rather than lose the data, keep serving, and exit cleanly once they can.
 *
 * The fault: a directory where the snapshot goes, so renaming the finished temporary file onto
 * it fails. Read-only permission bits would not do: a test running as root writes through them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { command } from "../01-single-client/suite.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, scratchDir } from "./test_support.ts";

const CANNOT_SAVE = /Error trying to save the DB, can't exit\.\n/;
const SHUTDOWN_FAILED = "-ERR Errors trying to SHUTDOWN. Check logs.\r\n";

function start(dir: string, save: string) {
  return startLabServer(LAB4_ENTRY, {
    args: ["--dir", dir, "--save", save, "--appendonly", "no"],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
}

/** The server's process id, from `INFO server`, to signal it as an operator would. */
async function processId(c: RawClient): Promise<number> {
  const info = await c.call("INFO", "server") as string;
  const found = info.match(/\r\nprocess_id:(\d+)\r\n/);
  assert.ok(found, info);
  return Number(found[1]);
}

/** Makes the snapshot impossible to write; returns what undoes it. */
function blockSnapshot(dir: string): () => void {
  const path = join(dir, "dump.rdb");
  Deno.mkdirSync(path);
  return () => Deno.removeSync(path);
}

/** Starts a server on `dir` with no save points and reads `keys` back. */
async function readBack(dir: string, ...keys: string[]): Promise<unknown> {
  await using server = await start(dir, "");
  await using c = await RawClient.connect(server.addr);
  return await c.call("MGET", ...keys);
}

Deno.test("SIGTERM while the final snapshot cannot be written: the server keeps running, then exits once it can save", async () => {
  const dir = scratchDir();
  {
    await using server = await start(dir, "3600 1");
    await using c = await RawClient.connect(server.addr);
    await c.send(command("SET", "before", "1"));
    await c.expect("+OK\r\n");
    const unblock = blockSnapshot(dir);
    const pid = await processId(c);

    Deno.kill(pid, "SIGTERM");
    assert.ok(await server.waitForLog(CANNOT_SAVE), server.log());
    // The next line may come in a later chunk of the log: wait for it too.
    assert.ok(
      await server.waitForLog(
        /Errors trying to shut down the server\. Check the logs for more information\.\n/,
      ),
      server.log(),
    );
    // Still serving: the same client, its data, new writes, new clients.
    await c.send(command("GET", "before") + command("SET", "after", "2"));
    await c.expect("$1\r\n1\r\n+OK\r\n");
    await using late = await RawClient.connect(server.addr);
    await late.send(command("GET", "after"));
    await late.expect("$1\r\n2\r\n");

    // A second SIGTERM tries again, and once the snapshot can be written, it stops cleanly.
    unblock();
    Deno.kill(pid, "SIGTERM");
    await c.expectClosed();
    await late.expectClosed();
    assert.equal((await server.exited).code, 0, server.log());
    assert.match(server.log(), /DB saved on disk: 2 keys/);
  }
  assert.deepEqual(await readBack(dir, "before", "after"), ["1", "2"]);
});

Deno.test("SHUTDOWN answers an error and keeps running while it cannot save; NOSAVE then exits without a reply", async () => {
  const dir = scratchDir();
  await using server = await start(dir, "3600 1");
  await using c = await RawClient.connect(server.addr);
  await c.send(command("SET", "k", "v"));
  await c.expect("+OK\r\n");
  blockSnapshot(dir);

  await c.send(command("SHUTDOWN"));
  await c.expect(SHUTDOWN_FAILED);
  await c.send(command("shutdown", "save", "now"));
  await c.expect(SHUTDOWN_FAILED);
  await c.send(command("GET", "k"));
  await c.expect("$1\r\nv\r\n");

  await c.send(command("SHUTDOWN", "NOSAVE"));
  assert.deepEqual(await c.expectClosed(), new Uint8Array(), "no reply, as from Redis");
  assert.equal((await server.exited).code, 0, server.log());
  assert.ok(Deno.statSync(join(dir, "dump.rdb")).isDirectory, "NOSAVE wrote nothing");
});

Deno.test("SHUTDOWN FORCE exits even though the final save fails, and says so", async () => {
  const dir = scratchDir();
  await using server = await start(dir, "3600 1");
  await using c = await RawClient.connect(server.addr);
  blockSnapshot(dir);
  await c.send(command("SHUTDOWN", "FORCE"));
  assert.deepEqual(await c.expectClosed(), new Uint8Array());
  assert.equal((await server.exited).code, 0, server.log());
  assert.match(server.log(), /Error trying to save the DB\. Exit anyway\.\n/);
});

Deno.test("SHUTDOWN SAVE writes a snapshot even without save points; plain SHUTDOWN then writes none", async () => {
  const dir = scratchDir();
  {
    await using server = await start(dir, "");
    await using c = await RawClient.connect(server.addr);
    await c.send(command("SET", "k", "v"));
    await c.expect("+OK\r\n");
    // Sent on its own: as in Redis, replies still waiting in the same batch are never sent.
    await c.send(command("SHUTDOWN", "SAVE"));
    await c.expectClosed();
    assert.equal((await server.exited).code, 0, server.log());
  }
  {
    await using server = await start(dir, "");
    await using c = await RawClient.connect(server.addr);
    await c.send(command("GET", "k") + command("SET", "k", "changed"));
    await c.expect("$1\r\nv\r\n+OK\r\n");
    await c.send(command("SHUTDOWN"));
    await c.expectClosed();
    assert.equal((await server.exited).code, 0, server.log());
  }
  assert.deepEqual(await readBack(dir, "k"), ["v"]);
});
