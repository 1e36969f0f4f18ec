/**
 * Lab 2's server as a process: its command line, and a clean shutdown that closes every client.
 *
 * @module
 */

import assert from "node:assert/strict";
import { expectCleanShutdown, runEntry, spawnEntry } from "../../shared/testing/lifecycle.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";

const ENTRY = "labs/02-threaded/server.ts";

const runServer = (...args: string[]) => runEntry(ENTRY, args);

Deno.test("server --help lists the limits and exits 0", async () => {
  const { code, stdout } = await runServer("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task lab2 \[options\]/);
  for (
    const flag of [
      "--maxclients N",
      "--timeout SECONDS",
      "--max-output-buffer SIZE",
      "--proto-max-bulk-len SIZE",
    ]
  ) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
});

for (
  const [args, message] of [
    [["--maxclients", "0"], /Invalid maxclients: "0"/],
    [["--timeout", "soon"], /Invalid timeout: "soon"/],
    [["--max-output-buffer", "lots"], /Invalid max-output-buffer: "lots"/],
    [["--proto-max-bulk-len", "1kb"], /Invalid proto-max-bulk-len: "1kb"/],
    [["--bogus"], /bogus/],
  ] as const
) {
  Deno.test(`server refuses ${args.join(" ")} with exit code 2`, async () => {
    const { code, stderr } = await runServer(...args);
    assert.equal(code, 2);
    assert.match(stderr, message);
  });
}

Deno.test("server shuts down cleanly on SIGTERM, closing every connected client", async () => {
  await using server = await spawnEntry(ENTRY, ["--port", "0"]);
  assert.equal(server.output, `listening on ${server.addr}\n`, "the ready line comes first");

  await using a = await RawClient.connect(server.addr);
  await using b = await RawClient.connect(server.addr);
  await a.send("PING\r\n");
  await b.send("*1\r\n$4\r\nPI"); // half a command: shutdown must not wait for the rest
  await a.expect("+PONG\r\n");
  await expectCleanShutdown(server, "SIGTERM", [a, b]);
});
