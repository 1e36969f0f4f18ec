/**
 * Lab 1's server: a Redis-compatible cache that serves one client at a time.
 *
 * Run it with `deno task lab1` (add `--port 0` for any free port), then talk to it with
 * `deno task lab1:client`, `redis-cli` or `nc`.
 *
 * The accept loop below is the lesson. It accepts a connection, serves it until the client leaves,
 * and only then accepts the next one. A second client can still connect while the first is being
 * served (the operating system completes the TCP handshake and queues it in the listen backlog),
 * but nothing reads its bytes, so its commands wait unanswered. Lab 2 removes the `await`.
 *
 * @module
 */

import { clientCompatCommands } from "../../shared/commands/mod.ts";
import { onShutdownSignal, parseServerArgs } from "../../shared/server/cli.ts";
import { CommandTable } from "../../shared/server/command_table.ts";
import { noDelay } from "../../shared/no_delay.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import { lab1Commands } from "./commands.ts";
import { formatAddr, serveConnection } from "./connection.ts";

/** Builds lab 1's command table: the connect-time commands and lab 1's own. */
export function lab1CommandTable(): CommandTable {
  return new CommandTable().registerAll(clientCompatCommands).registerAll(lab1Commands);
}

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
  listener: Deno.TcpListener,
  options: ServeOneOptions = {},
): Promise<void> {
  server.address = { host: listener.addr.hostname, port: listener.addr.port };
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
    await serveConnection(server, conn, {
      remote: formatAddr(conn.remoteAddr),
      local: formatAddr(conn.localAddr),
    });
    current = undefined;
  }
  stopListening();
}

function printReady(address: { host: string; port: number }): void {
  console.log(`listening on ${address.host}:${address.port}`);
}

if (import.meta.main) {
  const options = parseServerArgs(Deno.args, {
    usage: "deno task lab1",
    description: "Lab 1: a Redis-compatible cache server that serves one client at a time.",
  });
  const server = new ServerState({ commands: lab1CommandTable() });
  await serveOneAtATime(server, Deno.listen({ hostname: options.host, port: options.port }));
}
