/**
 * Lab 1's accept loop turns off Nagle's algorithm on every connection it accepts (see
 * `shared/no_delay.ts` for why). Checked with a spy on `setNoDelay`, not with a stopwatch: the
 * server runs in this process, a real client connects over TCP and gets its answer, and the spy
 * says whether the server's end of that connection was given `TCP_NODELAY`.
 *
 * @module
 */

import { ServerState } from "../../shared/server/server_state.ts";
import { NoDelaySpy } from "../../shared/testing/no_delay_spy.ts";
import { lab1CommandTable } from "./server.ts";
import { serveOneAtATime } from "./serve_one.ts";

Deno.test("lab 1's accept loop sets TCP_NODELAY on each connection it accepts", async () => {
  using spy = await NoDelaySpy.install();
  const server = new ServerState({ commands: lab1CommandTable(), log: () => {} });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = serveOneAtATime(server, listener, { onListening: () => {} });
  try {
    await spy.assertAcceptLoop(listener.addr.port, "PING\r\n", "+PONG\r\n");
  } finally {
    listener.close();
    await serving;
  }
});
