/**
 * Lab 2's limits, each checked against lab 2's server started with the limit set, and against a
 * real `redis-server` given the equivalent option: the same bytes must come back from both.
 *
 * - `--maxclients N`: connection N+1 reads `-ERR max number of clients reached` and is closed.
 * - `--max-output-buffer SIZE` (Redis: `client-output-buffer-limit normal`): a client that asks for
 *   more replies than that without reading them is disconnected, and the log says why.
 * - `--timeout SECONDS`: an idle client is closed.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  hasProgram,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { MAX_BYTE_STRING } from "../../shared/resp/limits.ts";
import { bulk, command } from "../01-single-client/suite.ts";

const ENTRY = "labs/02-threaded/server.ts";

/** Starts lab 2 with its flags, and Redis with the equivalent ones (if installed). */
const TARGETS: { name: string; start(lab: string[], redis: string[]): Promise<RunningServer> }[] = [
  { name: "lab 2", start: (lab) => startLabServer(ENTRY, { args: lab }) },
  {
    name: "real Redis",
    start: async (_lab, redis) => {
      const server = await startRedisServer(redis);
      if (server === null) throw new Error("redis-server is not installed");
      return server;
    },
  },
];

function register(name: string, fn: (target: (typeof TARGETS)[number]) => Promise<void>): void {
  for (const target of TARGETS) {
    const redisMissing = target.name === "real Redis" && !hasProgram("redis-server");
    Deno.test({
      name: `${target.name}: ${name}${
        redisMissing ? " (skipped: redis-server is not installed)" : ""
      }`,
      ignore: redisMissing,
      fn: () => fn(target),
    });
  }
}

