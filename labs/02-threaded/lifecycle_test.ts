/**
 * Lab 2's server as a process: its command line, and a clean shutdown that closes every client.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";

const ENTRY = "labs/02-threaded/server.ts";

async function runServer(...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `${REPO_ROOT}${ENTRY}`, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
}

Deno.test("server --help lists the limits and exits 0", async () => {
  const { code, stdout } = await runServer("--help");
  assert.equal(code, 0);
  const text = new TextDecoder().decode(stdout);
  assert.match(text, /^Usage: deno task lab2 \[options\]/);
  for (const flag of ["--maxclients N", "--timeout SECONDS", "--max-output-buffer SIZE"]) {
    assert.ok(text.includes(flag), `help mentions ${flag}`);
  }
});

for (
  const [args, message] of [
    [["--maxclients", "0"], /Invalid maxclients: "0"/],
    [["--timeout", "soon"], /Invalid timeout: "soon"/],
    [["--max-output-buffer", "lots"], /Invalid max-output-buffer: "lots"/],
    [["--bogus"], /bogus/],
  ] as const
) {
  Deno.test(`server refuses ${args.join(" ")} with exit code 2`, async () => {
    const { code, stderr } = await runServer(...args);
    assert.equal(code, 2);
    assert.match(new TextDecoder().decode(stderr), message);
  });
}

Deno.test("server shuts down cleanly on SIGTERM, closing every connected client", async () => {
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

  await using a = await RawClient.connect(ready[1]);
  await using b = await RawClient.connect(ready[1]);
  await a.send("PING\r\n");
  await b.send("*1\r\n$4\r\nPI"); // half a command: shutdown must not wait for the rest
  await a.expect("+PONG\r\n");
  child.kill("SIGTERM");
  await a.expectClosed();
  await b.expectClosed();
  const [status, log] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    stdout.cancel(),
  ]);
  assert.equal(status.code, 0);
  assert.match(log, /Received SIGTERM, shutting down/);
});
