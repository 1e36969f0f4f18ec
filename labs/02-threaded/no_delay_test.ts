/**
 * Every connection lab 2 accepts, and the caching proxy's upstream connection, has Nagle's
 * algorithm turned off (see `shared/no_delay.ts` for why). Labs 3 and 4 and the proxy accept
 * through the same `runServer`, so its loop is the one to check; the proxy's upstream connection
 * is its own.
 *
 * Checked with a spy on `setNoDelay`, not with a stopwatch: the servers run in this process, a real
 * client connects over TCP and gets its answer, and the spy says whether each end was given
 * `TCP_NODELAY`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServerState } from "../../shared/server/server_state.ts";
import { NoDelaySpy } from "../../shared/testing/no_delay_spy.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { bulk, command } from "../01-single-client/suite.ts";
import { runProxy } from "./proxy.ts";
import { runServer } from "./serve_many.ts";
import { lab2CommandTable } from "./server.ts";

const LIMITS = { maxclients: 100, timeout: 0, maxOutputBuffer: 1024 * 1024 };

/** Starts lab 2's server in this process; closing the listener stops it. */
function startLab2(listener: Deno.TcpListener): Promise<void> {
  const server = new ServerState({
    commands: lab2CommandTable(),
    log: () => {},
  });
  return runServer(server, listener, { ...LIMITS, hooks: { onListening: () => {} } });
}

function listen(): Deno.TcpListener {
  return Deno.listen({ hostname: "127.0.0.1", port: 0 });
}

Deno.test("lab 2's accept loop sets TCP_NODELAY on each connection it accepts", async () => {
  using spy = await NoDelaySpy.install();
  const listener = listen();
  const serving = startLab2(listener);
  try {
    await spy.assertAcceptLoop(listener.addr.port, "PING\r\n", "+PONG\r\n");
  } finally {
    listener.close();
    await serving;
  }
});

Deno.test("the caching proxy sets TCP_NODELAY on its clients and on its upstream", async () => {
  using spy = await NoDelaySpy.install();
  const upstreamListener = listen();
  const upstream = startLab2(upstreamListener);
  const upstreamAddr = `127.0.0.1:${upstreamListener.addr.port}`;
  const proxyListener = listen();
  const proxying = runProxy(proxyListener, {
    ...LIMITS,
    upstream: { host: "127.0.0.1", port: upstreamListener.addr.port },
    maxEntries: 100,
    maxBytes: 1024 * 1024,
    maxAgeMs: 60_000,
    upstreamTimeoutMs: 5_000,
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxyListener.addr.port });
    await using client = RawClient.over(conn);
    // SET goes upstream, so its +OK proves the proxy has opened its upstream connection.
    await client.send(command("SET", "k", "v") + command("GET", "k"));
    await client.expect("+OK\r\n" + bulk("v"));
    assert.ok(spy.setOnServerEndOf(conn), "the proxy's end of the client's connection");
    assert.ok(spy.setOnConnectionTo(upstreamAddr), "the proxy's connection to its upstream");
  } finally {
    proxyListener.close();
    await proxying;
    upstreamListener.close();
    await upstream;
  }
});
