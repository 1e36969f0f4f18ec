/**
 * Protected mode in lab 3: the password counts. Listening on every interface, a server without
 * `--requirepass` refuses a client that is not on the loopback interface before any handshake
 * (the client shows Redis's DENIED text in its error); with a password, that client completes the
 * handshake and meets AUTH instead, as a Redis with `requirepass` lets it in.
 *
 * @module
 */

import assert from "node:assert/strict";
import { NO_NON_LOOPBACK, nonLoopbackIPv4 } from "../../shared/testing/non_loopback.ts";
import { bulk, command } from "../01-single-client/suite.ts";
import { secureRawConnect, startLab3 } from "./test_support.ts";

const outside = await nonLoopbackIPv4();
const skip = outside === null ? ` (${NO_NON_LOOPBACK})` : "";

Deno.test({
  name: "lab 3 without a password refuses a client not on loopback with Redis's DENIED" + skip,
  ignore: outside === null,
  fn: async () => {
    await using lab3 = await startLab3(["--host", "0.0.0.0"]);
    const connect = secureRawConnect(lab3.fingerprint);
    await assert.rejects(
      connect(`${outside}:${lab3.server.port}`),
      /did not answer the secure handshake; it replied "-DENIED Redis is running in protected mode/,
    );
    // Loopback clients are served as ever.
    await using local = await connect(`127.0.0.1:${lab3.server.port}`);
    await local.send(command("CONFIG", "GET", "protected-mode"));
    await local.expect("*2\r\n" + bulk("protected-mode") + bulk("yes"));
  },
});

Deno.test({
  name: "lab 3 with --requirepass serves a client not on loopback, which must AUTH" + skip,
  ignore: outside === null,
  fn: async () => {
    await using lab3 = await startLab3(["--host", "0.0.0.0", "--requirepass", "hunter2"]);
    await using stranger = await secureRawConnect(lab3.fingerprint)(
      `${outside}:${lab3.server.port}`,
    );
    await stranger.send(command("GET", "k"));
    await stranger.expect("-NOAUTH Authentication required.\r\n");
    await stranger.send(command("AUTH", "hunter2"));
    await stranger.expect("+OK\r\n");
  },
});
