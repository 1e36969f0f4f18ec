/**
 * The proxy as a door to its upstream (issue: a proxy on 127.0.0.1 forwarded admin commands past
 * the upstream's protected mode). Black-box, proxy and upstream as real processes:
 *
 * - only data commands are forwarded: admin commands are refused and never reach the upstream
 *   (counted on the upstream's own `total_commands_processed`), unless `--allow-commands` names them;
 * - `--requirepass`: the proxy's own clients must `AUTH`, in Redis's words;
 * - `--upstream-password`: the proxy authenticates each upstream connection, shared or
 *   dedicated, to a real `redis-server --requirepass`;
 * - protected mode: a proxy without a password serves only loopback clients.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorReply } from "../../../shared/resp/reply.ts";
import { PROTECTED_MODE_DENIED } from "../../../shared/server/protected_mode.ts";
import { NO_NON_LOOPBACK, nonLoopbackIPv4 } from "../../../shared/testing/non_loopback.ts";
import {
  hasProgram,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../../../shared/testing/processes.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { bulk, command } from "../../01-single-client/suite.ts";
import {
  available,
  commandsBetween,
  startUpstream,
  UPSTREAM_KINDS,
  upstreamCommands,
} from "./test_servers.ts";

const PROXY = "labs/02-threaded/proxy.ts";
const PASSWORD = "proxy-secret";
const UPSTREAM_PASSWORD = "upstream-secret";
const NO_REDIS = "skipped: redis-server is not installed";

function startProxy(upstreamAddr: string, ...args: string[]): Promise<RunningServer> {
  return startLabServer(PROXY, { args: ["--upstream", upstreamAddr, ...args] });
}

/** The commands from the issue, each of which must stop at the proxy. */
const ADMIN: string[][] = [
  ["FLUSHALL"],
  ["FLUSHDB"],
  ["SHUTDOWN", "NOSAVE"],
  ["EVAL", "return redis.call('flushall')", "0"],
  ["ACL", "SETUSER", "intruder", "on", ">pw", "+@all"],
  ["REPLICAOF", "127.0.0.1", "1"],
  ["DEBUG", "SLEEP", "0"],
  ["MEMORY", "PURGE"],
];

for (const kind of UPSTREAM_KINDS) {
  const skip = available(kind) ? "" : ` (${NO_REDIS})`;

  Deno.test({
    name: `proxy over ${kind}: admin commands are refused and never reach the upstream${skip}`,
    ignore: skip !== "",
    fn: async () => {
      await using upstream = await startUpstream(kind);
      await using proxy = await startProxy(upstream.addr);
      await using client = await RawClient.connect(proxy.addr);
      await client.send(command("SET", "kept", "yes"));
      await client.expect("+OK\r\n");
      const before = await upstreamCommands(upstream);
      for (const args of ADMIN) {
        const name = args[0].toLowerCase();
        await client.send(command(...args));
        await client.expect(
          `-ERR '${name}' is not forwarded by this proxy: it forwards only the data commands on ` +
            "its allow-list (to forward this one, start the proxy with --allow-commands NAME)\r\n",
        );
      }
      assert.equal(commandsBetween(before, await upstreamCommands(upstream)), 0);
      // A name nobody knows gets Redis's words, as from a server; MEMORY USAGE is a read.
      await client.send(command("NOSUCHCMD", "a"));
      await client.expect("-ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' \r\n");
      await client.send(command("GET", "kept"));
      await client.expect(bulk("yes"));
      const usage = await client.call("MEMORY", "USAGE", "kept");
      assert.equal(typeof usage, "number", `MEMORY USAGE is forwarded: ${String(usage)}`);
    },
  });

  Deno.test({
    name: `proxy over ${kind}: --allow-commands forwards what the operator names${skip}`,
    ignore: skip !== "",
    fn: async () => {
      await using upstream = await startUpstream(kind);
      await using proxy = await startProxy(upstream.addr, "--allow-commands", "FlushDB");
      await using client = await RawClient.connect(proxy.addr);
      await client.send(command("SET", "k", "v") + command("FLUSHDB") + command("EXISTS", "k"));
      await client.expect("+OK\r\n+OK\r\n:0\r\n");
    },
  });

  Deno.test({
    name: `proxy over ${kind}: a refused command inside MULTI aborts the transaction${skip}`,
    ignore: skip !== "",
    fn: async () => {
      await using upstream = await startUpstream(kind);
      await using proxy = await startProxy(upstream.addr);
      await using client = await RawClient.connect(proxy.addr);
      await client.send(command("MULTI") + command("SET", "tx", "ran"));
      await client.expect("+OK\r\n+QUEUED\r\n");
      await client.send(command("FLUSHALL"));
      const refused = await client.readReply();
      assert.ok(refused instanceof ErrorReply && refused.message.includes("not forwarded"));
      await client.send(command("EXEC") + command("EXISTS", "tx"));
      await client.expect(
        "-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n",
      );
    },
  });
}

