/**
 * One keyspace, two protocols: what memcached writes the RESP side reads and the other way round,
 * cas uniques that notice every change, and writes logged so that replaying the log rebuilds the
 * same keyspace. The RESP side is played by calling the keyspace the way lab 4's commands do
 * (`set` for SET, `update` for APPEND/INCR, `clear` for FLUSHALL); the black-box version against
 * lab 4's server is `resp_interop_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorReply, OK, type Reply } from "../../../shared/resp/reply.ts";
import { CommandTable } from "../../../shared/server/command_table.ts";
import { resolveCommand } from "../../01-single-client/connection.ts";
import { ServerState } from "../../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../../shared/server/session.ts";
import { ManualClock } from "../clock.ts";
import { ExpiringKeyspace } from "../keyspace.ts";
import { memcacheLogCommands } from "./mod.ts";
import { getReply, storage } from "./suite.ts";
import { McClient, parseValueLine, startInProcess } from "./testing.ts";

const NOW = 1_700_000_000_000;

/** `gets` one key and returns its cas unique. */
async function casOf(c: McClient, key: string): Promise<bigint> {
  await c.send(`gets ${key}\r\n`);
  const { cas, bytes } = parseValueLine(await c.readLine());
  await c.read(bytes);
  await c.expect("\r\nEND\r\n");
  return cas;
}

Deno.test("a memcached item is a plain key to the keyspace, flags and expiry included", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "k", 42, 100, "hello"));
  await c.expect("STORED\r\n");
  assert.deepEqual([...mc.db.entries()], [
    { key: "k", value: "hello", expiresAt: NOW + 100_000, flags: 42 },
  ]);
});

Deno.test("a key written over RESP is an item with flags 0 and a cas unique", async () => {
  await using mc = startInProcess();
  await using c = await McClient.connect(mc.addr);
  mc.db.set("k", "from resp");
  await c.send("get k\r\n");
  await c.expect(getReply("k", 0, "from resp"));
  const cas = await casOf(c, "k");
  await c.send(storage("cas", "k", 0, 0, "swapped", ` ${cas}`));
  await c.expect("STORED\r\n");
  assert.equal(mc.db.get("k"), "swapped");
});

Deno.test("a change through any path makes an old cas unique fail with EXISTS", async () => {
  await using mc = startInProcess();
  await using c = await McClient.connect(mc.addr);
  // What RESP's SET, APPEND and EXPIRE do to the keyspace, and the flags each leaves.
  const changes: [string, () => void, number][] = [
    ["SET", () => mc.db.set("k", "resp"), 0],
    ["APPEND", () => mc.db.update("k", "mc!"), 7],
    ["EXPIRE", () => mc.db.setExpiresAt("k", Date.now() + 100_000), 7],
  ];
  for (const [what, change, flags] of changes) {
    await c.send(storage("set", "k", 7, 0, "mc"));
    await c.expect("STORED\r\n");
    const cas = await casOf(c, "k");
    change();
    assert.equal(mc.db.flagsOf("k"), flags, `flags after ${what}`);
    assert.notEqual(await casOf(c, "k"), cas, what);
    await c.send(storage("cas", "k", 0, 0, "x", ` ${cas}`));
    await c.expect("EXISTS\r\n");
  }
  mc.db.clear();
  await c.send(storage("cas", "k", 0, 0, "x", " 1"));
  await c.expect("NOT_FOUND\r\n");
});

Deno.test("each memcached write is propagated as RESP commands with absolute times", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send(
    storage("set", "a", 5, 60, "1") +
      storage("add", "a", 0, 0, "no") + // not stored: nothing to log
      storage("append", "a", 0, 0, "0") +
      storage("prepend", "a", 0, 0, "2") +
      "incr a 1\r\ntouch a 0\r\ntouch a 30\r\nget a\r\ndelete a\r\ndelete a\r\n" +
      storage("set", "b", 0, 0, "x", " noreply") +
      "flush_all 10\r\nflush_all\r\n",
  );
  await c.expect(
    "STORED\r\nNOT_STORED\r\nSTORED\r\nSTORED\r\n211\r\nTOUCHED\r\nTOUCHED\r\n" +
      getReply("a", 5, "211") + "DELETED\r\nNOT_FOUND\r\nOK\r\nOK\r\n",
  );
  const at = String(NOW + 60_000);
  assert.deepEqual(mc.propagated, [
    ["SET", "a", "1", "PXAT", at],
    ["MCFLAGS", "a", "5"],
    ["APPEND", "a", "0"],
    ["SET", "a", "210", "PXAT", at],
    ["MCFLAGS", "a", "5"],
    ["SET", "a", "211", "PXAT", at],
    ["MCFLAGS", "a", "5"],
    ["PERSIST", "a"],
    ["PEXPIREAT", "a", String(NOW + 30_000)],
    ["DEL", "a"],
    ["SET", "b", "x"],
    ["MCFLUSHAT", String(NOW + 10_000)],
    ["FLUSHALL"],
  ]);
});

