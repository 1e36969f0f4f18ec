import assert from "node:assert/strict";
import { CommandStats } from "./command_stats.ts";

const get = { name: "get" };
const config = {
  name: "config",
  subcommands: [{ name: "config|get" }, { name: "config|resetstat" }],
};
const table = {
  get: (name: string) => [get, config].find((c) => c.name === name.toLowerCase()),
};

Deno.test("CommandStats.error() counts an error under its first word, as Redis does", () => {
  const stats = new CommandStats();
  stats.error("ERR syntax error");
  stats.error("WRONGTYPE Operation against a key holding the wrong kind of value");
  stats.error("EXECABORT Transaction discarded because of previous errors.");
  stats.error("ERR value is not an integer or out of range");
  // No space within the first 32 bytes: Redis falls back to ERR.
  stats.error("A".repeat(40) + " tail");
  stats.error("NOSPACE");
  assert.equal(stats.totalErrorReplies, 6);
  assert.deepEqual(stats.errorFields(), [
    ["errorstat_ERR", "count=4"],
    ["errorstat_EXECABORT", "count=1"],
    ["errorstat_WRONGTYPE", "count=1"],
  ]);
});

Deno.test("CommandStats.reject() finds subcommands, and counts nothing for unknown ones", () => {
  const stats = new CommandStats();
  stats.reject(table, ["GET"]);
  stats.reject(table, ["config", "GET"]);
  stats.reject(table, ["config", "nope"]);
  stats.reject(table, ["nope"]);
  // A container named alone is itself rejected (its arity), as Redis's lookupCommand() finds it.
  stats.reject(table, ["CONFIG"]);
  assert.deepEqual(stats.commandFields().map(([name]) => name), [
    "cmdstat_config",
    "cmdstat_config|get",
    "cmdstat_get",
  ]);
  assert.equal(
    stats.commandFields()[2][1],
    "calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0",
  );
});

Deno.test("CommandStats.reset() zeroes the counters a running command still holds", () => {
  const stats = new CommandStats();
  const counters = stats.of(get);
  counters.calls = 4;
  counters.usec = 10;
  counters.timedCalls = 4;
  assert.deepEqual(stats.commandFields(), [
    ["cmdstat_get", "calls=4,usec=10,usec_per_call=2.50,rejected_calls=0,failed_calls=0"],
  ]);
  stats.error("ERR x");
  stats.reset();
  assert.deepEqual(stats.commandFields(), []);
  assert.deepEqual(stats.errorFields(), []);
  assert.equal(stats.totalErrorReplies, 0);
  // The command that ran CONFIG RESETSTAT counts itself afterwards, in the same object.
  counters.calls++;
  assert.equal(stats.of(get), counters);
  assert.equal(stats.commandFields().length, 1);
});
