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
import { formatAddr, serveConnection } from "../../shared/server/connection.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import { lab1Commands } from "./commands.ts";

/** Builds lab 1's command table: the connect-time commands and lab 1's own. */
export function lab1CommandTable(): CommandTable {
  return new CommandTable().registerAll(clientCompatCommands).registerAll(lab1Commands);
}

if (import.meta.main) {
  const options = parseServerArgs(Deno.args, {
    usage: "deno task lab1",
    description: "Lab 1: a Redis-compatible cache server that serves one client at a time.",
  });
  const server = new ServerState({ commands: lab1CommandTable() });
  const listener = Deno.listen({ hostname: options.host, port: options.port });
  server.address = { host: listener.addr.hostname, port: listener.addr.port };
  let current: Deno.Conn | undefined;
  onShutdownSignal(server.log, () => {
    listener.close();
    current?.close();
  });
  console.log(`listening on ${server.address.host}:${server.address.port}`);

  // One client at a time: `await` means the next accept waits until this client has left.
  for await (const conn of listener) {
    current = conn;
    await serveConnection(server, conn, {
      remote: formatAddr(conn.remoteAddr),
      local: formatAddr(conn.localAddr),
    });
    current = undefined;
  }
}
