/**
 * Lab 1's server as a process: its command line, its ready line, and a clean shutdown on a signal.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT, startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";

const ENTRY = "labs/01-single-client/server.ts";

async function runServer(...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `${REPO_ROOT}${ENTRY}`, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
}

Deno.test("server --help prints usage and exits 0", async () => {
  const { code, stdout } = await runServer("--help");
  assert.equal(code, 0);
  const text = new TextDecoder().decode(stdout);
  assert.match(text, /^Usage: deno task lab1 \[options\]/);
  assert.match(text, /--port PORT/);
});

Deno.test("server rejects an unknown flag with exit code 2", async () => {
  const { code, stderr } = await runServer("--bogus");
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /bogus/);
});

Deno.test("server rejects a port that is not a number", async () => {
  const { code, stderr } = await runServer("--port", "http");
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /Invalid port: "http"/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`server shuts down cleanly on ${signal}, closing a connected client`, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", `${REPO_ROOT}${ENTRY}`, "--port", "0"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await stdout.read();
    const ready = first.value?.match(/^listening on (\S+:\d+)\n$/);
    assert.ok(ready, `first line is the ready line: ${JSON.stringify(first.value)}`);

    await using client = await RawClient.connect(ready[1]);
    await client.send("PING\r\n");
    await client.expect("+PONG\r\n");
    child.kill(signal);
    await client.expectClosed();
    const [status, log] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
      stdout.cancel(),
    ]);
    assert.equal(status.code, 0);
    assert.match(log, new RegExp(`Received ${signal}, shutting down`));
  });
}

Deno.test("startLabServer reports the port the server chose", async () => {
  await using server = await startLabServer(ENTRY);
  assert.ok(server.port > 0);
  await using client = await RawClient.connect(server.addr);
  await client.send("PING\r\n");
  await client.expect("+PONG\r\n");
});
