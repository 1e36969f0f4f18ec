/**
 * How stages are assembled: in order, only those the options turn on, the last keyspace asked
 * for, commands before `install`, runners wrapped outside in, parts passed along, and stop steps
 * run in reverse — including when a stage fails to install, so nothing opened is left open.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Keyspace } from "../keyspace.ts";
import { ClientState } from "./client_state.ts";
import type { CommandSpec } from "./command_table.ts";
import { assemble, commandStage, commandTableOf, Part, type Stage } from "./stage.ts";

interface Options {
  host: string;
  port: number;
  fast: boolean;
}

const OPTIONS: Options = { host: "127.0.0.1", port: 0, fast: false };

function spec(name: string, summary: string): CommandSpec {
  return {
    name,
    arity: 1,
    flags: [],
    summary,
    group: "server",
    handler: () => "OK",
  };
}

class OtherKeyspace extends Keyspace {}

Deno.test("stages install in order; a `when` that says no skips a stage", async () => {
  const seen: string[] = [];
  const stage = (name: string, when?: (o: Options) => boolean): Stage<Options> => ({
    name,
    module: import.meta.url,
    when,
    install: () => void seen.push(name),
  });
  await assemble([stage("a"), stage("b", (o) => o.fast), stage("c")], OPTIONS);
  assert.deepEqual(seen, ["a", "c"]);
});

Deno.test("the last stage that asks for a keyspace gets it; commands are in before install", async () => {
  let installed = false;
  const assembly = await assemble<Options>([
    { name: "plain", module: import.meta.url, keyspace: () => new Keyspace() },
    commandStage("first", import.meta.url, [spec("hi", "one")]),
    {
      name: "other",
      module: import.meta.url,
      keyspace: () => new OtherKeyspace(),
      commands: [spec("hi", "two")],
      install(a) {
        // Its own commands are already registered, replacing the earlier stage's.
        assert.equal(a.commands.get("hi")?.summary, "two");
        installed = true;
      },
    },
  ], OPTIONS);
  assert.ok(installed);
  assert.ok(assembly.server.db instanceof OtherKeyspace);
});

Deno.test("commandTableOf gathers every stage's commands, whatever its `when`", () => {
  const table = commandTableOf<Options>([
    commandStage("a", import.meta.url, [spec("one", "1")]),
    { ...commandStage<Options>("b", import.meta.url, [spec("two", "2")]), when: () => false },
  ]);
  assert.ok(table.get("one") !== undefined && table.get("two") !== undefined);
});

Deno.test("wrapExecute puts a later stage's runner outside an earlier one's", async () => {
  const calls: string[] = [];
  const wrapper = (name: string): Stage<Options> => ({
    name,
    module: import.meta.url,
    install: (a) =>
      a.wrapExecute((run) => (session, args) => {
        calls.push(name);
        return run(session, args);
      }),
  });
  const assembly = await assemble<Options>([
    { name: "base", module: import.meta.url, install: (a) => void (a.execute = () => "done") },
    wrapper("inner"),
    wrapper("outer"),
  ], OPTIONS);
  const { server } = assembly;
  const session = { db: server.db, server, client: new ClientState(1, "a:1", "b:2", 0) };
  assert.equal(assembly.execute?.(session, ["x"]), "done");
  assert.deepEqual(calls, ["outer", "inner"]);
});

Deno.test("a part is passed to later stages; needing a missing one names its stage", async () => {
  const NUMBER = new Part<number>("counting");
  let got = 0;
  await assemble<Options>([
    { name: "counting", module: import.meta.url, install: (a) => a.provide(NUMBER, 42) },
    { name: "user", module: import.meta.url, install: (a) => void (got = a.need(NUMBER)) },
  ], OPTIONS);
  assert.equal(got, 42);
  await assert.rejects(
    assemble<Options>([
      { name: "user", module: import.meta.url, install: (a) => void a.need(NUMBER) },
    ], OPTIONS),
    /The counting stage must come earlier/,
  );
});

Deno.test("a stage that fails to install runs the stop steps registered so far, last first", async () => {
  const stopped: string[] = [];
  const opens = (name: string): Stage<Options> => ({
    name,
    module: import.meta.url,
    install: (a) => a.onStop(() => void stopped.push(name)),
  });
  await assert.rejects(
    assemble<Options>([
      opens("log"),
      opens("port"),
      {
        name: "broken",
        module: import.meta.url,
        install: () => Promise.reject(new Error("the snapshot is corrupt")),
      },
      opens("never"),
    ], OPTIONS),
    /the snapshot is corrupt/,
  );
  assert.deepEqual(stopped, ["port", "log"]);
});
