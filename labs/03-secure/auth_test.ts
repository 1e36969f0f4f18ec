/**
 * `AUTH` against lab 3's server through its secure channel, and against a real
 * `redis-server --requirepass` with the same steps: the proof that the texts and the rules (which
 * commands run before `AUTH`) are Redis's. Then the promise no suite can check by replies alone:
 * the password never reaches the server's log, not even with `--trace` on.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import {
  externalAddr,
  registerRedisConformance,
  registerSuite,
} from "../../shared/testing/suite.ts";
import { bulk, command } from "../01-single-client/suite.ts";
import { authSteps, noPasswordAuthSteps, SUITE_PASSWORD } from "./auth_suite.ts";
import {
  ENTRY,
  prepareIdentity,
  secureRawConnect,
  SERVER_FLAGS,
  startLab3,
  tempDir,
  waitForLog,
} from "./test_support.ts";

const dir = await Deno.makeTempDir({ prefix: "cachelab-lab3-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const fingerprint = externalAddr() === undefined ? await prepareIdentity(dir) : undefined;

registerSuite("lab 3 AUTH suite through the secure channel", ENTRY, authSteps, {
  args: ["--dir", dir, "--requirepass", SUITE_PASSWORD],
  denoFlags: SERVER_FLAGS,
  connect: secureRawConnect(fingerprint),
});

registerRedisConformance("lab 3 AUTH suite against real Redis --requirepass", authSteps, {
  redisArgs: ["--requirepass", SUITE_PASSWORD],
});

registerRedisConformance(
  "lab 3 AUTH steps against real Redis without a password",
  noPasswordAuthSteps,
);

/** The password as it could appear in a log: as text, or as the hex of a dump. */
function assertNoPassword(log: string): void {
  assert.ok(!log.includes(SUITE_PASSWORD), "the password appears in the log");
  const hex = Array.from(
    new TextEncoder().encode(SUITE_PASSWORD),
    (b) => b.toString(16).padStart(2, "0"),
  );
  const spaced = log.replace(/\|.*\|/g, "").replace(/\s+/g, " ");
  assert.ok(!spaced.includes(hex.join(" ")), "the password's hex appears in the log");
  // Parts of it too: a dump line is 16 bytes, and it may be cut across two.
  assert.ok(!log.includes(SUITE_PASSWORD.slice(0, 8)), "the password's start appears in the log");
  assert.ok(!log.includes(SUITE_PASSWORD.slice(-8)), "the password's end appears in the log");
}

Deno.test("the password never appears in the server's log, even with --trace", async () => {
  await using lab3 = await startLab3(["--requirepass", SUITE_PASSWORD, "--trace"]);
  const key = `cachelab:auth-log:${crypto.randomUUID()}`;
  await using c = await lab3.connect();
  await c.send(command("AUTH", "wrong-password") + command("AUTH", SUITE_PASSWORD));
  await c.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n");
  // The password as a value, in the middle of a pipeline, and in CONFIG GET's reply.
  const padding = "x".repeat(500);
  await c.send(
    command("SET", key, padding + SUITE_PASSWORD) + command("GET", key) +
      command("CONFIG", "GET", "requirepass") +
      command("HELLO", "2", "AUTH", "default", SUITE_PASSWORD),
  );
  await c.expect("+OK\r\n" + bulk(padding + SUITE_PASSWORD));
  await c.expect(`*2\r\n${bulk("requirepass")}${bulk(SUITE_PASSWORD)}`);
  assert.ok(Array.isArray(await c.readReply()));
  // A plaintext client that sends the password in the clear: the server must not echo it to its log.
  await using plain = await RawClient.connect(lab3.addr);
  await plain.send(command("AUTH", SUITE_PASSWORD));
  await plain.expectClosed();
  await waitForLog(lab3.server, /failed AUTH/);
  await waitForLog(lab3.server, /plaintext client/);
  await lab3.server.stop();
  const log = lab3.server.log();
  assertNoPassword(log);
  // The trace really was on: the log shows records and their hex, with the secret hidden.
  assert.match(log, /record \d+ decrypted/);
  assert.match(log, /\*{8}/);
});

