/**
 * Lab 2's caching proxy: the classic socket-programming assignment's proxy, done properly.
 *
 * Run it in front of any Redis-compatible server:
 *
 * ```sh
 * deno task lab2 --port 6390                                     # the upstream
 * deno task lab2:proxy --port 6391 --upstream 127.0.0.1:6390     # the proxy
 * redis-cli -p 6391 GET greeting                                 # ask the proxy
 * redis-cli -p 6391 INFO proxy                                   # hits, misses, upstream calls
 * ```
 *
 * Clients talk RESP to the proxy exactly as they would to the server behind it. The proxy is a
 * server in its own right — lab 2's `runServer`, so connection limits, the idle timeout,
 * pipelining and clean shutdown come for free — with one hook changed: instead of running a
 * command against a keyspace, `execute` hands it to {@link CachingProxy}, which answers repeated
 * `GET`s from its cache and forwards everything else upstream. The modules in `proxy/` each teach
 * one idea: `cache.ts` (LRU and maximum age), `single_flight.ts` (one upstream request for many
 * concurrent misses), `command_effects.ts` (which keys a write invalidates), `upstream.ts`
 * (reconnecting with backoff and timeouts), `routing.ts` (what the proxy answers, refuses,
 * forwards), `caching_proxy.ts` (how they fit together).
 *
 * @module
 */

import { clientCompatCommands } from "../../shared/commands/mod.ts";
import { CommandTable } from "../../shared/server/command_table.ts";
import type { Peer } from "../01-single-client/connection.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import type { Transport } from "../../shared/transport.ts";
import { CachingProxy } from "./proxy/caching_proxy.ts";
import { ProxyAuth } from "./proxy/client_auth.ts";
import { parseProxyArgs, type ProxyCliOptions } from "./proxy/cli.ts";
import { runServer } from "./serve_many.ts";
import { lab2CommandTable } from "./server.ts";

/**
 * Runs the caching proxy on a listener until SIGINT or SIGTERM, then closes every client and
 * upstream connection.
 *
 * @param listener Where clients connect.
 * @param options The command line's options.
 */
export async function runProxy(
  listener: Deno.Listener,
  options: Omit<ProxyCliOptions, "host" | "port">,
): Promise<void> {
  // The proxy's own table holds only what it answers itself (INFO, CLIENT, CONFIG, HELLO, QUIT);
  // lab 2's full table tells it which forwarded commands write which keys.
  const commands = new CommandTable().registerAll(clientCompatCommands);
  // AUTH is the proxy's own: its clients authenticate to it, and it to the upstream.
  const auth = new ProxyAuth(options.requirepass);
  const hello = commands.get("hello");
  if (hello === undefined) throw new TypeError("Cannot add AUTH: the proxy's table has no HELLO");
  commands.registerAll(auth.commands(hello));
  const server = new ServerState({ commands });
  const proxy = new CachingProxy({
    upstream: options.upstream,
    upstreamAuth: options.upstreamPassword === undefined
      ? undefined
      : { user: options.upstreamUser, password: options.upstreamPassword },
    allowCommands: options.allowCommands,
    timeoutMs: options.upstreamTimeoutMs,
    cache: {
      maxEntries: options.maxEntries,
      maxBytes: options.maxBytes,
      maxAgeMs: options.maxAgeMs,
    },
    commands: lab2CommandTable(),
    log: server.log,
  });
  server.info.define("Proxy", () => proxy.info());
  server.config
    .define("proxy-upstream", () => proxy.upstream.address)
    .define("proxy-max-entries", () => String(options.maxEntries))
    .define("proxy-max-bytes", () => String(options.maxBytes))
    .define("proxy-max-age-ms", () => String(options.maxAgeMs))
    .define("requirepass", () => auth.configured);
  // Not awaited: the proxy listens whether or not the upstream is up yet.
  proxy.connect();

  try {
    await runServer(server, listener, {
      maxclients: options.maxclients,
      timeout: options.timeout,
      maxOutputBuffer: options.maxOutputBuffer,
      protectedMode: options.protectedMode,
      hooks: {
        execute: auth.gate(proxy.execute),
        onConnect: (session) => auth.admit(session),
        outputLimit: (session) => auth.outputLimit(session),
        // A proxy with a password may serve other machines; one without is loopback only.
        hasPassword: () => auth.required,
        // Not an upgrade of the bytes (lab 3 uses this hook for encryption), only a way to hear
        // when a client's connection closes, so its own upstream connection (if it has one, for a
        // transaction) closes too. runServer closes every connection through the transport it
        // got, whoever closes it: the client, the idle sweep, or shutdown.
        upgrade: (conn, peer) => Promise.resolve(noticeClose(conn, peer, proxy)),
      },
    });
  } finally {
    await proxy.close();
  }
}

/** The connection as it is, except that closing it also tells the proxy the client has left. */
function noticeClose(conn: Deno.Conn, peer: Peer, proxy: CachingProxy): Transport {
  return {
    read: (buffer) => conn.read(buffer),
    write: (data) => conn.write(data),
    close: () => {
      proxy.clientLeft(peer.remote);
      conn.close();
    },
  };
}

if (import.meta.main) {
  const options = parseProxyArgs(Deno.args);
  const listener = Deno.listen({ hostname: options.host, port: options.port });
  await runProxy(listener, options);
}
