/**
 * Unit tests of what the write path logs: relative times made absolute (`propagate.ts`), and the
 * wrapper that evicts before a write and logs after it (`writes.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { OK, SimpleString } from "../../shared/resp/reply.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../shared/server/session.ts";
import { dispatch } from "../02-threaded/transaction.ts";
import { ManualClock } from "./clock.ts";
import { Evictor, OOM_ERROR } from "./eviction.ts";
import { entryBytes, ExpiringKeyspace } from "./keyspace.ts";
import { type KeyState, logRewriteFor } from "./propagate.ts";

/** What the write path logs for a command, as `writes.ts` composes it. */
function argsForLog(
  args: string[],
  stateOf: (key: string) => KeyState,
  valueOf: (key: string) => string | undefined = () => assert.fail("no value is needed"),
): string[] {
  const rewrite = logRewriteFor(args[0].toLowerCase());
  return rewrite === null ? args : rewrite(args, stateOf, valueOf);
}
import { MemcacheStore } from "./memcache/store.ts";
import { lab4CommandTable } from "./server.ts";
import { WritePath } from "./writes.ts";

const AT = 1_767_225_610_000;
const live = (): KeyState => ({ exists: true, expiresAt: AT });
const gone = (): KeyState => ({ exists: false, expiresAt: null });
const QUEUED = new SimpleString("QUEUED");

Deno.test("argsForLog() rewrites every relative expiry as SET ... PXAT or PEXPIREAT", () => {
  assert.deepEqual(argsForLog(["set", "k", "v", "EX", "10"], live), [
    "SET",
    "k",
    "v",
    "PXAT",
    String(AT),
  ]);
  assert.deepEqual(argsForLog(["SET", "k", "v", "nx", "px", "10", "GET"], live), [
    "SET",
    "k",
    "v",
    "PXAT",
    String(AT),
  ]);
  assert.deepEqual(argsForLog(["SETEX", "k", "10", "v"], live), [
    "SET",
    "k",
    "v",
    "PXAT",
    String(AT),
  ]);
  assert.deepEqual(argsForLog(["psetex", "k", "10", "v"], live), [
    "SET",
    "k",
    "v",
    "PXAT",
    String(AT),
  ]);
  for (const name of ["EXPIRE", "pexpire", "EXPIREAT", "PEXPIREAT"]) {
    assert.deepEqual(argsForLog([name, "k", "10", "GT"], live), ["PEXPIREAT", "k", String(AT)]);
  }
  assert.deepEqual(argsForLog(["GETEX", "k", "EX", "10"], live), ["PEXPIREAT", "k", String(AT)]);
  assert.deepEqual(argsForLog(["getex", "k", "persist"], live), ["PERSIST", "k"]);
});

Deno.test("argsForLog() logs DEL when an expiry already past removed the key", () => {
  assert.deepEqual(argsForLog(["EXPIRE", "k", "-1"], gone), ["DEL", "k"]);
  assert.deepEqual(argsForLog(["SET", "k", "v", "EXAT", "1"], gone), ["DEL", "k"]);
  assert.deepEqual(argsForLog(["GETEX", "k", "PXAT", "1"], gone), ["DEL", "k"]);
});

Deno.test("argsForLog() leaves commands without a relative time as they are", () => {
  const unused = () => assert.fail("no key state is needed");
  for (
    const args of [["SET", "k", "v"], ["SET", "k", "v", "KEEPTTL"], ["INCR", "k"], ["DEL", "k"]]
  ) {
    assert.equal(argsForLog(args, unused), args);
  }
});

/** A server with lab 4's table, a ManualClock, and a WritePath logging into an array. */
function harness(maxmemory = 0, policy: "noeviction" | "allkeys-lru" = "noeviction") {
  const clock = new ManualClock(AT - 10_000);
  const db = new ExpiringKeyspace(clock);
  const commands = lab4CommandTable([db]);
  const server = new ServerState({ commands, databases: [db], log: () => {} });
  const evictor = new Evictor([db], { maxmemory, policy });
  const writes = new WritePath([db], maxmemory > 0 ? evictor : null);
  writes.wrap(commands);
  const logged: string[][] = [];
  const session: Session = { db, server, client: new ClientState(1, "test", "test", 0) };
  const run = (...args: string[]) => dispatch(session, args);
  return { clock, db, writes, logged, run };
}

Deno.test("the write path logs writes that changed something, with absolute times", () => {
  const { clock, writes, logged, run } = harness();
  writes.start({ propagate: (args) => logged.push(args), writeDenied: () => null });
  run("SET", "k", "v", "EX", "10");
  run("SET", "k", "w", "NX"); // nothing changed
  run("GET", "k");
  run("EXPIRE", "missing", "10");
  run("EXPIRE", "k", "5", "GT"); // GT refuses: 5 s is sooner than 10
  run("PERSIST", "k");
  assert.deepEqual(logged, [["SET", "k", "v", "PXAT", String(AT)], ["PERSIST", "k"]]);
  logged.length = 0;
  run("SET", "t", "v", "PX", "100");
  clock.advance(100);
  run("GET", "t"); // a read that finds it expired: logged as DEL, as Redis does
  run("DEL", "t"); // nothing left to delete: not logged
  assert.deepEqual(logged, [["SET", "t", "v", "PXAT", String(AT - 9_900)], ["DEL", "t"]]);
});

