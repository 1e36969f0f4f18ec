/**
 * Lab 1's loop: one client at a time.
 *
 * It accepts a connection, serves it until the client leaves, and only then accepts the next one.
 * A second client can still connect while the first is being served (the operating system
 * completes the TCP handshake and queues it in the listen backlog), but nothing reads its bytes,
 * so its commands wait unanswered. Lab 2 removes the `await`.
 *
 * @module
 */

import { onShutdownSignal } from "../../shared/server/cli.ts";
import { execute, formatAddr, serveConnection } from "./connection.ts";
import { noDelay } from "../../shared/no_delay.ts";
import type { ServerState } from "../../shared/server/server_state.ts";
import type { Stage } from "../../shared/server/stage.ts";

/** Options for {@link serveOneAtATime}. */
export interface ServeOneOptions {
  /** Prints the ready line; `listening on HOST:PORT` on stdout by default. */
  onListening?: (address: { host: string; port: number }) => void;
}

/**
 * Serves clients one at a time on a listener until SIGINT or SIGTERM (or until the listener is
 * closed), then returns.
 *
 * @param server The server's state: command table and keyspace.
 * @param listener Where clients connect.
 * @param options What to print when ready.
 */
export async function serveOneAtATime(
  server: ServerState,
  listener: Deno.Listener,
  options: ServeOneOptions = {},
): Promise<void> {
  const addr = listener.addr as Deno.NetAddr;
  server.address = { host: addr.hostname, port: addr.port };
  let current: Deno.Conn | undefined;
  const stopListening = onShutdownSignal(server.log, () => {
    listener.close();
    current?.close();
  });
  (options.onListening ?? printReady)(server.address);

  // One client at a time: `await` means the next accept waits until this client has left.
  for await (const conn of listener) {
    // Replies leave at once, not after the client's delayed ACK: see shared/no_delay.ts.
    current = noDelay(conn);
    const peer = { remote: formatAddr(conn.remoteAddr), local: formatAddr(conn.localAddr) };
    // exercise step 9: serve this client until it leaves, and only then accept the next one
    await serveConnection(server, conn, peer);
    // exercise starter: void serveConnection(server, conn, peer);
    current = undefined;
  }
  stopListening();
}

function printReady(address: { host: string; port: number }): void {
  console.log(`listening on ${address.host}:${address.port}`);
}

/** The stage: clients are served by {@link serveOneAtATime}, commands by the table as they are. */
export const serveOneClient: Stage<unknown> = {
  name: "serve one client",
  module: import.meta.url,
  install(assembly) {
    assembly.execute = execute;
    assembly.serve = (listener) =>
      serveOneAtATime(assembly.server, listener, { onListening: (a) => assembly.listening(a) });
  },
};
