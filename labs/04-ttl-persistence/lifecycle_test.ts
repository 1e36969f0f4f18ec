/**
 * Lab 4's server as a process: its command line, a clean shutdown, and the pieces of the command
 * line parsed on their own.
 *
 * @module
 */

import assert from "node:assert/strict";
import { expectCleanShutdown, runEntry, spawnEntry } from "../../shared/testing/lifecycle.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { joinSaveArgs, parseLab4Args, parseSavePoints } from "./cli.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, scratchDir } from "./test_support.ts";

const runServer = (...args: string[]) => runEntry(LAB4_ENTRY, args, { denoFlags: LAB4_DENO_FLAGS });

Deno.test("server --help lists lab 2's flags and lab 4's, and exits 0", async () => {
  const { code, stdout } = await runServer("--help");
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: deno task lab4 \[options\]/);
  for (
    const flag of [
      "--maxclients N",
      "--dir DIR",
      "--save SECONDS CHANGES",
      "--appendonly yes|no",
      "--appendfsync POLICY",
      "--maxmemory SIZE",
      "--maxmemory-policy NAME",
      "--hz N",
      "--memcache-port PORT",
      "--secure",
    ]
  ) {
    assert.ok(stdout.includes(flag), `help mentions ${flag}`);
  }
});

for (
  const [args, message] of [
    [["--maxmemory", "lots"], /Invalid maxmemory: "lots"/],
    [["--maxmemory-policy", "allkeys-lfu"], /Invalid maxmemory-policy: "allkeys-lfu"/],
    [["--appendonly", "maybe"], /Invalid appendonly: "maybe"/],
    [["--appendfsync", "sometimes"], /Invalid appendfsync: "sometimes"/],
    [["--save", "60"], /Invalid save: "60"/],
    [["--hz", "0"], /Invalid hz: "0"/],
    [["--memcache-port", "eleven"], /Invalid memcache-port: "eleven"/],
    [
      ["--secure", "--memcache-port", "0"],
      /--memcache-port serves the same keys in plaintext .*--memcache-insecure/,
    ],
    [
      ["--requirepass", "hunter2", "--memcache-port", "0"],
      /--memcache-port serves the same keys in plaintext .*--memcache-insecure/,
    ],
    [["--memcache-insecure"], /--memcache-insecure is for --memcache-port beside --secure/],
    [["--secure", "--tls-cert", "a.crt", "--tls-key", "a.key"], /choose one/],
    [["--dbfilename", "../x"], /Invalid dbfilename: "..\/x"/],
    [["--maxclients", "0"], /Invalid maxclients: "0"/],
    [["--bogus"], /bogus/],
  ] as const
) {
  Deno.test(`server refuses ${args.join(" ")} with exit code 2`, async () => {
    const { code, stderr } = await runServer(...args);
    assert.equal(code, 2);
    assert.match(stderr, message);
  });
}

Deno.test("--save takes Redis's two-word form, a quoted list, or nothing", () => {
  assert.deepEqual(joinSaveArgs(["--save", "60", "1000", "--port", "0"]), [
    "--save=60 1000",
    "--port",
    "0",
  ]);
  assert.deepEqual(joinSaveArgs(["--save", "", "--port", "0"]), ["--save", "", "--port", "0"]);
  assert.deepEqual(parseSavePoints(["900 1 300 10", "60 10000"]), [
    { seconds: 900, changes: 1 },
    { seconds: 300, changes: 10 },
    { seconds: 60, changes: 10000 },
  ]);
  assert.deepEqual(parseSavePoints([""]), []);
  assert.equal(parseSavePoints(["60"]), null);
  assert.equal(parseSavePoints(["60 x"]), null);
});

Deno.test("server shuts down cleanly on SIGTERM, closing every connected client", async () => {
  await using server = await spawnEntry(
    LAB4_ENTRY,
    ["--port", "0", "--dir", scratchDir(), "--save", ""],
    { denoFlags: LAB4_DENO_FLAGS },
  );
  assert.equal(server.output, `listening on ${server.addr}\n`, "the ready line comes first");

  await using a = await RawClient.connect(server.addr);
  await a.send("SET k v EX 100\r\nTTL k\r\n");
  await a.expect("+OK\r\n:100\r\n");
  await expectCleanShutdown(server, "SIGTERM", [a]);
});

Deno.test("--secure or --requirepass with --memcache-port starts only with --memcache-insecure", () => {
  const options = parseLab4Args(["--secure", "--memcache-port", "0", "--memcache-insecure"]);
  assert.equal(options.secure, true);
  assert.equal(options.memcachePort, 0);
  const withPassword = parseLab4Args(
    ["--requirepass", "hunter2", "--memcache-port", "0", "--memcache-insecure"],
  );
  assert.equal(withPassword.requirepass, "hunter2");
  // Each alone needs no such word.
  assert.equal(parseLab4Args(["--memcache-port", "0"]).memcachePort, 0);
  assert.equal(parseLab4Args(["--secure"]).secure, true);
});