Deno.test("INCRBYFLOAT is logged as SET of its result with KEEPTTL; RENAME and COPY as sent", () => {
  const { writes, logged, run } = harness();
  writes.start({ propagate: (args) => logged.push(args), writeDenied: () => null });
  run("SET", "f", "1.5", "EX", "10");
  run("INCRBYFLOAT", "f", "0.1");
  run("INCRBYFLOAT", "f", "x"); // refused: nothing changed, nothing logged
  run("RENAME", "f", "g");
  run("COPY", "g", "h");
  assert.deepEqual(logged, [
    ["SET", "f", "1.5", "PXAT", String(AT)],
    ["SET", "f", "1.6", "KEEPTTL"],
    ["RENAME", "f", "g"],
    ["COPY", "g", "h"],
  ]);
});

Deno.test("commands run inside EXEC are logged too, between MULTI and EXEC as Redis logs them", () => {
  const { writes, logged, run } = harness();
  writes.start({ propagate: (args) => logged.push(args), writeDenied: () => null });
  assert.deepEqual([run("MULTI"), run("SET", "k", "1"), run("INCR", "k")], [OK, QUEUED, QUEUED]);
  assert.equal(logged.length, 0, "queued, not run yet");
  assert.deepEqual(run("EXEC"), [OK, 2]);
  assert.deepEqual(logged, [["MULTI"], ["SET", "k", "1"], ["INCR", "k"], ["EXEC"]]);
  // A transaction that changed nothing logs nothing, not even MULTI and EXEC.
  assert.deepEqual([run("MULTI"), run("GET", "k"), run("SET", "k", "2", "NX")], [
    OK,
    QUEUED,
    QUEUED,
  ]);
  assert.deepEqual(run("EXEC"), ["2", null]);
  assert.equal(logged.length, 4);
  // After it, a write is logged on its own again.
  run("SET", "k", "3");
  assert.deepEqual(logged.slice(4), [["SET", "k", "3"]]);
});

Deno.test("nothing is logged or evicted before start(): the log's own replay", () => {
  const { writes, logged, run } = harness(1);
  run("SET", "k", "v");
  assert.equal(logged.length, 0);
  writes.start({ propagate: (args) => logged.push(args), writeDenied: () => null });
  assert.equal(run("SET", "k2", "v"), OOM_ERROR, "started: over the limit, noeviction refuses");
});

Deno.test("under noeviction a full server refuses writes that add data, not deletions", () => {
  const { writes, logged, run } = harness(entryBytes("a", "1") + 1);
  writes.start({ propagate: (args) => logged.push(args), writeDenied: () => null });
  assert.equal(run("SET", "a", "1"), OK);
  assert.equal(run("SET", "b", "2"), OK, "under the limit before it ran, over it after");
  assert.equal(run("SET", "c", "3"), OOM_ERROR);
  assert.equal(run("INCR", "a"), OOM_ERROR);
  assert.equal(run("GET", "a"), "1", "reads still work");
  assert.equal(run("EXPIRE", "a", "100"), 1, "TTL changes still work");
  assert.equal(run("DEL", "a", "b"), 2, "deletions still work");
  assert.equal(run("SET", "c", "3"), OK, "and free the room for more");
  assert.deepEqual(logged.map((args) => args[0]), ["SET", "SET", "PEXPIREAT", "DEL", "SET"]);
});

Deno.test("under allkeys-lru evictions are logged as DEL before the write that caused them", () => {
  const { writes, logged, run } = harness(2 * entryBytes("a", "1"), "allkeys-lru");
  writes.start({ propagate: (args) => logged.push(args), writeDenied: () => null });
  run("SET", "a", "1");
  run("SET", "b", "1");
  run("SET", "c", "1"); // checked before it ran: not over yet
  run("GET", "a"); // a is now more recently used than b and c
  run("SET", "d", "1"); // over: b goes
  assert.deepEqual(logged.slice(3), [["DEL", "b"], ["SET", "d", "1"]]);
  assert.deepEqual(run("MGET", "a", "b", "c", "d"), ["1", null, "1", "1"]);
});

Deno.test("memcached writes take the same way into the log, in the same form as RESP writes", () => {
  const { db, writes, logged, run } = harness();
  const store = new MemcacheStore({ db, propagate: (args) => writes.propagate(args, 0) });
  const set = (key: string, flags: number, exptime: number, data: string) => ({
    kind: "store" as const,
    command: "set" as const,
    key,
    flags,
    exptime,
    bytes: data.length,
    cas: 0n,
    noreply: false,
    data,
  });
  try {
    assert.equal(store.execute(set("early", 0, 0, "x")), "STORED\r\n");
    assert.equal(logged.length, 0, "before start(), as while the log is replayed: not logged");
    writes.start({ propagate: (args) => logged.push(args), writeDenied: () => null });

    run("SET", "r", "v", "EX", "10");
    store.execute(set("m", 0, 10, "v"));
    store.execute(set("f", 5, 0, "v"));
    store.execute({ kind: "touch", key: "f", exptime: 10, noreply: false });
    run("EXPIRE", "r", "10");
    store.execute({ kind: "delete", key: "m", noreply: false });
    assert.deepEqual(logged, [
      ["SET", "r", "v", "PXAT", String(AT)],
      ["SET", "m", "v", "PXAT", String(AT)],
      ["SET", "f", "v"],
      ["MCFLAGS", "f", "5"],
      ["PEXPIREAT", "f", String(AT)],
      ["PEXPIREAT", "r", String(AT)],
      ["DEL", "m"],
    ]);
  } finally {
    store.close();
  }
});
