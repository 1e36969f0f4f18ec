/**
 * Transactions when memory is full, over TCP, against lab 4 and against a real `redis-server`
 * with the same expected bytes: refused while queueing, or at `EXEC`, never halfway through.
 *
 * "Full" is reached differently on each: lab 4 is started with a small `--maxmemory` and written
 * to until it refuses a write (its `used_memory` counts only the data, so it stays full); Redis
 * is given `CONFIG SET maxmemory 1`, which its own overhead already exceeds.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorReply, type Reply } from "../../shared/resp/reply.ts";
import {
  hasProgram,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { command } from "../01-single-client/suite.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, lab4Args } from "./test_support.ts";

const OOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
const PREVIOUS_ERRORS = "-EXECABORT Transaction discarded because of previous errors.\r\n";

/** A server to check, and how to fill its memory from a client. */
interface Target {
  name: string;
  ignore: boolean;
  start(): Promise<RunningServer>;
  fill(c: RawClient): Promise<void>;
}

const targets: Target[] = [
  {
    name: "lab 4",
    ignore: false,
    start: () =>
      startLabServer(LAB4_ENTRY, {
        args: lab4Args("--maxmemory", "64kb", "--maxmemory-policy", "noeviction"),
        denoFlags: [...LAB4_DENO_FLAGS],
      }),
    async fill(c) {
      const value = "v".repeat(1000);
      for (let i = 0; i < 200; i++) {
        const reply: Reply = await c.call("SET", `fill:${i}`, value);
        if (reply instanceof ErrorReply) return;
      }
      assert.fail("200 KB of writes never filled a 64 KB --maxmemory");
    },
  },
  {
    name: `real Redis${
      hasProgram("redis-server") ? "" : " (skipped: redis-server is not installed)"
    }`,
    ignore: !hasProgram("redis-server"),
    async start() {
      const redis = await startRedisServer(["--maxmemory-policy", "noeviction"]);
      if (redis === null) throw new Error("redis-server disappeared");
      return redis;
    },
    async fill(c) {
      await c.send(command("CONFIG", "SET", "maxmemory", "1"));
      await c.expect("+OK\r\n");
    },
  },
];

for (const target of targets) {
  Deno.test({
    name: `${target.name}: full memory refuses every command queued in MULTI, and EXEC aborts`,
    ignore: target.ignore,
    async fn() {
      await using server = await target.start();
      await using c = await RawClient.connect(server.addr);
      await target.fill(c);
      await c.send(
        command("MULTI") + command("GET", "k") + command("SET", "x", "y") + command("DEL", "k") +
          command("WATCH", "k") + command("SAVE") + command("NOSUCH") + command("EXEC"),
      );
      await c.expect(
        "+OK\r\n" + OOM + OOM + OOM + OOM +
          // Errors that come before the memory check: no-multi, then an unknown command.
          "-ERR Command not allowed inside a transaction\r\n" +
          "-ERR unknown command 'NOSUCH', with args beginning with: \r\n" + PREVIOUS_ERRORS,
      );
      // DISCARD ends a transaction whatever the memory; outside one, reads and DEL run as usual.
      await c.send(
        command("MULTI") + command("DISCARD") + command("GET", "x") + command("DEL", "x"),
      );
      await c.expect("+OK\r\n+OK\r\n$-1\r\n:0\r\n");
    },
  });

  Deno.test({
    name:
      `${target.name}: EXEC checks again: a queue that may add data is discarded, reads still run`,
    ignore: target.ignore,
    async fn() {
      await using server = await target.start();
      await using writer = await RawClient.connect(server.addr);
      await using reader = await RawClient.connect(server.addr);
      await using other = await RawClient.connect(server.addr);
      await writer.send(command("MULTI") + command("SET", "a", "1") + command("GET", "a"));
      await writer.expect("+OK\r\n+QUEUED\r\n+QUEUED\r\n");
      await reader.send(command("MULTI") + command("GET", "a") + command("DEL", "a"));
      await reader.expect("+OK\r\n+QUEUED\r\n+QUEUED\r\n");
      await target.fill(other);

      await writer.send(command("EXEC") + command("GET", "a"));
      await writer.expect(
        "-EXECABORT Transaction discarded because of: " + OOM.slice(1) + "$-1\r\n",
      );
      await reader.send(command("EXEC"));
      await reader.expect("*2\r\n$-1\r\n:0\r\n");
    },
  });
}

Deno.test("lab 4: a transaction admitted under the limit runs whole, even past the limit", async () => {
  await using server = await targets[0].start();
  await using c = await RawClient.connect(server.addr);
  // 100 KB of writes in one transaction, against a 64 KB bound: memory is checked once, before
  // EXEC, as in Redis; refusing the writes past the bound would leave half a transaction done.
  const value = "v".repeat(1000);
  let queue = command("MULTI");
  for (let i = 0; i < 100; i++) queue += command("SET", `t:${i}`, value);
  await c.send(queue);
  await c.expect("+OK\r\n" + "+QUEUED\r\n".repeat(100));
  await c.send(command("EXEC"));
  await c.expect("*100\r\n" + "+OK\r\n".repeat(100));
  // Now over the bound: the next write outside a transaction is refused.
  await c.send(command("SET", "more", "x") + command("DBSIZE"));
  await c.expect(OOM + ":100\r\n");
});
