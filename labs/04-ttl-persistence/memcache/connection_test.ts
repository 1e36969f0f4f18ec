/**
 * The memcached listener's connection handling: a connection limit, a clean close, a client that
 * stops reading, and the log lines that say why a client was dropped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { getReply, storage } from "./suite.ts";
import { McClient, startInProcess } from "./testing.ts";

Deno.test("past maxConnections a client is told ERROR and closed; a freed slot is reused", async () => {
  await using mc = startInProcess({ maxConnections: 2 });
  await using a = await McClient.connect(mc.addr);
  await using b = await McClient.connect(mc.addr);
  // Make sure both are being served before the third arrives.
  await a.send("version\r\n");
  await a.readLine();
  await b.send("version\r\n");
  await b.readLine();
  await using refused = await McClient.connect(mc.addr);
  assert.equal(await refused.expectClosed(), "ERROR Too many open connections\r\n");
  assert.equal(mc.server.store.stats.rejected_connections, 1);
  assert.match(mc.logs.join("\n"), /refused: 2 connections already open/);
  await a.close();
  // The server notices the close on its next read; retry until the slot is free.
  for (let attempt = 0;; attempt++) {
    await using c = await McClient.connect(mc.addr);
    await c.send("version\r\n");
    const line = await c.readLine().catch(() => "closed");
    if (line.startsWith("VERSION ")) break;
    assert.ok(attempt < 20, `never got a slot back: ${line}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

Deno.test("close() stops listening and ends every connection", async () => {
  const mc = startInProcess();
  const clients = await Promise.all([1, 2, 3].map(() => McClient.connect(mc.addr)));
  await clients[0].send("set k 0 0 10\r\nhalf");
  await clients[1].send("version\r\n");
  await clients[1].readLine();
  await mc.server.close();
  for (const client of clients) await client.expectClosed();
  await assert.rejects(McClient.connect(mc.addr));
  await Promise.all(clients.map((c) => c.close()));
  assert.equal(mc.server.store.stats.curr_connections, 0);
});

Deno.test("a client that stops reading does not hold up anyone else", async () => {
  await using mc = startInProcess();
  const big = "b".repeat(512 * 1024);
  mc.db.set("big", big);
  // 400 pipelined gets ask for 200 MiB of replies; this client never reads any of it.
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: mc.server.address.port });
  try {
    const request = new TextEncoder().encode("get big\r\n".repeat(400));
    await slow.write(request);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The server ran gets until the socket's buffers were full and now waits for the client to
    // read: it has not run (or queued replies for) all 400, which would be 200 MiB in memory.
    const ran = mc.server.store.stats.cmd_get;
    assert.ok(ran > 0 && ran < 50, `ran ${ran} of 400 gets for a client that reads nothing`);
    await using other = await McClient.connect(mc.addr);
    await other.send(storage("set", "k", 0, 0, "v") + "get k\r\n");
    await other.expect("STORED\r\n" + getReply("k", 0, "v"));
  } finally {
    slow.close();
  }
});

Deno.test("a line too long and a binary-protocol request are logged and closed", async () => {
  await using mc = startInProcess();
  await using long = await McClient.connect(mc.addr);
  await long.send("x".repeat(4096));
  assert.equal(await long.expectClosed(), "");
  await using binary = await McClient.connect(mc.addr);
  await binary.send(Uint8Array.of(0x80, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  assert.equal(await binary.expectClosed(), "");
  const log = mc.logs.join("\n");
  assert.match(log, /closed: command line longer than 2048 bytes/);
  assert.match(log, /closed: binary protocol request/);
});

Deno.test("replies pending before quit are sent, then the connection closes", async () => {
  await using mc = startInProcess();
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "k", 0, 0, "v") + "get k\r\nquit\r\nget k\r\n");
  assert.equal(await c.expectClosed(), "STORED\r\n" + getReply("k", 0, "v"));
});

Deno.test("when makeRoom cannot free memory, a store fails with memcached's out-of-memory error", async () => {
  let room = false;
  await using mc = startInProcess({ makeRoom: () => room });
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "k", 0, 0, "v") + "get k\r\n");
  await c.expect("SERVER_ERROR out of memory storing object\r\nEND\r\n");
  room = true;
  await c.send(storage("set", "k", 0, 0, "v"));
  await c.expect("STORED\r\n");
});
