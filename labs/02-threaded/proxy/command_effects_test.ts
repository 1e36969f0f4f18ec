/**
 * Unit tests of what a command invalidates: from lab 2's table, and from an upstream's
 * `COMMAND INFO` (replies shaped exactly as Redis 7.0 sends them).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ErrorReply, type Reply, SimpleString } from "../../../shared/resp/reply.ts";
import { lab2CommandTable } from "../server.ts";
import { combineEffects, CommandEffects, keysOf } from "./command_effects.ts";

const flags = (...names: string[]) => names.map((n) => new SimpleString(n));

/** Redis 7.0's `COMMAND INFO` entries for a few commands lab 2 does not have. */
const REDIS_INFO: Record<string, Reply> = {
  setex: ["setex", 4, flags("write", "denyoom"), 1, 1, 1, [], [], [], []],
  lrange: ["lrange", 4, flags("readonly"), 1, 1, 1, [], [], [], []],
  eval: [
    "eval",
    -3,
    flags("noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"),
    0,
    0,
    0,
    [],
    [],
    [],
    [],
  ],
  sort: ["sort", -2, flags("write", "denyoom", "movablekeys"), 1, 1, 1, [], [], [], []],
  object: ["object", -2, [], 0, 0, 0, [], [], [], [
    ["object|encoding", 3, flags("readonly"), 2, 2, 1, [], [], [], []],
  ]],
  xgroup: ["xgroup", -2, [], 0, 0, 0, [], [], [], [
    ["xgroup|destroy", 4, flags("write"), 2, 2, 1, [], [], [], []],
  ]],
};

/** A fake upstream that answers `COMMAND INFO name` from the table above, counting the asks. */
function upstreamInfo() {
  const asked: string[] = [];
  const ask = (args: readonly string[]) => {
    asked.push(args.join(" "));
    return Promise.resolve<Reply>([REDIS_INFO[args[2]] ?? null]);
  };
  return { asked, effects: new CommandEffects(lab2CommandTable(), ask) };
}

Deno.test("keysOf() walks first..last by step; a negative last counts from the end", () => {
  assert.deepEqual(keysOf(["GET", "k"], { first: 1, last: 1, step: 1 }), ["k"]);
  assert.deepEqual(keysOf(["MSET", "a", "1", "b", "2"], { first: 1, last: -1, step: 2 }), [
    "a",
    "b",
  ]);
  assert.deepEqual(keysOf(["DEL", "a", "b", "c"], { first: 1, last: -1, step: 1 }), [
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(keysOf(["SET"], { first: 1, last: 1, step: 1 }), [], "a short command");
});

Deno.test("CommandEffects reads lab 2's table: writes name their keys, reads change nothing", () => {
  const { effects, asked } = upstreamInfo();
  assert.deepEqual(effects.of(["SET", "k", "v"]), { kind: "keys", keys: ["k"] });
  assert.deepEqual(effects.of(["mset", "a", "1", "b", "2"]), { kind: "keys", keys: ["a", "b"] });
  assert.deepEqual(effects.of(["DEL", "a", "b"]), { kind: "keys", keys: ["a", "b"] });
  assert.deepEqual(effects.of(["INCR", "n"]), { kind: "keys", keys: ["n"] });
  assert.deepEqual(effects.of(["PUT", "k", "=", "v"]), { kind: "keys", keys: ["k"] });
  assert.deepEqual(effects.of(["FLUSHALL"]), { kind: "all" });
  assert.deepEqual(effects.of(["FLUSHDB", "ASYNC"]), { kind: "all" });
  for (const read of [["GET", "k"], ["MGET", "a", "b"], ["EXISTS", "k"], ["KEYS", "*"], ["PING"]]) {
    assert.deepEqual(effects.of(read), { kind: "none" }, read[0]);
  }
  assert.deepEqual(asked, [], "the upstream is not asked about commands lab 2 knows");
});

Deno.test("CommandEffects asks the upstream once about a command lab 2 does not know", async () => {
  const { effects, asked } = upstreamInfo();
  assert.deepEqual(await effects.of(["SETEX", "a", "10", "v"]), { kind: "keys", keys: ["a"] });
  assert.deepEqual(effects.of(["setex", "c", "10", "v"]), { kind: "keys", keys: ["c"] });
  assert.deepEqual(await effects.of(["LRANGE", "l", "0", "-1"]), { kind: "none" });
  assert.deepEqual(asked, ["COMMAND INFO setex", "COMMAND INFO lrange"]);
});

Deno.test("CommandEffects: keys that move (EVAL, SORT) mean everything may change", async () => {
  const { effects } = upstreamInfo();
  assert.deepEqual(await effects.of(["EVAL", "return 1", "1", "k"]), { kind: "all" });
  assert.deepEqual(await effects.of(["SORT", "l", "STORE", "dst"]), { kind: "all" });
});

Deno.test("CommandEffects finds a container's subcommand: OBJECT ENCODING reads, XGROUP DESTROY writes", async () => {
  const { effects } = upstreamInfo();
  assert.deepEqual(await effects.of(["OBJECT", "ENCODING", "k"]), { kind: "none" });
  assert.deepEqual(await effects.of(["XGROUP", "DESTROY", "s", "g"]), {
    kind: "keys",
    keys: ["s"],
  });
});

Deno.test("CommandEffects: a command the upstream does not know changes nothing and is not remembered", async () => {
  const { effects, asked } = upstreamInfo();
  assert.deepEqual(await effects.of(["NOSUCH", "x"]), { kind: "none" });
  assert.deepEqual(await effects.of(["NOSUCH", "x"]), { kind: "none" });
  assert.equal(asked.length, 2);
});

Deno.test("CommandEffects assumes the worst when the upstream cannot be asked", async () => {
  const down = new CommandEffects(lab2CommandTable(), () => Promise.reject(new Error("down")));
  assert.deepEqual(await down.of(["SETEX", "a", "10", "v"]), { kind: "all" });
  const refusing = new CommandEffects(
    lab2CommandTable(),
    () => Promise.resolve(new ErrorReply("ERR unknown command 'COMMAND'")),
  );
  assert.deepEqual(await refusing.of(["SETEX", "a", "10", "v"]), { kind: "all" });
});

Deno.test("combineEffects() unions keys, and anything touching every key wins", () => {
  assert.deepEqual(combineEffects([]), { kind: "none" });
  assert.deepEqual(
    combineEffects([{ kind: "keys", keys: ["a"] }, { kind: "none" }, {
      kind: "keys",
      keys: ["b"],
    }]),
    { kind: "keys", keys: ["a", "b"] },
  );
  assert.deepEqual(combineEffects([{ kind: "keys", keys: ["a"] }, { kind: "all" }]), {
    kind: "all",
  });
});
