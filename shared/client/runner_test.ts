import assert from "node:assert/strict";
import { bytesToByteString, byteStringToBytes } from "../resp/bytes.ts";
import { freePort, startLabServer } from "../testing/processes.ts";
import { RedisClient } from "./client.ts";
import type { OutputMode } from "./output.ts";
import { readLines, runPiped } from "./repl.ts";
import { CommandRunner, type Endpoint } from "./runner.ts";

const LAB1 = "labs/01-single-client/server.ts";

/** A runner whose output and warnings the test can read. */
function capturingRunner(endpoint: Endpoint, mode: OutputMode = "tty") {
  const output: string[] = [];
  const warnings: string[] = [];
  const runner = new CommandRunner({
    ...endpoint,
    connect: (e) => RedisClient.connect(e),
    mode,
    write: (bytes) => output.push(bytesToByteString(bytes)),
    warn: (line) => warnings.push(line),
  });
  return {
    runner,
    /** Everything printed since the last call. */
    output: () => output.splice(0).join(""),
    warnings,
    [Symbol.asyncDispose]: () => runner.close(),
  };
}

/** Waits (briefly) for a condition that depends on the server, such as a closed connection. */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
}

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map(byteStringToBytes));
}

Deno.test("readLines() cuts lines from raw bytes, keeping a last line without a newline", async () => {
  const lines = await Array.fromAsync(readLines(streamOf("SET a \xff\x00\nGE", "T a\r\n\nPING")));
  assert.deepEqual(lines, ["SET a \xff\x00", "GET a\r", "", "PING"]);
});

Deno.test("CommandRunner against the lab 1 server", async (t) => {
  await using server = await startLabServer(LAB1);

  await t.step("run() prints replies in the chosen style", async () => {
    const expected: Record<OutputMode, string> = {
      tty: 'OK\n"v"\n(nil)\n(integer) 1\n',
      raw: "OK\nv\n\n1\n",
      json: '{"command":["SET","k","v"],"response":"OK"}\n' +
        '{"command":["GET","k"],"response":"v"}\n' +
        '{"command":["GET","missing"],"response":null}\n' +
        '{"command":["DEL","k"],"response":1}\n',
    };
    for (const mode of ["tty", "raw", "json"] as const) {
      await using c = capturingRunner(server, mode);
      for (const args of [["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["DEL", "k"]]) {
        await c.runner.run(args);
      }
      assert.equal(c.output(), expected[mode]);
      assert.deepEqual(c.warnings, []);
    }
  });

  await t.step("runLine() splits a line like redis-cli and sends its bytes", async () => {
    await using c = capturingRunner(server);
    assert.equal(await c.runner.runLine(`SET "a key" "x\\xff\\r\\n" `), true);
    assert.equal(await c.runner.runLine(`GET 'a key'`), true);
    assert.equal(await c.runner.runLine("   "), true);
    assert.equal(c.output(), 'OK\n"x\\xff\\r\\n"\n');
  });

  await t.step("runLine() refuses unbalanced quotes and sends nothing", async () => {
    await using c = capturingRunner(server);
    assert.equal(await c.runner.runLine(`SET "unsent oops`), true);
    assert.equal(await c.runner.runLine(`EXISTS unsent`), true);
    assert.equal(c.output(), "Invalid argument(s)\n(integer) 0\n");
    assert.equal(c.runner.errorReplies, 0);
  });

  await t.step("runLine() keeps JSON output clean by reporting bad quotes on stderr", async () => {
    await using c = capturingRunner(server, "json");
    await c.runner.runLine(`GET "oops`);
    assert.equal(c.output(), "");
    assert.deepEqual(c.warnings, ["Invalid argument(s)"]);
  });

  await t.step("runLine() leaves on quit or exit without sending them", async () => {
    await using c = capturingRunner(server);
    assert.equal(await c.runner.runLine("PING"), true);
    const prompt = c.runner.prompt;
    assert.equal(prompt, `${server.host}:${server.port}> `);
    assert.equal(await c.runner.runLine("quit"), false);
    assert.equal(await c.runner.runLine("EXIT now"), false);
    // Still connected: QUIT would have made the server hang up.
    assert.equal(c.runner.prompt, prompt);
    assert.equal(c.output(), "PONG\n");
  });

  await t.step("run() counts error replies and prints them", async () => {
    await using c = capturingRunner(server);
    await c.runner.run(["SET", "k", "v", "extra"]);
    assert.equal(c.output(), "(error) ERR syntax error\n");
    assert.equal(c.runner.errorReplies, 1);
    assert.equal(c.runner.failed, 0);
  });

  await t.step(
    "the prompt says not connected once the server hangs up, and the next command reconnects",
    async () => {
      await using c = capturingRunner(server);
      await c.runner.run(["QUIT"]);
      await eventually(() => c.runner.prompt === "not connected> ");
      await c.runner.run(["PING"]);
      assert.equal(c.output(), "OK\nPONG\n");
      assert.equal(c.runner.prompt, `${server.host}:${server.port}> `);
      assert.deepEqual(c.warnings, []);
    },
  );

  await t.step("interrupt() abandons a command the server does not answer", async () => {
    // Lab 1 serves one client at a time: while `first` is connected, `second` waits.
    await using first = await RedisClient.connect(server.addr);
    await first.send("PING");
    await using c = capturingRunner(server);
    const running = c.runner.run(["PING"]);
    await new Promise((r) => setTimeout(r, 50));
    c.runner.interrupt();
    await running;
    assert.equal(c.output(), "");
    assert.deepEqual(c.warnings, []);
    assert.equal(c.runner.failed, 1);
  });
});

Deno.test("CommandRunner prints why it cannot connect and counts the command as failed", async () => {
  const port = freePort();
  await using c = capturingRunner({ host: "127.0.0.1", port });
  assert.equal(await c.runner.connect(), false);
  await c.runner.run(["PING"]);
  assert.deepEqual(c.warnings, [
    `Could not connect to Redis at 127.0.0.1:${port}: Connection refused`,
    `Could not connect to Redis at 127.0.0.1:${port}: Connection refused`,
  ]);
  assert.equal(c.runner.failed, 1);
  assert.equal(c.runner.prompt, "not connected> ");
});

Deno.test("CommandRunner reports a connection that breaks mid-command and does not resend it", async () => {
  await using server = await startLabServer(LAB1);
  await using first = await RedisClient.connect(server.addr);
  await first.send("PING");
  await using c = capturingRunner(server);
  const running = c.runner.run(["INCR", "counter"]);
  await new Promise((r) => setTimeout(r, 50));
  await server.stop();
  await running;
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0], /^Error: (Server closed the connection|Connection lost: .+)$/);
  assert.equal(c.runner.failed, 1);
  assert.equal(c.runner.prompt, "not connected> ");
});

Deno.test("runPiped() runs every line in order and stops at quit", async () => {
  await using server = await startLabServer(LAB1);
  await using c = capturingRunner(server, "raw");
  await runPiped(c.runner, streamOf('SET a 1\nGET a\nGET "oops\nquit\nDEL a\n'));
  assert.equal(c.output(), "OK\n1\nInvalid argument(s)\n");
});