/** Waits (briefly, in small steps) until the server's log matches, or fails after `timeoutMs`. */
async function waitForLog(server: RunningServer, pattern: RegExp, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.log())) {
    if (Date.now() > deadline) assert.fail(`Log never matched ${pattern}:\n${server.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Reads and discards until the server closes the connection. Returns `false` if it is still open
 * after `timeoutMs` (the connection is then closed here, which ends the pending read).
 */
async function drainUntilClosed(conn: Deno.Conn, timeoutMs = 5000): Promise<boolean> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (await conn.read(buffer) !== null) {
      // discard
    }
  } catch {
    // reset by the server, or closed by the timer
  } finally {
    clearTimeout(timer);
  }
  if (!timedOut) conn.close();
  return !timedOut;
}

register("the client past maxclients reads Redis's error and is closed", async (target) => {
  await using server = await target.start(["--maxclients", "2"], ["--maxclients", "2"]);
  await using first = await RawClient.connect(server.addr);
  await using second = await RawClient.connect(server.addr);
  for (const c of [first, second]) {
    await c.send(command("PING"));
    await c.expect("+PONG\r\n");
  }
  await using third = await RawClient.connect(server.addr);
  await third.expect("-ERR max number of clients reached\r\n");
  await third.expectClosed();
  // The two who got in are still served.
  await second.send(command("ECHO", "still here"));
  await second.expect(bulk("still here"));
});

register(
  "a client that never reads its big replies is disconnected; others keep working",
  async (target) => {
    await using server = await target.start(
      ["--max-output-buffer", "1mb"],
      ["--client-output-buffer-limit", "normal 1mb 1mb 0"],
    );
    await using other = await RawClient.connect(server.addr);
    await other.send(command("SET", "big", "x".repeat(128 * 1024)));
    await other.expect("+OK\r\n");

    // One write of 100 pipelined GETs asks for 12.5 MiB of replies, and this client reads none.
    const hog = await Deno.connect({ hostname: server.host, port: server.port });
    const request = new TextEncoder().encode(command("GET", "big").repeat(100));
    let written = 0;
    while (written < request.length) written += await hog.write(request.subarray(written));

    assert.ok(await drainUntilClosed(hog), "the server closed the hog's connection");
    // Lab 2 logs why, in Redis's words. (redis-server logs to stdout, which the kit does not keep.)
    if (target.name === "lab 2") {
      await waitForLog(server, /closed for overcoming of output buffer limits/);
    }
    await other.send(command("STRLEN", "big") + command("PING"));
    await other.expect(":131072\r\n+PONG\r\n");
  },
);

register(
  "an idle client is closed after --timeout seconds; an active one is not",
  async (target) => {
    await using server = await target.start(["--timeout", "1"], ["--timeout", "1"]);
    await using idle = await RawClient.connect(server.addr);
    await idle.send(command("PING"));
    await idle.expect("+PONG\r\n");
    // Waiting for the close is bounded (5 s); the server decides when, around one second.
    await idle.expectClosed(5000);
    await using fresh = await RawClient.connect(server.addr);
    await fresh.send(command("CONFIG", "GET", "timeout"));
    await fresh.expect("*2\r\n" + bulk("timeout") + bulk("1"));
  },
);

/** `length` bytes cycling through every byte value, as a byte string: a cut or a re-encoding shows. */
function everyByte(length: number): string {
  let block = "";
  for (let b = 0; b < 256; b++) block += String.fromCharCode(b);
  return block.repeat(Math.ceil(length / 256)).slice(0, length);
}

// Lab 2 only: Redis given the same limit cuts one big reply too. Its own default for ordinary
// clients is no limit (`normal 0 0 0`), which is the behaviour this keeps for a single reply.
Deno.test(
  "one reply bigger than --max-output-buffer goes out whole to a client that reads it",
  async () => {
    await using server = await startLabServer(ENTRY, { args: ["--max-output-buffer", "1mb"] });
    const value = everyByte(3 * 1024 * 1024);
    await using reader = await RawClient.connect(server.addr);
    await reader.send(command("SET", "big", value));
    await reader.expect("+OK\r\n");
    // Two pipelined, each three times the limit, then a small one: all three, in order, whole.
    await reader.send(command("GET", "big") + command("GET", "big") + command("PING"));
    await reader.expect(bulk(value) + bulk(value) + "+PONG\r\n");

    // The limit still holds for a client that asks for many replies and reads none: 100 replies
    // of 128 KiB each are under the limit alone and 12.5 MiB together.
    await reader.send(command("SET", "medium", value.slice(0, 128 * 1024)));
    await reader.expect("+OK\r\n");
    const hog = await Deno.connect({ hostname: server.host, port: server.port });
    const request = new TextEncoder().encode(command("GET", "medium").repeat(100));
    let written = 0;
    while (written < request.length) written += await hog.write(request.subarray(written));
    await waitForLog(server, /closed for overcoming of output buffer limits/);
    assert.ok(await drainUntilClosed(hog), "the server closed the hog's connection");
    await reader.send(command("STRLEN", "big"));
    await reader.expect(":3145728\r\n");
  },
);

register(
  "APPEND past --proto-max-bulk-len is refused with Redis's error, and the value is kept",
  async (target) => {
    const limit = ["--proto-max-bulk-len", "1mb"];
    await using server = await target.start(limit, limit);
    await using client = await RawClient.connect(server.addr);
    await client.send(command("CONFIG", "GET", "proto-max-bulk-len"));
    await client.expect("*2\r\n" + bulk("proto-max-bulk-len") + bulk("1048576"));
    const value = everyByte(1024 * 1024 - 10);
    await client.send(command("SET", "k", value));
    await client.expect("+OK\r\n");
    // Up to the limit exactly is fine; one byte more is not.
    await client.send(command("APPEND", "k", "0123456789"));
    await client.expect(":1048576\r\n");
    await client.send(command("APPEND", "k", "x"));
    await client.expect("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    await client.send(command("STRLEN", "k") + command("GET", "k"));
    await client.expect(":1048576\r\n" + bulk(value + "0123456789"));
  },
);

register(
  "a bulk string longer than --proto-max-bulk-len is refused at its header, then the connection",
  async (target) => {
    const limit = ["--proto-max-bulk-len", "1mb"];
    await using server = await target.start(limit, limit);
    await using client = await RawClient.connect(server.addr);
    // Only the header is sent: the server must not wait for a mebibyte it will refuse anyway.
    await client.send(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${1024 * 1024 + 1}\r\n`);
    await client.expect("-ERR Protocol error: invalid bulk length\r\n");
    await client.expectClosed();
  },
);

// Lab 2 only: Redis's strings can be 512 MiB, 24 bytes longer than V8's.
Deno.test("a value longer than any JavaScript string is refused when it is written", async () => {
  await using server = await startLabServer(ENTRY);
  await using client = await RawClient.connect(server.addr);
  await client.send(command("CONFIG", "GET", "proto-max-bulk-len"));
  await client.expect("*2\r\n" + bulk("proto-max-bulk-len") + bulk(String(MAX_BYTE_STRING)));
  // Redis would take this header and wait for 512 MiB; no string here could hold them.
  await client.send(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${MAX_BYTE_STRING + 1}\r\n`);
  await client.expect("-ERR Protocol error: invalid bulk length\r\n");
  await client.expectClosed();
});

Deno.test("--proto-max-bulk-len longer than any JavaScript string is capped, and logged", async () => {
  await using server = await startLabServer(ENTRY, { args: ["--proto-max-bulk-len", "1gb"] });
  await using client = await RawClient.connect(server.addr);
  await client.send(command("CONFIG", "GET", "proto-max-bulk-len"));
  await client.expect("*2\r\n" + bulk("proto-max-bulk-len") + bulk(String(MAX_BYTE_STRING)));
  await waitForLog(server, /proto-max-bulk-len 1073741824 is longer than the longest string/);
});
