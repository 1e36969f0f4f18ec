/**
 * How a batch of replies meets the output limit, one call of `runCommands()` at a time: replies
 * that add up past the limit end the batch with "overflow" (the caller disconnects), while one
 * reply that is bigger than the limit on its own ends it with "send" (the caller writes it, then
 * calls again for the rest). The black-box checks over a socket are in
 * `limits_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RespWriter } from "../../shared/resp/encoder.ts";
import { CommandTable } from "../../shared/server/command_table.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../shared/server/session.ts";
import { runCommands } from "./batch_loop.ts";
import { RequestDecoder } from "./request_decoder.ts";

/** `BLOB n` answers n bytes: a stand-in for `GET` of a value that size. */
function session(): Session {
  const commands = new CommandTable().register({
    name: "blob",
    arity: 2,
    flags: ["readonly"],
    summary: "Returns that many bytes",
    group: "test",
    handler: (_session, args) => "x".repeat(Number(args[1])),
  });
  const server = new ServerState({ commands, log: () => {} });
  const client = new ClientState(server.nextClientId(), "127.0.0.1:1", "127.0.0.1:2", Date.now());
  return { db: server.db, client, server };
}

function decoderWith(...lines: string[]): RequestDecoder {
  const decoder = new RequestDecoder();
  decoder.push(new TextEncoder().encode(lines.map((l) => `${l}\r\n`).join("")));
  return decoder;
}

const LIMIT = 1000;

Deno.test("runCommands() ends with 'overflow' when replies add up past the limit", () => {
  const out = new RespWriter();
  const decoder = decoderWith(...Array<string>(10).fill("BLOB 300"));
  assert.equal(runCommands(session(), decoder, out, { maxOutput: LIMIT }), "overflow");
  // Four replies of 308 bytes: the fourth took the batch past 1000.
  assert.equal(out.length, 4 * 308);
});

Deno.test("runCommands() ends with 'send' after one reply bigger than the limit", () => {
  const s = session();
  const out = new RespWriter();
  const decoder = decoderWith("BLOB 10", "BLOB 5000", "BLOB 5000", "BLOB 10");
  // The small reply and the big one go out together, and nothing after them has run yet.
  assert.equal(runCommands(s, decoder, out, { maxOutput: LIMIT }), "send");
  assert.equal(out.take().length, 17 + 5009);
  // The caller has sent them; the next call holds the second big reply alone.
  assert.equal(runCommands(s, decoder, out, { maxOutput: LIMIT }), "send");
  assert.equal(out.take().length, 5009);
  assert.equal(runCommands(s, decoder, out, { maxOutput: LIMIT }), "more");
  assert.equal(out.take().length, 17);
});
