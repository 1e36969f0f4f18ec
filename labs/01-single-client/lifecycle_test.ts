/**
 * Lab 1's server as a process: its command line, its ready line, and a clean shutdown on a signal.
 *
 * @module
 */

import assert from "node:assert/strict";
import { expectCleanShutdown, runEntry, spawnEntry } from "../../shared/testing/lifecycle.ts";
import { startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";

const ENTRY = "labs/01-single-client/server.ts";

const runServer = (...args: string[]) => runEntry(ENTRY, args);

Deno.test("server --help prints usage and exits 0", async () => {
  const { code, stdout } = await runServer("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task lab1 \[options\]/);
  assert.match(stdout, /--port PORT/);
});

Deno.test("server rejects an unknown flag with exit code 2", async () => {
  const { code, stderr } = await runServer("--bogus");
  assert.equal(code, 2);
  assert.match(stderr, /bogus/);
});

Deno.test("server rejects a port that is not a number", async () => {
  const { code, stderr } = await runServer("--port", "http");
  assert.equal(code, 2);
  assert.match(stderr, /Invalid port: "http"/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`server shuts down cleanly on ${signal}, closing a connected client`, async () => {
    await using server = await spawnEntry(ENTRY, ["--port", "0"]);
    assert.equal(server.output, `listening on ${server.addr}\n`, "the ready line comes first");

    await using client = await RawClient.connect(server.addr);
    await client.send("PING\r\n");
    await client.expect("+PONG\r\n");
    await expectCleanShutdown(server, signal, [client]);
  });
}

Deno.test("startLabServer reports the port the server chose", async () => {
  await using server = await startLabServer(ENTRY);
  assert.ok(server.port > 0);
  await using client = await RawClient.connect(server.addr);
  await client.send("PING\r\n");
  await client.expect("+PONG\r\n");
});
