/**
 * What `ServerState` reports about its limits: the ones the decoder really enforces.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_BYTE_STRING } from "../resp/limits.ts";
import { CommandTable } from "./command_table.ts";
import { ServerState } from "./server_state.ts";

Deno.test("ServerState caps the bulk string limit at the longest string, as the decoder does", () => {
  const server = new ServerState({
    commands: new CommandTable(),
    limits: { maxBulkLength: 1024 ** 3 },
    log: () => {},
  });
  assert.equal(server.limits.maxBulkLength, MAX_BYTE_STRING);
  assert.deepEqual(server.config.match(["proto-max-bulk-len"]), [
    ["proto-max-bulk-len", String(MAX_BYTE_STRING)],
  ]);
});
