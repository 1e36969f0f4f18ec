/**
 * `HELLO` as every lab without a password has it (labs 1, 2 and 4): the same words as Redis 7.0,
 * checked against a real `redis-server` by lab 3's `noPasswordAuthSteps`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorReply, MapReply, type Reply } from "../resp/reply.ts";
import { CommandTable } from "../server/command_table.ts";
import { ServerState } from "../server/server_state.ts";
import { ClientState, type Session } from "../server/session.ts";
import { connectionCommands } from "./connection.ts";

function hello(...args: string[]): Reply {
  const server = new ServerState({ commands: new CommandTable().registerAll(connectionCommands) });
  const session: Session = { db: server.db, server, client: new ClientState(1, "a", "b", 0) };
  const spec = server.commands.get("hello");
  assert.ok(spec?.handler !== undefined);
  const reply = spec.handler(session, ["HELLO", ...args]);
  assert.ok(!(reply instanceof Promise));
  return reply;
}

function errorText(reply: Reply): string {
  assert.ok(reply instanceof ErrorReply, `expected an error, got ${String(reply)}`);
  return reply.message;
}

Deno.test("HELLO refuses a version Redis's string2ll would not read: 02, -0, +2, 2^63", () => {
  for (const version of ["02", "-0", "+2", "2 ", "0x2", "", "9223372036854775808"]) {
    assert.equal(
      errorText(hello(version)),
      "ERR Protocol version is not an integer or out of range",
      JSON.stringify(version),
    );
  }
  for (const version of ["4", "0", "-1", "9223372036854775807"]) {
    assert.equal(errorText(hello(version)), "NOPROTO unsupported protocol version", version);
  }
  for (const version of ["2", "3"]) {
    const reply = hello(version);
    assert.ok(reply instanceof MapReply);
    assert.deepEqual(reply.entries[2], ["proto", Number(version)]);
  }
});

Deno.test("HELLO AUTH without a password accepts any password for default, no other user", () => {
  assert.ok(hello("2", "AUTH", "default", "anything") instanceof MapReply);
  assert.equal(
    errorText(hello("2", "AUTH", "admin", "anything")),
    "WRONGPASS invalid username-password pair or user is disabled.",
  );
});