Deno.test("proxy --requirepass: NOAUTH first, WRONGPASS for a wrong password, then served", async () => {
  await using upstream = await startUpstream("lab 2");
  await using proxy = await startProxy(upstream.addr, "--requirepass", PASSWORD);
  await using client = await RawClient.connect(proxy.addr);
  await client.send(
    command("GET", "k") + command("FLUSHALL") + command("CONFIG", "GET", "maxclients"),
  );
  await client.expect("-NOAUTH Authentication required.\r\n".repeat(3));
  await client.send(command("AUTH", "wrong") + command("AUTH", "root", PASSWORD));
  await client.expect(
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n".repeat(2),
  );
  await client.send(command("AUTH", PASSWORD) + command("SET", "k", "v") + command("GET", "k"));
  await client.expect("+OK\r\n+OK\r\n" + bulk("v"));
  await client.send(command("CONFIG", "GET", "requirepass"));
  await client.expect("*2\r\n" + bulk("requirepass") + bulk(PASSWORD));

  // HELLO with AUTH logs in and says hello at once; without it, Redis's HELLO refusal.
  await using other = await RawClient.connect(proxy.addr);
  await other.send(command("HELLO", "2"));
  const refused = await other.readReply();
  assert.ok(refused instanceof ErrorReply && refused.message.startsWith("NOAUTH HELLO must"));
  await other.send(command("HELLO", "2", "AUTH", "default", PASSWORD));
  assert.ok(Array.isArray(await other.readReply()), "HELLO's map, as an array in RESP2");
  await other.send(command("GET", "k"));
  await other.expect(bulk("v"));
});

Deno.test("proxy --requirepass: five wrong passwords close the connection, one log line", async () => {
  await using upstream = await startUpstream("lab 2");
  await using proxy = await startProxy(upstream.addr, "--requirepass", PASSWORD);
  await using client = await RawClient.connect(proxy.addr);
  await client.send(command("AUTH", "guess").repeat(5));
  await client.expect(
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n".repeat(5),
  );
  await client.expectClosed();
  assert.ok(await proxy.waitForLog(/closed after 5 failed AUTH/), proxy.log());
  assert.ok(!proxy.log().includes("guess"), "what the client sent is not logged");
});

Deno.test("proxy without --requirepass answers AUTH as Redis without a password does", async () => {
  await using upstream = await startUpstream("lab 2");
  await using proxy = await startProxy(upstream.addr);
  await using client = await RawClient.connect(proxy.addr);
  await client.send(command("AUTH", "anything"));
  await client.expect(
    "-ERR AUTH <password> called without any password configured for the default user. Are " +
      "you sure your configuration is correct?\r\n",
  );
});

const redisSkip = hasProgram("redis-server") ? "" : ` (${NO_REDIS})`;

Deno.test({
  name: "proxy --upstream-password authenticates to redis-server --requirepass, shared and " +
    "transaction connections" + redisSkip,
  ignore: redisSkip !== "",
  fn: async () => {
    await using redis = await startRedisServer(["--requirepass", UPSTREAM_PASSWORD]);
    assert.ok(redis !== null);
    await using proxy = await startProxy(
      redis.addr,
      "--upstream-password",
      UPSTREAM_PASSWORD,
      "--requirepass",
      PASSWORD,
    );
    await using client = await RawClient.connect(proxy.addr);
    await client.send(command("AUTH", PASSWORD));
    await client.expect("+OK\r\n");
    await client.send(command("SET", "k", "v") + command("GET", "k"));
    await client.expect("+OK\r\n" + bulk("v"));
    // MULTI opens a connection of the client's own, which must authenticate too.
    await client.send(command("MULTI") + command("INCR", "n") + command("EXEC"));
    await client.expect("+OK\r\n+QUEUED\r\n*1\r\n:1\r\n");
    assert.ok(!proxy.log().includes(UPSTREAM_PASSWORD), "the password is never logged");
  },
});

Deno.test({
  name: "proxy with a wrong --upstream-password says AUTH was refused, never the password" +
    redisSkip,
  ignore: redisSkip !== "",
  fn: async () => {
    await using redis = await startRedisServer(["--requirepass", UPSTREAM_PASSWORD]);
    assert.ok(redis !== null);
    await using proxy = await startProxy(redis.addr, "--upstream-password", "not-it");
    await using client = await RawClient.connect(proxy.addr);
    await client.send(command("GET", "k"));
    await client.expect(
      `-ERR upstream ${redis.addr} unavailable: AUTH refused: WRONGPASS invalid ` +
        "username-password pair or user is disabled.\r\n",
    );
    assert.ok(await proxy.waitForLog(/unreachable: AUTH refused: WRONGPASS/), proxy.log());
    assert.ok(!proxy.log().includes("not-it"), "the password is never logged");
  },
});

Deno.test({
  name: "proxy without --upstream-password passes on the upstream's NOAUTH" + redisSkip,
  ignore: redisSkip !== "",
  fn: async () => {
    await using redis = await startRedisServer(["--requirepass", UPSTREAM_PASSWORD]);
    assert.ok(redis !== null);
    await using proxy = await startProxy(redis.addr);
    await using client = await RawClient.connect(proxy.addr);
    await client.send(command("GET", "k"));
    await client.expect("-NOAUTH Authentication required.\r\n");
  },
});

const outside = await nonLoopbackIPv4();

Deno.test({
  name: "proxy on every interface: protected mode without a password, AUTH with one" +
    (outside === null ? ` (${NO_NON_LOOPBACK})` : ""),
  ignore: outside === null,
  fn: async () => {
    await using upstream = await startUpstream("lab 2");
    await using open = await startProxy(upstream.addr, "--host", "0.0.0.0");
    await using stranger = await RawClient.connect(`${outside}:${open.port}`);
    await stranger.expect(PROTECTED_MODE_DENIED);
    await stranger.expectClosed();

    await using guarded = await startProxy(
      upstream.addr,
      "--host",
      "0.0.0.0",
      "--requirepass",
      PASSWORD,
    );
    await using remote = await RawClient.connect(`${outside}:${guarded.port}`);
    await remote.send(command("PING"));
    await remote.expect("-NOAUTH Authentication required.\r\n");
    await remote.send(command("AUTH", PASSWORD) + command("PING"));
    await remote.expect("+OK\r\n+PONG\r\n");
  },
});
