/**
 * The memcached port's accept loop turns off Nagle's algorithm on every connection it accepts (see
 * `shared/no_delay.ts` for why). Checked with a spy on `setNoDelay`, not with a stopwatch: the
 * listener runs in this process, a real client connects over TCP and gets its answer, and the spy
 * says whether the server's end of that connection was given `TCP_NODELAY`.
 *
 * @module
 */

import { NoDelaySpy } from "../../../shared/testing/no_delay_spy.ts";
import { ExpiringKeyspace } from "../keyspace.ts";
import { MEMCACHED_VERSION, startMemcacheServer } from "./mod.ts";

Deno.test("the memcached port sets TCP_NODELAY on each connection it accepts", async () => {
  using spy = await NoDelaySpy.install();
  const server = startMemcacheServer({
    host: "127.0.0.1",
    port: 0,
    db: new ExpiringKeyspace(),
    propagate: () => {},
    beforeWrite: () => undefined,
    log: () => {},
  });
  try {
    await spy.assertAcceptLoop(
      server.address.port,
      "version\r\n",
      `VERSION ${MEMCACHED_VERSION}\r\n`,
    );
  } finally {
    await server.close();
  }
});