Deno.test("a connection that sends 5 wrong passwords is answered, then closed; one log line", async () => {
  await using lab3 = await startLab3(["--requirepass", SUITE_PASSWORD]);
  await using c = await lab3.connect();
  // Six guesses in one write: the fifth is answered and the sixth never runs.
  await c.send(Array.from({ length: 6 }, (_, i) => command("AUTH", `guess-${i}`)).join(""));
  const closing = await c.expectClosed();
  const wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
  assert.equal(new TextDecoder().decode(closing), wrongpass.repeat(5));
  // A right password after four wrong ones still works: an honest typo is not punished.
  await using honest = await lab3.connect();
  await honest.send(
    Array.from({ length: 4 }, () => command("AUTH", "typo")).join("") +
      command("AUTH", SUITE_PASSWORD) + command("PING"),
  );
  await honest.expect(wrongpass.repeat(4) + "+OK\r\n+PONG\r\n");
  await waitForLog(lab3.server, /failed AUTH/);
  await lab3.server.stop();
  // Nine failures, one line: the rest are counted for the next line, ten seconds on.
  assert.equal(lab3.server.log().match(/failed AUTH/g)?.length, 1);
});

Deno.test("the password may come from an owner-only file or CACHELAB_REQUIREPASS, not only argv", async () => {
  await using files = await tempDir();
  const file = `${files.path}/requirepass`;
  await Deno.writeTextFile(file, `${SUITE_PASSWORD}\n`, { mode: 0o600 });
  const fromFile = await startLab3(["--requirepass-file", file]);
  const fromEnv = await startLab3([], { env: { CACHELAB_REQUIREPASS: SUITE_PASSWORD } });
  try {
    for (const lab3 of [fromFile, fromEnv]) {
      await using c = await lab3.connect();
      // The newline that ended the file's line is not part of the password.
      await c.send(command("AUTH", `${SUITE_PASSWORD}\n`) + command("PING"));
      await c.expect(
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n" +
          "-NOAUTH Authentication required.\r\n",
      );
      await c.send(command("AUTH", SUITE_PASSWORD) + command("PING"));
      await c.expect("+OK\r\n+PONG\r\n");
    }
  } finally {
    await fromFile[Symbol.asyncDispose]();
    await fromEnv[Symbol.asyncDispose]();
  }
  // Refused before listening: a file others may read, and two sources at once.
  await Deno.chmod(file, 0o644);
  const refusals: [string[], Record<string, string>, RegExp][] = [
    [["--requirepass-file", file], {}, /may be read by others \(mode 0644\)\. Run: chmod 600/],
    [["--requirepass", "x"], { CACHELAB_REQUIREPASS: "y" }, /Give the password one way/],
  ];
  for (const [args, env, message] of refusals) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...SERVER_FLAGS,
        `${REPO_ROOT}${ENTRY}`,
        "--port",
        "0",
        "--dir",
        files.path,
        ...args,
      ],
      env: { NO_COLOR: "1", ...env },
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(20_000),
    }).output();
    assert.equal(code, 2);
    assert.match(new TextDecoder().decode(stderr), message);
  }
});

Deno.test("--trace hides a password sent one byte per record", async () => {
  await using lab3 = await startLab3(["--requirepass", SUITE_PASSWORD, "--trace"]);
  await using c = await lab3.connect();
  // Each send() is one write on the channel, so one record: the password arrives a byte at a time.
  for (const piece of [`*2\r\n$4\r\nAUTH\r\n$${SUITE_PASSWORD.length}\r\n`, ...SUITE_PASSWORD]) {
    await c.send(piece);
  }
  await c.send("\r\n");
  await c.expect("+OK\r\n");
  await waitForLog(lab3.server, new RegExp(`record ${SUITE_PASSWORD.length + 1} decrypted`));
  await lab3.server.stop();
  let inPlaintext = false;
  let plaintext = "";
  for (const line of lab3.server.log().split("\n")) {
    if (!line.includes("|")) inPlaintext = line.includes("decrypted");
    else if (inPlaintext) plaintext += line.slice(line.indexOf("|") + 1, line.lastIndexOf("|"));
  }
  assert.ok(plaintext.includes("AUTH"), `the trace shows the plaintext stream: ${plaintext}`);
  assert.ok(!plaintext.includes(SUITE_PASSWORD.slice(0, 4)), `the password leaks: ${plaintext}`);
  assertNoPassword(lab3.server.log());
});