/**
 * A small stand-in for lab 4's RESP command table: the Redis commands memcached writes are logged
 * as, with Redis's meaning, plus the real `memcacheLogCommands`.
 */
function replayer(db: ExpiringKeyspace): (args: string[]) => Reply {
  const table = new CommandTable().registerAll(memcacheLogCommands(db));
  const server = new ServerState({ commands: table, databases: [db] });
  const session: Session = { db, server, client: new ClientState(1, "log", "log", 0) };
  return (args) => {
    const [name, key, value] = args;
    switch (name) {
      case "SET":
        db.set(key, value);
        if (args[3] === "PXAT") db.setExpiresAt(key, Number(args[4]));
        return OK;
      case "APPEND":
        db.update(key, (db.get(key) ?? "") + value);
        return OK;
      case "DEL":
        return db.delete(key) ? 1 : 0;
      case "PEXPIREAT":
        return db.setExpiresAt(key, Number(value)) ? 1 : 0;
      case "PERSIST":
        return db.persist(key) ? 1 : 0;
      case "FLUSHALL":
        db.clear();
        return OK;
    }
    const spec = resolveCommand(table, args);
    if (spec instanceof ErrorReply) return spec;
    if (spec.handler === undefined) throw new Error(`cannot replay ${name}`);
    const reply = spec.handler(session, args);
    if (reply instanceof Promise) throw new Error("log commands are synchronous");
    return reply;
  };
}

Deno.test("replaying the propagated commands rebuilds the same keyspace", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send(
    storage("set", "plain", 0, 0, "p") +
      storage("set", "flagged", 123, 0, "f") +
      storage("set", "ttl", 9, 500, "10") +
      "incr ttl 5\r\n" + storage("prepend", "flagged", 0, 0, ">") +
      storage("append", "ttl", 0, 0, "0") +
      storage("set", "gone", 0, 0, "g") + "delete gone\r\n" +
      storage("set", "touched", 4, 0, "t") + "touch touched 100\r\n" +
      "flush_all 200\r\n" +
      storage("cas", "plain", 1, 0, "P", " 1") + // EXISTS: not logged
      "version\r\n",
  );
  // Wait for the last reply, so that every write has run.
  while (!(await c.readLine()).startsWith("VERSION ")) continue;

  const replayed = new ExpiringKeyspace(clock);
  const run = replayer(replayed);
  for (const args of mc.propagated) run(args);
  const sorted = (db: ExpiringKeyspace) => [...db.entries()].sort((a, b) => a.key < b.key ? -1 : 1);
  assert.deepEqual(sorted(replayed), sorted(mc.db));
  assert.deepEqual(sorted(replayed).map((e) => [e.key, e.value, e.flags, e.expiresAt]), [
    ["flagged", ">f", 123, NOW + 200_000],
    ["plain", "p", 0, NOW + 200_000],
    ["touched", "t", 4, NOW + 100_000],
    ["ttl", "150", 9, NOW + 200_000],
  ]);
});

Deno.test("MCFLAGS and MCFLUSHAT check their arguments as Redis commands do", () => {
  const db = new ExpiringKeyspace(new ManualClock(NOW));
  const run = replayer(db);
  db.set("k", "v");
  assert.equal(run(["MCFLAGS", "k", "4294967295"]), 1);
  assert.equal(db.flagsOf("k"), 4294967295);
  assert.equal(run(["MCFLAGS", "missing", "1"]), 0);
  for (const bad of ["4294967296", "-1", "01", "x"]) {
    const reply = run(["MCFLAGS", "k", bad]);
    assert.ok(reply instanceof ErrorReply, bad);
    assert.equal(reply.message, "ERR value is not an integer or out of range");
  }
  const arity = run(["MCFLAGS", "k"]);
  assert.ok(arity instanceof ErrorReply);
  assert.equal(arity.message, "ERR wrong number of arguments for 'mcflags' command");
  assert.equal(run(["MCFLUSHAT", String(NOW - 1)]), OK);
  assert.equal(db.has("k"), false);
});

Deno.test("with a beforeWrite hook, no reply is sent until it resolves", async () => {
  let release = () => {};
  let calls = 0;
  await using mc = startInProcess({
    beforeWrite: () => {
      calls++;
      return new Promise<void>((resolve) => release = resolve);
    },
  });
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "k", 0, 0, "v"));
  await c.expectSilence(100);
  assert.equal(mc.db.get("k"), "v");
  release();
  await c.expect("STORED\r\n");
  assert.equal(calls, 1);
});
