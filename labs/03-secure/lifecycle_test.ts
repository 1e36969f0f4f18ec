/**
 * Lab 3's server as a process: its command line, its identity on first and later starts, and a
 * clean shutdown that closes every client, those still in their handshake included.
 *
 * @module
 */

import assert from "node:assert/strict";
import { expectCleanShutdown, runEntry, spawnEntry } from "../../shared/testing/lifecycle.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { IDENTITY_FILE } from "./channel/mod.ts";
import { ENTRY, secureRawConnect, SERVER_FLAGS, tempDir } from "./test_support.ts";

const runServer = (...args: string[]) => runEntry(ENTRY, args, { denoFlags: SERVER_FLAGS });

Deno.test("server --help lists lab 2's flags and the channel's, and exits 0", async () => {
  const { code, stdout } = await runServer("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task lab3 \[options\]/);
  for (
    const flag of [
      "--maxclients N",
      "--timeout SECONDS",
      "--max-output-buffer SIZE",
      "--dir DIR",
      "--cipher NAME",
      "--crypto LIBRARY",
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
    [["--crypto", "gpu"], /Invalid crypto: "gpu" is not openssl, node or auto/],
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

/** Starts the server with its data in `dir`; its output up to the ready line is in `output`. */
function start(dir: string) {
  return spawnEntry(ENTRY, ["--port", "0", "--dir", dir], { denoFlags: SERVER_FLAGS });
}

Deno.test("server prints its identity, then the ready line, and keeps its key across restarts", async () => {
  await using dir = await tempDir();
  await using first = await start(dir.path);
  const match = first.output.match(
    /^server identity: (SHA256:\S{43})\nlistening on (\S+):(\d+)\n$/,
  );
  assert.ok(match, `identity line, then ready line: ${JSON.stringify(first.output)}`);
  const { code } = await first.stop("SIGTERM");
  assert.equal(code, 0);
  // The private key is readable by its owner only.
  const { mode } = await Deno.stat(`${dir.path}/${IDENTITY_FILE}`);
  assert.equal((mode ?? 0) & 0o077, 0, `key file mode ${(mode ?? 0).toString(8)}`);

  await using second = await start(dir.path);
  assert.ok(
    second.output.startsWith(`server identity: ${match[1]}\n`),
    `same identity after a restart: ${second.output}`,
  );
  await second.stop("SIGTERM");
});

Deno.test("server shuts down cleanly on SIGTERM, closing clients and unfinished handshakes", async () => {
  await using dir = await tempDir();
  await using server = await start(dir.path);
  const fingerprint = server.output.match(/server identity: (\S+)/)?.[1];
  await using client = await secureRawConnect(fingerprint)(server.addr);
  await client.send("PING\r\n");
  await client.expect("+PONG\r\n");
  // Half of the handshake's magic, then silence: shutdown must not wait for the rest.
  await using stalled = await RawClient.connect(server.addr);
  await stalled.send("CLAB");
  await new Promise((resolve) => setTimeout(resolve, 100));
  await expectCleanShutdown(server, "SIGTERM", [client, stalled]);
});

Deno.test("server refuses a data directory others can write, without --allow-sys, and exits 1", async () => {
  // The permissions deno task lab3 grants: no --allow-sys, so the server learns its uid from a
  // file it creates. The check still runs, and the key is never read.
  await using dir = await tempDir();
  await Deno.chmod(dir.path, 0o777);
  const { code, stderr } = await runServer("--port", "0", "--dir", dir.path);
  assert.equal(code, 1);
  assert.match(stderr, /Cannot start: Permissions 0777 for directory .* are too open/);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "no key and no probe left behind");
});

Deno.test("server refuses an identity key another user planted, and exits 1", async (t) => {
  await using dir = await tempDir();
  await start(dir.path).then((server) => server.stop("SIGTERM"));
  try {
    // Only root may give a file away; the test then plays the other user.
    await Deno.chown(`${dir.path}/${IDENTITY_FILE}`, 65534, 65534);
  } catch {
    await t.step({
      name: "skipped: only root can give a file to another user",
      ignore: true,
      fn() {},
    });
    return;
  }
  const { code, stderr } = await runServer("--port", "0", "--dir", dir.path);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /Cannot start: Bad ownership for .*identity_ed25519: it belongs to uid 65534/,
  );
});
