/**
 * `Persistence.shutdown()` with the log on, in-process: an fsync that fails must stop the server
 * from exiting (no process can make a disk's fsync fail on demand, so the log writes through a
 * `FaultyFile`). With `everysec`, as here; with `always` a failed fsync ends the server at once
 * (see `aof.ts`). The server-level tests of shutdown are in `../shutdown_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Reply } from "../../../shared/resp/reply.ts";
import { ServerState } from "../../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../../shared/server/session.ts";
import { lab2CommandTable } from "../../02-threaded/server.ts";
import { dispatch } from "../../02-threaded/transaction.ts";
import { ManualClock } from "../clock.ts";
import { expiryCommands } from "../commands.ts";
import { ExpiringKeyspace } from "../keyspace.ts";
import { scratchDir } from "../test_support.ts";
import { FaultyFile } from "./fault_injection.ts";
import { openPersistence, type Persistence } from "./mod.ts";

/** A keyspace with the log on (`appendfsync everysec`), and a switch that breaks its fsync. */
async function openWithLog(dir: string, disk: { broken: boolean }, lines: string[]) {
  const db = new ExpiringKeyspace(new ManualClock(1_800_000_000_000));
  const commands = lab2CommandTable().registerAll(expiryCommands([db]));
  const server = new ServerState({ commands, databases: [db], log: (line) => lines.push(line) });
  const persistence = await openPersistence(server, [db], {
    dir,
    dbfilename: "dump.rdb",
    save: [],
    appendonly: true,
    appendfsync: "everysec",
    appendfilename: "appendonly.aof",
  }, {
    wrapLogFile: (file) => {
      const faulty = new FaultyFile(file);
      faulty.beforeSync = () => {
        faulty.failingSyncs = disk.broken ? 1 : 0;
        return Promise.resolve();
      };
      return faulty;
    },
  });
  const session: Session = { db, client: new ClientState(1, "test", "", 0), server };
  /** Runs a write as the server does: the command, then the log, then the wait for the disk. */
  const write = async (...args: string[]) => {
    let reply: Reply = dispatch(session, args);
    if (reply instanceof Promise) reply = await reply;
    persistence.propagate?.(args, 0);
    await persistence.beforeWrite();
    return reply;
  };
  return { db, persistence, write };
}

async function close(persistence: Persistence): Promise<void> {
  assert.equal(await persistence.shutdown(), true);
  await persistence.close();
}

Deno.test("shutdown() refuses while the log cannot be fsynced, keeps the log open, and succeeds once it can", async () => {
  const dir = scratchDir();
  const disk = { broken: false };
  const lines: string[] = [];
  const a = await openWithLog(dir, disk, lines);
  await a.write("SET", "before", "1");

  disk.broken = true;
  assert.equal(await a.persistence.shutdown(), false);
  assert.ok(lines.includes("Fail to fsync the AOF file: Input/output error."), lines.join("\n"));
  assert.ok(lines.includes("Error trying to fsync the AOF, can't exit."), lines.join("\n"));

  // Nothing was closed: once the disk works again, writes reach the log and shutdown succeeds.
  disk.broken = false;
  await a.write("SET", "after", "2");
  await close(a.persistence);

  const b = await openWithLog(dir, disk, []);
  assert.deepEqual([b.db.get("before"), b.db.get("after")], ["1", "2"]);
  await close(b.persistence);
});

Deno.test("shutdown({ force: true }) goes ahead although the log cannot be fsynced, and says so", async () => {
  const dir = scratchDir();
  const disk = { broken: false };
  const lines: string[] = [];
  const a = await openWithLog(dir, disk, lines);
  await a.write("SET", "k", "v");
  disk.broken = true;
  assert.equal(await a.persistence.shutdown({ force: true }), true);
  assert.ok(lines.includes("Error trying to fsync the AOF. Exit anyway."), lines.join("\n"));
  // The log's own close fsyncs once more, and the broken disk makes that fail too.
  await assert.rejects(a.persistence.close(), /Input\/output error/);
});
