/**
 * Lab 3's server as a process: its command line, its identity on first and later starts, and a
 * clean shutdown that closes every client, those still in their handshake included.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { IDENTITY_FILE } from "./channel/mod.ts";
import { ENTRY, run, secureRawConnect, SERVER_FLAGS, tempDir } from "./test_support.ts";

function runServer(...args: string[]) {
  return run(Deno.execPath(), ["run", ...SERVER_FLAGS, `${REPO_ROOT}${ENTRY}`, ...args]);
}

Deno.test("server --help lists lab 2's flags and the channel's, and exits 0", async () => {
  const { code, stdout } = await runServer("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task lab3 \[options\]/);
  for (
    const flag of [
      "--maxclients N",
      "--timeout SECONDS",
      "--max-output-buffer SIZE",
      "--dir PATH",
      "--cipher NAME",
      "--requirepass PASSWORD",
      "--tls-cert FILE",
      "--tls-key FILE",
      "--handshake-timeout MS",
      "--trace",
    ]
  ) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
});

for (
  const [args, message] of [
    [["--cipher", "rot13"], /Invalid cipher: "rot13"/],
    [["--tls-cert", "cert.pem"], /TLS needs both --tls-cert and --tls-key/],
    [["--handshake-timeout", "soon"], /Invalid handshake-timeout: "soon"/],
    [["--handshake-timeout", "0"], /Invalid handshake-timeout: "0"/],
    [["--requirepass", ""], /Invalid requirepass/],
    [["--tls-cert", "c", "--tls-key", "k", "--cipher", "fernet"], /--cipher chooses/],
    [["--maxclients", "0"], /Invalid maxclients: "0"/],
    [["--bogus"], /bogus/],
  ] as const
) {
  Deno.test(`server refuses ${args.join(" ")} with exit code 2`, async () => {
    const { code, stderr } = await runServer(...args);
    assert.equal(code, 2);
    assert.match(stderr, message);
    assert.match(stderr, /Run "deno task lab3 --help" for usage/);
  });
}

Deno.test("server with a TLS certificate that does not exist says so and exits 1", async () => {
  await using dir = await tempDir();
  const { code, stderr } = await runServer(
    "--port",
    "0",
    "--tls-cert",
    `${dir.path}/missing.crt`,
    "--tls-key",
    `${dir.path}/missing.key`,
  );
  assert.equal(code, 1);
  assert.match(stderr, /Cannot start: .*missing\.crt/);
});

/** Starts the server, reads its first two lines, and returns them with the process. */
async function start(dir: string, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...SERVER_FLAGS, `${REPO_ROOT}${ENTRY}`, "--port", "0", "--dir", dir, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/listening on \S+:\d+\n/.test(text)) {
    const { value, done } = await lines.read();
    if (done) break;
    text += value;
  }
  const stop = async () => {
    child.kill("SIGTERM");
    const [status, log] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
      lines.cancel(),
    ]);
    return { status, log };
  };
  return { child, text, stop };
}

Deno.test("server prints its identity, then the ready line, and keeps its key across restarts", async () => {
  await using dir = await tempDir();
  const first = await start(dir.path);
  const match = first.text.match(/^server identity: (SHA256:\S{43})\nlistening on (\S+):(\d+)\n$/);
  assert.ok(match, `identity line, then ready line: ${JSON.stringify(first.text)}`);
  const { status } = await first.stop();
  assert.equal(status.code, 0);
  // The private key is readable by its owner only.
  const { mode } = await Deno.stat(`${dir.path}/${IDENTITY_FILE}`);
  assert.equal((mode ?? 0) & 0o077, 0, `key file mode ${(mode ?? 0).toString(8)}`);

  const second = await start(dir.path);
  assert.ok(
    second.text.startsWith(`server identity: ${match[1]}\n`),
    `same identity after a restart: ${second.text}`,
  );
  await second.stop();
});

Deno.test("server shuts down cleanly on SIGTERM, closing clients and unfinished handshakes", async () => {
  await using dir = await tempDir();
  const server = await start(dir.path);
  const addr = server.text.match(/listening on (\S+:\d+)/)?.[1];
  assert.ok(addr);
  const fingerprint = server.text.match(/server identity: (\S+)/)?.[1];
  await using client = await secureRawConnect(fingerprint)(addr);
  await client.send("PING\r\n");
  await client.expect("+PONG\r\n");
  // Half of the handshake's magic, then silence: shutdown must not wait for the rest.
  await using stalled = await RawClient.connect(addr);
  await stalled.send("CLAB");
  await new Promise((resolve) => setTimeout(resolve, 100));
  const { status, log } = await server.stop();
  await client.expectClosed();
  await stalled.expectClosed();
  assert.equal(status.code, 0);
  assert.match(log, /Received SIGTERM, shutting down/);
});
