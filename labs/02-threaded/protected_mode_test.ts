/**
 * Protected mode, live: lab 2 listening on every interface with no password, and a real
 * `redis-server` bound the same way, reached through this machine's non-loopback address. The
 * same bytes must come back from both: Redis's DENIED text and a closed connection for a client
 * not on the loopback interface, ordinary service for one that is.
 *
 * Tests can only run on this machine, so "a client from elsewhere" is a connection to one of this
 * machine's own non-loopback addresses: the kernel then gives it that address as its source.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PROTECTED_MODE_DENIED } from "../../shared/server/protected_mode.ts";
import { NO_NON_LOOPBACK, nonLoopbackIPv4 } from "../../shared/testing/non_loopback.ts";
import {
  hasProgram,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../../shared/testing/processes.ts";
import { RawClient, replyText } from "../../shared/testing/raw_client.ts";
import { bulk, command } from "../01-single-client/suite.ts";

const ENTRY = "labs/02-threaded/server.ts";
const outside = await nonLoopbackIPv4();

/** Lab 2 and real Redis, each on every interface with the given flags. */
const TARGETS: { name: string; start(flags: string[]): Promise<RunningServer> }[] = [
  {
    name: "lab 2",
    start: (flags) => startLabServer(ENTRY, { args: ["--host", "0.0.0.0", ...flags] }),
  },
  {
    name: "real Redis",
    start: async (flags) => {
      const server = await startRedisServer(["--bind", "0.0.0.0", ...flags]);
      if (server === null) throw new Error("redis-server is not installed");
      return server;
    },
  },
];

function register(name: string, fn: (target: (typeof TARGETS)[number]) => Promise<void>): void {
  for (const target of TARGETS) {
    const why = outside === null
      ? NO_NON_LOOPBACK
      : target.name === "real Redis" && !hasProgram("redis-server")
      ? "skipped: redis-server is not installed"
      : undefined;
    Deno.test({
      name: `${target.name}: ${name}${why === undefined ? "" : ` (${why})`}`,
      ignore: why !== undefined,
      fn: () => fn(target),
    });
  }
}

/** Connects to the server through this machine's non-loopback address. */
function fromOutside(server: RunningServer): Promise<RawClient> {
  return RawClient.connect(`${outside}:${server.port}`);
}

function fromLoopback(server: RunningServer): Promise<RawClient> {
  return RawClient.connect(`127.0.0.1:${server.port}`);
}

register("a client not on loopback reads DENIED and is closed", async (target) => {
  await using server = await target.start([]);
  await using stranger = await fromOutside(server);
  await stranger.expect(PROTECTED_MODE_DENIED);
  await stranger.expectClosed();
  // A loopback client is served, sees the setting, and the refusal counted as Redis counts it.
  await using local = await fromLoopback(server);
  await local.send(command("CONFIG", "GET", "protected-mode"));
  await local.expect("*2\r\n" + bulk("protected-mode") + bulk("yes"));
  await local.send(command("INFO", "stats"));
  assert.match(replyText(await local.readReply(), "INFO stats"), /rejected_connections:1\r\n/);
});

register("--protected-mode no serves a client not on loopback", async (target) => {
  await using server = await target.start(["--protected-mode", "no"]);
  await using stranger = await fromOutside(server);
  await stranger.send(command("PING"));
  await stranger.expect("+PONG\r\n");
});

register("CONFIG SET protected-mode no from loopback lets others in", async (target) => {
  await using server = await target.start([]);
  await using local = await fromLoopback(server);
  await local.send(command("CONFIG", "SET", "protected-mode", "maybe"));
  await local.expect(
    "-ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be " +
      "'yes' or 'no'\r\n",
  );
  await local.send(command("CONFIG", "SET", "protected-mode", "no"));
  await local.expect("+OK\r\n");
  await using stranger = await fromOutside(server);
  await stranger.send(command("PING"));
  await stranger.expect("+PONG\r\n");
});
