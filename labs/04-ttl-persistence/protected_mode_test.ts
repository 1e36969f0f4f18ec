/**
 * Protected mode in lab 4: it serves through lab 2's `runServer`, so on every interface with no
 * password it refuses a client that is not on the loopback interface, with Redis's DENIED text.
 * See `labs/02-threaded/protected_mode_test.ts` for the same checks against a real `redis-server`.
 *
 * @module
 */

import { PROTECTED_MODE_DENIED } from "../../shared/server/protected_mode.ts";
import { NO_NON_LOOPBACK, nonLoopbackIPv4 } from "../../shared/testing/non_loopback.ts";
import { startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { command } from "../01-single-client/suite.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, lab4Args } from "./test_support.ts";

const outside = await nonLoopbackIPv4();

Deno.test({
  name: "lab 4 on every interface refuses a client not on loopback, serves one that is" +
    (outside === null ? ` (${NO_NON_LOOPBACK})` : ""),
  ignore: outside === null,
  fn: async () => {
    await using server = await startLabServer(LAB4_ENTRY, {
      args: lab4Args("--host", "0.0.0.0"),
      denoFlags: [...LAB4_DENO_FLAGS],
    });
    await using stranger = await RawClient.connect(`${outside}:${server.port}`);
    await stranger.expect(PROTECTED_MODE_DENIED);
    await stranger.expectClosed();
    await using local = await RawClient.connect(`127.0.0.1:${server.port}`);
    await local.send(command("PING"));
    await local.expect("+PONG\r\n");
  },
});
