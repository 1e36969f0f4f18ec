/**
 * Malformed frames against lab 1's server and a real `redis-server`, byte for byte.
 *
 * Each case sends the same bytes to both and expects the same reply bytes and the same ending:
 * the connection closed (after a protocol error) or still open. The expected bytes are written out
 * below, so the test still checks lab 1 where Redis is not installed; where it is, Redis must give
 * them too, which proves they are Redis's and not our guess.
 */

import assert from "node:assert/strict";
import {
  hasProgram,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../../shared/testing/processes.ts";
import { RawClient, showBytes } from "../../shared/testing/raw_client.ts";

interface Case {
  /** Completes "a frame with ...". */
  name: string;
  /** What the client sends, in separate writes a little apart, so the server reads them apart. */
  send: string[];
  /** Everything the server sends back. */
  reply: string;
  /** Whether the server closes the connection after replying. */
  closes: boolean;
}

const protocolError = (detail: string) => `-ERR Protocol error: ${detail}\r\n`;

const CASES: Case[] = [
  {
    name: "a count that is not a number",
    send: ["*abc\r\n"],
    reply: protocolError("invalid multibulk length"),
    closes: true,
  },
  {
    name: "a count with a leading zero",
    send: ["*01\r\n"],
    reply: protocolError("invalid multibulk length"),
    closes: true,
  },
  {
    name: "a count over 2^31 - 1",
    send: ["*2147483648\r\n"],
    reply: protocolError("invalid multibulk length"),
    closes: true,
  },
  {
    name: "a negative bulk length",
    send: ["*1\r\n$-1\r\n"],
    reply: protocolError("invalid bulk length"),
    closes: true,
  },
  {
    name: "a bulk length that is not a number",
    send: ["*1\r\n$x\r\n"],
    reply: protocolError("invalid bulk length"),
    closes: true,
  },
  {
    name: "a bulk length with a leading zero",
    send: ["*1\r\n$04\r\nPING\r\n"],
    reply: protocolError("invalid bulk length"),
    closes: true,
  },
  {
    name: "a bulk length over 512 MiB",
    send: ["*1\r\n$536870913\r\n"],
    reply: protocolError("invalid bulk length"),
    closes: true,
  },
  {
    name: "another byte where '$' should be",
    send: ["*1\r\nx\r\n"],
    reply: protocolError("expected '$', got 'x'"),
    closes: true,
  },
  {
    name: "a CR where '$' should be (sent back as a space)",
    send: ["*1\r\n\r\n"],
    reply: protocolError("expected '$', got ' '"),
    closes: true,
  },
  {
    name: "a high byte where '$' should be",
    send: ["*1\r\n\xff\r\n"],
    reply: protocolError("expected '$', got '\xff'"),
    closes: true,
  },
  {
    name: "a count line with no CR in 64 KiB",
    send: ["*" + "1".repeat(70_000)],
    reply: protocolError("too big mbulk count string"),
    closes: true,
  },
  {
    name: "a bulk header with no CR in 64 KiB",
    send: ["*1\r\n$" + "1".repeat(70_000)],
    reply: protocolError("too big bulk count string"),
    closes: true,
  },
  {
    name: "an inline line with no LF in 64 KiB",
    send: ["x".repeat(70_000)],
    reply: protocolError("too big inline request"),
    closes: true,
  },
  {
    name: "an inline line of exactly 64 KiB and no LF yet",
    send: ["x".repeat(65_536)],
    reply: "",
    closes: false,
  },
  {
    name: "a 70,000-byte count line whose CR arrives before its LF",
    send: ["*" + "1".repeat(70_000) + "\r", "\n"],
    reply: protocolError("invalid multibulk length"),
    closes: true,
  },
  {
    name: "an unclosed double quote",
    send: ['ECHO "a\r\n'],
    reply: protocolError("unbalanced quotes in request"),
    closes: true,
  },
  {
    name: "an unclosed single quote",
    send: ["ECHO 'a\r\n"],
    reply: protocolError("unbalanced quotes in request"),
    closes: true,
  },
  {
    name: "a closing quote followed by a letter",
    send: ['ECHO "a"b\r\n'],
    reply: protocolError("unbalanced quotes in request"),
    closes: true,
  },
  {
    name: "good commands before the bad one, which are answered first",
    send: ["PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$-5\r\n"],
    reply: "+PONG\r\n+PONG\r\n" + protocolError("invalid bulk length"),
    closes: true,
  },
  // Redis finds line ends with C's strchr, which stops at NUL: a NUL before the end hides it.
  {
    name: "a NUL inside an inline line (no answer: the line never ends)",
    send: ["PING\0\r\nPING\r\n"],
    reply: "",
    closes: false,
  },
  {
    name: "a NUL inside a bulk header (no answer)",
    send: ["*1\r\n$4\0\r\nPING\r\n"],
    reply: "",
    closes: false,
  },
  {
    name: "a NUL inside an inline line, then 64 KiB more",
    send: ["PING\0\r\n" + "x".repeat(70_000)],
    reply: protocolError("too big inline request"),
    closes: true,
  },
  {
    name: "*0, *-1 and blank lines (skipped)",
    send: ["*0\r\n*-1\r\n\r\n \t\r\n\nPING\r\n"],
    reply: "+PONG\r\n",
    closes: false,
  },
  {
    name: "any two bytes after bulk data (never checked)",
    send: ["*1\r\n$4\r\nPINGxxPING\r\n"],
    reply: "+PONG\r\n+PONG\r\n",
    closes: false,
  },
  {
    name: "binary bulk data",
    send: ["*2\r\n$4\r\nECHO\r\n$5\r\n\r\n\0\xff\n\r\n"],
    reply: "$5\r\n\r\n\0\xff\n\r\n",
    closes: false,
  },
  {
    name: "inline quoting and escapes",
    send: [`ECHO "a\\x41\\n"\r\nECHO 'it\\'s'\nECHO\tbare\r\n`],
    reply: "$3\r\naA\n\r\n$4\r\nit's\r\n$4\r\nbare\r\n",
    closes: false,
  },
  {
    name: "a command split across reads at awkward places",
    send: ["*2\r\n$4\r\nEC", "HO\r\n$2\r", "\nhi\r", "\n"],
    reply: "$2\r\nhi\r\n",
    closes: false,
  },
];

/** How long an open connection must stay quiet before we conclude the server has said all it will. */
const QUIET_MS = 250;

/** Sends a case's bytes on a fresh connection; returns what came back and whether the server closed. */
async function observe(addr: string, c: Case): Promise<{ reply: string; closed: boolean }> {
  await using client = await RawClient.connect(addr);
  for (const [i, chunk] of c.send.entries()) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    await client.send(chunk);
  }
  try {
    const received = await client.expectClosed(c.closes ? 5_000 : QUIET_MS);
    return { reply: showBytes(received), closed: true };
  } catch (error) {
    if (!(error instanceof assert.AssertionError)) throw error;
    return { reply: showBytes(client.received), closed: false };
  }
}

const redisInstalled = hasProgram("redis-server");

Deno.test(
  redisInstalled
    ? "lab 1 server answers malformed frames with exactly redis-server's bytes"
    : "lab 1 server answers malformed frames with Redis's recorded bytes (redis-server not installed)",
  async (t) => {
    await using lab = await startLabServer("labs/01-single-client/server.ts");
    await using redis: RunningServer | null = redisInstalled ? await startRedisServer() : null;
    for (const c of CASES) {
      await t.step(`a frame with ${c.name}`, async () => {
        const expected = { reply: showBytes(c.reply), closed: c.closes };
        // Both at once: the cases that stay open each wait out a quiet period.
        const [theirs, ours] = await Promise.all([
          redis === null ? null : observe(redis.addr, c),
          observe(lab.addr, c),
        ]);
        if (theirs !== null) assert.deepEqual(theirs, expected, "redis-server");
        assert.deepEqual(ours, expected, "lab 1 server");
      });
    }
    // A bad frame closes that client only: the server is still there for the next.
    await using client = await RawClient.connect(lab.addr);
    await client.send("PING\r\n");
    await client.expect("+PONG\r\n");
  },
);
