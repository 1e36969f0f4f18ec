/**
 * The lost update on one thread, made deterministic: real TCP clients send `SLOWINCR` to lab 2's
 * server, and an {@link ArrivalGate} holds every slow call until all the requests are in the
 * server. Without the lock every client reads before any writes; with the lab's Mutex none does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { within } from "../../../shared/testing/deadline.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { ArrivalGate, runSocketRace, startRaceServer } from "./lost_update.ts";

/** Long enough for a loaded machine; a command that never reaches the server fails the test. */
const TIMEOUT_MS = 10_000;

/** Sends one `SLOWINCR counter` from each client, each only once the previous one is in the server. */
async function sendInTurn(clients: RawClient[], gate: ArrivalGate): Promise<void> {
  for (const [i, client] of clients.entries()) {
    await client.sendCommand("SLOWINCR", "counter");
    await within(
      gate.whenArrived(i + 1),
      `SLOWINCR number ${i + 1} to reach the server`,
      TIMEOUT_MS,
    );
  }
}

Deno.test("without the lock, two SLOWINCR that both read before either writes lose one update", async () => {
  const gate = new ArrivalGate(2);
  await using server = startRaceServer({ lock: false, service: gate });
  await using a = await RawClient.connect(server.addr);
  await using b = await RawClient.connect(server.addr);
  await sendInTurn([a, b], gate);
  // A read 0, B read 0, both wrote 0 + 1.
  await a.expect(":1\r\n");
  await b.expect(":1\r\n");
  assert.equal(await a.call("GET", "counter"), "1", "two increments, one counted");
});

Deno.test("with the lab's Mutex, the same two SLOWINCR count both updates", async () => {
  const gate = new ArrivalGate(2);
  await using server = startRaceServer({ lock: true, service: gate });
  await using a = await RawClient.connect(server.addr);
  await using b = await RawClient.connect(server.addr);
  await sendInTurn([a, b], gate);
  // B arrived (so the gate is open) but queued for the lock; it read only after A wrote.
  await a.expect(":1\r\n");
  await b.expect(":2\r\n");
  assert.equal(await a.call("GET", "counter"), "2");
  assert.equal(server.mutex?.locked, false, "the lock was left held");
});

Deno.test("without the lock, ten clients that all read first leave the counter at 1", async () => {
  const gate = new ArrivalGate(10);
  await using server = startRaceServer({ lock: false, service: gate });
  const clients = await Promise.all(
    Array.from({ length: 10 }, () => RawClient.connect(server.addr)),
  );
  try {
    await sendInTurn(clients, gate);
    for (const client of clients) await client.expect(":1\r\n");
    assert.equal(await clients[0].call("GET", "counter"), "1", "nine of ten increments lost");
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

Deno.test("with the lab's Mutex, ten clients get 1 to 10 in the order they arrived", async () => {
  const gate = new ArrivalGate(10);
  await using server = startRaceServer({ lock: true, service: gate });
  const clients = await Promise.all(
    Array.from({ length: 10 }, () => RawClient.connect(server.addr)),
  );
  try {
    await sendInTurn(clients, gate);
    // The Mutex is FIFO: the n-th client to arrive is the n-th to hold the lock.
    for (const [i, client] of clients.entries()) await client.expect(`:${i + 1}\r\n`);
    assert.equal(await clients[0].call("GET", "counter"), "10");
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

Deno.test("SLOWINCR answers Redis's errors for a value that is not a counter, with or without the lock", async () => {
  for (const lock of [false, true]) {
    const gate = new ArrivalGate(1);
    await using server = startRaceServer({ lock, service: gate });
    await using client = await RawClient.connect(server.addr);
    await client.call("SET", "text", "hello");
    await client.sendCommand("SLOWINCR", "text");
    await client.expect("-ERR value is not an integer or out of range\r\n");
    await client.sendCommand("SLOWINCR", "a", "b");
    await client.expect("-ERR wrong number of arguments for 'slowincr' command\r\n");
    // A failed command must release the lock, or this one would wait forever.
    await client.sendCommand("SLOWINCR", "ok");
    await client.expect(":1\r\n");
  }
});

Deno.test("the lab's own INCR serves the same ten clients without a lock and loses nothing", async () => {
  // No gate can get between INCR's read and write: there is no await there to stop at.
  await using server = startRaceServer({ lock: false, service: new ArrivalGate(1) });
  const clients = await Promise.all(
    Array.from({ length: 10 }, () => RawClient.connect(server.addr)),
  );
  try {
    const pipeline = "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n".repeat(100);
    await Promise.all(clients.map((client) => client.send(pipeline)));
    for (const client of clients) {
      for (let i = 0; i < 100; i++) assert.equal(typeof await client.readReply(), "number");
    }
    assert.equal(await clients[0].call("GET", "counter"), "1000");
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

Deno.test("runSocketRace() with the lock counts every request from concurrent clients", async () => {
  // The demo's locked run is exact on any machine; the unlocked run's loss is only printed.
  const result = await within(
    runSocketRace({ lock: true, clients: 4, requests: 5, delayMs: 0 }),
    "the demo's clients to finish",
    TIMEOUT_MS,
  );
  assert.deepEqual(
    { expected: result.expected, got: result.got, lost: result.lost },
    { expected: 20, got: 20, lost: 0 },
  );
});

Deno.test("SLOWINCR is refused inside MULTI, and EXEC aborts, because EXEC cannot await", async () => {
  const gate = new ArrivalGate(1);
  await using server = startRaceServer({ lock: true, service: gate });
  await using client = await RawClient.connect(server.addr);
  await client.sendCommand("MULTI");
  await client.expect("+OK\r\n");
  await client.sendCommand("SLOWINCR", "counter");
  await client.expect("-ERR Command not allowed inside a transaction\r\n");
  await client.sendCommand("EXEC");
  await client.expect("-EXECABORT Transaction discarded because of previous errors.\r\n");
  assert.equal(await client.call("GET", "counter"), null, "the refused command never ran");
});
