/**
 * Lab 3's client as a user runs it: trust on first use, a changed key refused before anything is
 * sent, a pinned fingerprint, `-a` for AUTH, `--trace`, and what it says when pointed at a server
 * that does not speak the secure channel.
 *
 * Each test gives the client its own `HOME`, so the known-hosts file is a fresh one.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startLabServer } from "../../shared/testing/processes.ts";
import { command } from "../01-single-client/suite.ts";
import { generateIdentity, KnownHosts } from "./channel/mod.ts";
import { runClient, startLab3, tempDir, waitForLog } from "./test_support.ts";

const CHANGED = /WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!/g;

Deno.test("client --help lists the lab 3 flags and exits 0", async () => {
  const { code, stdout } = await runClient(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task lab3:client \[options\]/);
  for (
    const flag of [
      "--known-hosts PATH",
      "--server-fingerprint",
      "--tls",
      "--cacert FILE",
      "-a, --pass",
      "--trace",
    ]
  ) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
});

for (
  const [args, message] of [
    [["--server-fingerprint", "SHA256:nope", "PING"], /Invalid fingerprint "SHA256:nope"/],
    [["--cacert", "ca.crt", "PING"], /--cacert is for TLS: add --tls/],
    [["--bogus", "PING"], /bogus/],
  ] as const
) {
  Deno.test(`client refuses ${args.join(" ")} with exit code 2`, async () => {
    const { code, stderr } = await runClient([...args]);
    assert.equal(code, 2);
    assert.match(stderr, message);
  });
}

Deno.test("client: first use records the server's key and says so; later uses are silent", async () => {
  await using home = await tempDir();
  await using lab3 = await startLab3();
  const port = String(lab3.server.port);
  const first = await runClient(["-p", port, "SET", "tofu", "yes"], { HOME: home.path });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "OK\n");
  const path = `${home.path}/.cachelab/known_hosts`;
  assert.match(
    first.stderr,
    new RegExp(
      `Permanently added '\\[127\\.0\\.0\\.1\\]:${port}' \\(ED25519 ${
        lab3.fingerprint.replace(/[+/]/g, "\\$&")
      }\\)`,
    ),
  );
  const entries = (await KnownHosts.open(path)).lookup(`127.0.0.1:${port}`);
  assert.deepEqual(entries.map((e) => e.fingerprint), [lab3.fingerprint]);

  const second = await runClient(["-p", port, "GET", "tofu"], { HOME: home.path });
  assert.equal(second.stdout, "yes\n");
  assert.equal(second.stderr, "", "nothing to say the second time");
});

Deno.test("client: a changed server key is refused loudly, exit 1, and nothing is sent", async () => {
  await using home = await tempDir();
  await using lab3 = await startLab3();
  const port = String(lab3.server.port);
  // Someone else's key was recorded for this address: as if the server had been replaced.
  const path = `${home.path}/known_hosts`;
  const other = generateIdentity();
  await (await KnownHosts.open(path)).verify(
    `127.0.0.1:${port}`,
    other.publicKey,
    other.fingerprint,
  );

  const once = await runClient(["-p", port, "--known-hosts", path, "SET", "stolen", "1"]);
  assert.equal(once.code, 1);
  assert.equal(once.stdout, "");
  assert.equal(once.stderr.match(CHANGED)?.length, 1, once.stderr);
  assert.ok(once.stderr.includes(lab3.fingerprint), "the warning shows the key presented");
  assert.ok(once.stderr.includes(other.fingerprint), "and the key recorded");

  // Piped commands: the client stops at the first refusal instead of trying each line.
  const piped = await runClient(["-p", port, "--known-hosts", path], {}, "SET a 1\nSET b 2\n");
  assert.equal(piped.code, 1);
  assert.equal(piped.stderr.match(CHANGED)?.length, 1, piped.stderr);

  await waitForLog(lab3.server, /refused: The client ended the handshake/);
  await using check = await lab3.connect();
  await check.send(command("EXISTS", "stolen", "a", "b"));
  await check.expect(":0\r\n");
});

Deno.test("client: --server-fingerprint pins the key without a known-hosts file", async () => {
  await using home = await tempDir();
  await using lab3 = await startLab3();
  const port = String(lab3.server.port);
  const pinned = await runClient(["-p", port, "--server-fingerprint", lab3.fingerprint, "PING"], {
    HOME: home.path,
  });
  assert.equal(pinned.stdout, "PONG\n", pinned.stderr);
  await assert.rejects(Deno.stat(`${home.path}/.cachelab/known_hosts`), Deno.errors.NotFound);

  const wrong = await runClient([
    "-p",
    port,
    "--server-fingerprint",
    generateIdentity().fingerprint,
    "PING",
  ], {
    HOME: home.path,
  });
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stdout, "");
  assert.match(wrong.stderr, /does not match the pinned fingerprint/);
});

Deno.test("client: -a sends AUTH first, as redis-cli -a does; a wrong password is reported", async () => {
  await using home = await tempDir();
  await using lab3 = await startLab3(["--requirepass", "hunter2"]);
  const base = ["-p", String(lab3.server.port)];
  const env = { HOME: home.path };

  const ok = await runClient([...base, "-a", "hunter2", "SET", "k", "v"], env);
  assert.equal(ok.stdout, "OK\n", ok.stderr);
  assert.match(ok.stderr, /Warning: Using a password with '-a' or '-u' option/);

  const quiet = await runClient([...base, "-a", "hunter2", "--no-auth-warning", "GET", "k"], env);
  assert.equal(quiet.stdout, "v\n");
  assert.equal(quiet.stderr, "");

  const fromEnv = await runClient([...base, "GET", "k"], { ...env, REDISCLI_AUTH: "hunter2" });
  assert.equal(fromEnv.stdout, "v\n", fromEnv.stderr);

  const wrong = await runClient([...base, "-a", "nope", "--no-auth-warning", "GET", "k"], env);
  assert.match(wrong.stderr, /AUTH failed: WRONGPASS invalid username-password pair/);
  assert.match(wrong.stdout, /^NOAUTH Authentication required\.\n/);
});

Deno.test("client: --trace shows the handshake and the records, with the password hidden", async () => {
  await using home = await tempDir();
  await using lab3 = await startLab3(["--requirepass", "hunter2"]);
  const traced = await runClient(
    [
      "-p",
      String(lab3.server.port),
      "-a",
      "hunter2",
      "--no-auth-warning",
      "--trace",
      "ECHO",
      "visible",
    ],
    { HOME: home.path },
  );
  assert.equal(traced.stdout, "visible\n", traced.stderr);
  assert.match(traced.stderr, /send handshake: the 8-byte magic and ClientHello/);
  assert.match(traced.stderr, /sealed, \d+ bytes on the wire/);
  // The plaintext side of the ECHO record, in the hex dump's ASCII column.
  assert.match(traced.stderr, /\|.*visible.*\|/);
  assert.ok(!traced.stderr.includes("hunter2"), "the password is in the trace");
  assert.match(traced.stderr, /\|\.\.\*{7}\.\.\|/);
});

Deno.test("client: pointed at a plaintext server, it says what answered instead", async () => {
  await using home = await tempDir();
  await using lab2 = await startLabServer("labs/02-threaded/server.ts");
  const { code, stdout, stderr } = await runClient(["-p", String(lab2.port), "PING"], {
    HOME: home.path,
  });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.match(
    stderr,
    /did not answer the secure handshake; it replied "-ERR unknown command 'CLAB\/1'/,
  );
});
