/**
 * The persistence module in-process: a server state with lab 4's commands, a keyspace on a manual
 * clock, and the module's own commands, run the way the server runs them (write commands that
 * change the keyspace are propagated, then `beforeWrite` is awaited).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeReply } from "../../../shared/resp/encoder.ts";
import { ErrorReply, type Reply } from "../../../shared/resp/reply.ts";
import { ServerState } from "../../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../../shared/server/session.ts";
import { lab2CommandTable } from "../../02-threaded/server.ts";
import { dispatch } from "../../02-threaded/transaction.ts";
import { ManualClock } from "../clock.ts";
import { expiryCommands } from "../commands.ts";
import { ExpiringKeyspace } from "../keyspace.ts";
import { memcacheLogCommands } from "../memcache/mod.ts";
import {
  AofError,
  MissingLogError,
  openPersistence,
  type Persistence,
  type PersistenceOptions,
  SnapshotError,
} from "./mod.ts";

const NOW = 1_800_000_000_000;

/** A server in a test: its state, keyspace, persistence, and what it logged. */
interface TestServer {
  server: ServerState;
  db: ExpiringKeyspace;
  persistence: Persistence;
  lines: string[];
  /** Runs a command as a client would, and returns the reply's RESP text. */
  run(...args: string[]): Promise<string>;
}

async function open(
  dir: string,
  options: Partial<PersistenceOptions> = {},
  clock = new ManualClock(NOW),
  chunkKeys?: number,
): Promise<TestServer> {
  const lines: string[] = [];
  const db = new ExpiringKeyspace(clock);
  const commands = lab2CommandTable().registerAll(expiryCommands([db])).registerAll(
    memcacheLogCommands(db),
  );
  const server = new ServerState({ commands, databases: [db], log: (line) => lines.push(line) });
  const persistence = await openPersistence(server, [db], {
    dir,
    dbfilename: "dump.rdb",
    save: [],
    appendonly: false,
    appendfsync: "everysec",
    appendfilename: "appendonly.aof",
    ...options,
  }, { chunkKeys });
  commands.registerAll(persistence.commands);
  const session: Session = { db, client: new ClientState(1, "test", "", 0), server };
  const run = async (...args: string[]) => {
    const dirty = persistence.changesSinceSave();
    let reply: Reply = dispatch(session, args);
    if (reply instanceof Promise) reply = await reply;
    // What lab 4's server does: log a write that changed something, and wait for the log.
    if (persistence.changesSinceSave() !== dirty && !(reply instanceof ErrorReply)) {
      persistence.propagate?.(args, 0);
    }
    await persistence.beforeWrite();
    return new TextDecoder().decode(encodeReply(reply));
  };
  return { server, db, persistence, lines, run };
}

/** What the server does on the way out: the final writes, which must succeed here, then close. */
async function stop(persistence: Persistence): Promise<void> {
  assert.equal(await persistence.shutdown(), true);
  await persistence.close();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "persistence_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function entries(db: ExpiringKeyspace) {
  return [...db.entries()].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/** Writes some of everything: plain, binary, expiring, flagged, counters, deletions. */
async function writeSome(s: TestServer): Promise<void> {
  assert.equal(await s.run("SET", "plain", "value"), "+OK\r\n");
  assert.equal(await s.run("SET", "bin\0\r\n", "\xff\x00\x80"), "+OK\r\n");
  assert.equal(await s.run("SET", "ttl", "x", "PXAT", String(NOW + 60_000)), "+OK\r\n");
  assert.equal(await s.run("SET", "flagged", "y"), "+OK\r\n");
  assert.equal(await s.run("MCFLAGS", "flagged", "42"), ":1\r\n");
  for (let i = 0; i < 5; i++) await s.run("INCR", "counter");
  assert.equal(await s.run("SET", "doomed", "z"), "+OK\r\n");
  assert.equal(await s.run("DEL", "doomed"), ":1\r\n");
}

Deno.test("SAVE writes a snapshot that the next start loads", async () => {
  await withDir(async (dir) => {
    const a = await open(dir);
    await writeSome(a);
    assert.equal(await a.run("SAVE"), "+OK\r\n");
    assert.equal(a.persistence.changesSinceSave(), 0);
    const saved = entries(a.db);
    await stop(a.persistence);

    const b = await open(dir);
    assert.deepEqual(entries(b.db), saved);
    assert.equal(b.db.flagsOf("flagged"), 42);
    assert.match(b.lines.join("\n"), /Snapshot loaded: 5 keys/);
    await stop(b.persistence);
  });
});

Deno.test("LASTSAVE, INFO persistence and CONFIG GET describe the state", async () => {
  await withDir(async (dir) => {
    const s = await open(dir, {
      save: [{ seconds: 3600, changes: 1 }, { seconds: 60, changes: 100 }],
    });
    await s.run("SET", "k", "v");
    const info = s.server.info.render(["persistence"]);
    assert.match(info, /^# Persistence\r\nloading:0\r\n/);
    assert.match(info, /\r\nrdb_changes_since_last_save:1\r\n/);
    assert.match(info, /\r\nrdb_bgsave_in_progress:0\r\n/);
    assert.match(info, /\r\naof_enabled:0\r\n/);
    const before = Number(/:(\d+)\r\n$/.exec(await s.run("LASTSAVE"))?.[1]);
    assert.ok(Math.abs(before - Date.now() / 1000) < 5);
    await s.run("SAVE");
    assert.match(s.server.info.render(["persistence"]), /\r\nrdb_changes_since_last_save:0\r\n/);
    assert.deepEqual(
      Object.fromEntries(
        s.server.config.match(["save", "appendonly", "appendfsync", "dbfilename"]),
      ),
      { save: "3600 1 60 100", appendonly: "no", appendfsync: "everysec", dbfilename: "dump.rdb" },
    );
    assert.equal(s.server.config.match(["dir"])[0][1], await Deno.realPath(dir));
    await stop(s.persistence);
  });
});

Deno.test("BGSAVE answers as Redis does and saves the moment it started", async () => {
  await withDir(async (dir) => {
    const s = await open(dir, {}, new ManualClock(NOW), 2);
    for (let i = 0; i < 100; i++) await s.run("SET", `k${i}`, `v${i}`);
    const before = entries(s.db);
    assert.equal(await s.run("BGSAVE"), "+Background saving started\r\n");
    assert.equal(await s.run("BGSAVE"), "-ERR Background save already in progress\r\n");
    assert.equal(await s.run("SAVE"), "-ERR Background save already in progress\r\n");
    assert.equal(await s.run("BGSAVE", "now"), "-ERR syntax error\r\n");
    assert.equal(
      await s.run("BGREWRITEAOF"),
      "+Background append only file rewriting scheduled\r\n",
    );
    // Clients keep writing while the snapshot is written, two keys per chunk.
    let writes = 0;
    while (s.server.info.render(["persistence"]).includes("rdb_bgsave_in_progress:1")) {
      await s.run("SET", `k${writes % 100}`, "changed");
      await s.run("DEL", `k${99 - (writes % 100)}`);
      await s.run("SET", `new${writes}`, "new");
      writes++;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.ok(writes >= 1, "writes happen while the BGSAVE runs");
    assert.match(s.lines.join("\n"), /Background saving terminated with success: 100 keys/);
    // The rewrite scheduled meanwhile runs now.
    while (s.server.info.render(["persistence"]).includes("aof_rewrite_in_progress:1")) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await stop(s.persistence);

    const loaded = await open(dir);
    assert.deepEqual(entries(loaded.db), before);
    await stop(loaded.persistence);
  });
});

Deno.test("save points start a BGSAVE after enough changes", async () => {
  await withDir(async (dir) => {
    const s = await open(dir, { save: [{ seconds: 0, changes: 3 }] });
    await s.run("SET", "a", "1");
    await s.run("SET", "b", "2");
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(s.lines.some((l) => l.includes("Saving...")), false);
    await s.run("SET", "c", "3");
    for (let i = 0; i < 50 && !s.lines.some((l) => l.includes("terminated with success")); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(s.lines.includes("3 changes in 0 seconds. Saving..."), s.lines.join("\n"));
    assert.equal(s.persistence.changesSinceSave(), 0);
    await stop(s.persistence);
    assert.match(s.lines.join("\n"), /Saving the final snapshot before exiting/);
  });
});

Deno.test("the log alone restores everything, MULTI/EXEC included", async () => {
  await withDir(async (dir) => {
    const a = await open(dir, { appendonly: true, appendfsync: "always" });
    await writeSome(a);
    // A transaction is logged as Redis logs it: MULTI, its commands, EXEC.
    a.db.set("in-tx", "1");
    a.persistence.propagate?.(["MULTI"], 0);
    a.persistence.propagate?.(["SET", "in-tx", "1"], 0);
    a.persistence.propagate?.(["EXEC"], 0);
    await a.persistence.beforeWrite();
    const written = entries(a.db);
    await stop(a.persistence);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "appendonly.aof",
      "appendonly.aof.manifest",
    ]);

    const b = await open(dir, { appendonly: true });
    assert.deepEqual(entries(b.db), written);
    assert.equal(b.persistence.changesSinceSave(), 0, "replaying is not a change");
    assert.match(b.lines.join("\n"), /Append only file replayed: \d+ commands/);
    const size = Deno.statSync(join(dir, "appendonly.aof")).size;
    await stop(b.persistence);
    assert.equal(Deno.statSync(join(dir, "appendonly.aof")).size, size, "replay appends nothing");
  });
});

Deno.test("replaying the log expires nothing while loading; what is due goes after", async () => {
  await withDir(async (dir) => {
    const clock = new ManualClock(NOW);
    const a = await open(dir, { appendonly: true }, clock);
    const soon = String(NOW + 1000);
    const hour = String(NOW + 3_600_000);
    // Each key was given a short TTL, then made to live longer: all alive at shutdown.
    await a.run("SET", "persisted", "v", "PXAT", soon);
    await a.run("PERSIST", "persisted");
    await a.run("SET", "extended", "v", "PXAT", soon);
    await a.run("PEXPIREAT", "extended", hour);
    await a.run("SET", "counter", "100", "PXAT", soon);
    await a.run("PERSIST", "counter");
    for (let i = 0; i < 5; i++) await a.run("INCR", "counter");
    await a.run("SET", "grown", "1", "PXAT", soon);
    await a.run("PEXPIREAT", "grown", hour);
    await a.run("APPEND", "grown", "x");
    // And one that is alive at shutdown but due while the server is down.
    await a.run("SET", "due", "v", "PXAT", String(NOW + 800));
    await a.run("APPEND", "due", "x");
    await stop(a.persistence);

    clock.advance(1200);
    const b = await open(dir, { appendonly: true }, clock);
    assert.equal(b.db.get("persisted"), "v");
    assert.equal(b.db.expiresAt("persisted"), null);
    assert.equal(b.db.get("extended"), "v");
    assert.equal(b.db.expiresAt("extended"), NOW + 3_600_000);
    assert.equal(b.db.get("counter"), "105");
    assert.equal(b.db.get("grown"), "1x");
    assert.equal(b.db.expiresAt("grown"), NOW + 3_600_000);
    // Loaded as it was (with its APPEND), then expired on the first read.
    assert.equal(b.db.peek("due")?.value, "vx");
    assert.equal(await b.run("GET", "due"), "$-1\r\n");
    assert.equal(b.db.expiredKeys, 1);
    await stop(b.persistence);
  });
});

Deno.test("a log deleted while the server ran stops the next start instead of starting empty", async () => {
  await withDir(async (dir) => {
    const a = await open(dir, { appendonly: true });
    await a.run("SET", "k", "v");
    await stop(a.persistence);
    const manifest = join(dir, "appendonly.aof.manifest");
    assert.equal(Deno.readTextFileSync(manifest), "file appendonly.aof\n");
    Deno.removeSync(join(dir, "appendonly.aof"));

    await assert.rejects(
      open(dir, { appendonly: true }),
      (error: Error) => {
        assert.ok(error instanceof MissingLogError);
        assert.match(
          error.message,
          /appendonly\.aof is missing, but .*appendonly\.aof\.manifest says/,
        );
        assert.match(error.message, /remove .*appendonly\.aof\.manifest$/);
        return true;
      },
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["appendonly.aof.manifest"]);

    // The operator's way out: remove the manifest to start from the snapshot (none here).
    Deno.removeSync(manifest);
    const b = await open(dir, { appendonly: true });
    assert.equal(b.db.size, 0);
    assert.ok(Deno.statSync(manifest).isFile, "a new log, a new manifest");
    await stop(b.persistence);
  });
});

Deno.test("a log without a manifest (from an older version) is loaded and gets one", async () => {
  await withDir(async (dir) => {
    const a = await open(dir, { appendonly: true });
    await a.run("SET", "k", "v");
    await stop(a.persistence);
    Deno.removeSync(join(dir, "appendonly.aof.manifest"));
    const b = await open(dir, { appendonly: true });
    assert.equal(b.db.get("k"), "v");
    assert.ok(Deno.statSync(join(dir, "appendonly.aof.manifest")).isFile);
    await stop(b.persistence);
  });
});

Deno.test("a torn last command is cut off with a warning", async () => {
  await withDir(async (dir) => {
    const a = await open(dir, { appendonly: true });
    await a.run("SET", "kept", "1");
    await stop(a.persistence);
    const path = join(dir, "appendonly.aof");
    const good = Deno.statSync(path).size;
    // The server died halfway through writing a command.
    const torn = new TextEncoder().encode("*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$5\r\nvalu");
    Deno.writeFileSync(path, torn, { append: true });

    const b = await open(dir, { appendonly: true });
    assert.equal(b.db.get("kept"), "1");
    assert.equal(b.db.has("lost"), false);
    const warning = b.lines.find((l) => l.startsWith("!!! Warning"));
    assert.match(
      warning ?? "",
      new RegExp(
        `ends with an incomplete command \\(\\d+ bytes\\) at byte offset ${good}; cutting`,
      ),
    );
    assert.equal(Deno.statSync(path).size, good);
    await b.run("SET", "after", "repair");
    await stop(b.persistence);

    const c = await open(dir, { appendonly: true });
    assert.equal(c.db.get("after"), "repair");
    assert.equal(c.lines.some((l) => l.startsWith("!!! Warning")), false);
    await stop(c.persistence);
  });
});

Deno.test("corruption in the middle of the log stops the start, naming file and offset", async () => {
  await withDir(async (dir) => {
    const a = await open(dir, { appendonly: true });
    await a.run("SET", "a", "1");
    await a.run("SET", "b", "2");
    await stop(a.persistence);
    const path = join(dir, "appendonly.aof");
    const bytes = Deno.readFileSync(path);
    // SELECT 0 (23 bytes), SET a 1 (27 bytes), then the '*' of SET b 2.
    bytes[50] = 0x21;
    Deno.writeFileSync(path, bytes);

    await assert.rejects(open(dir, { appendonly: true }), (error) => {
      assert.ok(error instanceof AofError);
      assert.equal(error.offset, 50);
      assert.match(
        error.message,
        new RegExp(
          `^Bad file format reading the append only file ${path} at byte offset 50: ` +
            "expected '\\*' to start a command, found '!'",
        ),
      );
      return true;
    });
    assert.deepEqual(Deno.readFileSync(path), bytes, "the damaged log is not touched");
  });
});

Deno.test("an unknown command in the log stops the start", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    Deno.writeFileSync(path, new TextEncoder().encode("*2\r\n$4\r\nNOPE\r\n$1\r\nx\r\n"));
    await assert.rejects(
      open(dir, { appendonly: true }),
      /at byte offset 0: ERR unknown command 'NOPE', with args beginning with: 'x'/,
    );
  });
});

Deno.test("a corrupt snapshot stops the start and is never overwritten", async () => {
  await withDir(async (dir) => {
    const a = await open(dir);
    await writeSome(a);
    await a.run("SAVE");
    await stop(a.persistence);
    const path = join(dir, "dump.rdb");
    const bytes = Deno.readFileSync(path);
    bytes[bytes.length - 20] ^= 0x40;
    Deno.writeFileSync(path, bytes);
    await assert.rejects(open(dir, { save: [{ seconds: 1, changes: 1 }] }), (error) => {
      assert.ok(error instanceof SnapshotError);
      assert.match(error.message, new RegExp(`^Snapshot ${path} is corrupt`));
      return true;
    });
    assert.deepEqual(Deno.readFileSync(path), bytes);
  });
});

Deno.test("with appendonly on, the log wins over the snapshot; with no log yet, one is made", async () => {
  await withDir(async (dir) => {
    const a = await open(dir);
    await a.run("SET", "from", "snapshot");
    await a.run("SET", "ttl", "x", "PXAT", String(NOW + 5000));
    await a.run("SAVE");
    await stop(a.persistence);

    // No log yet: the snapshot is loaded and becomes the start of the new log.
    const b = await open(dir, { appendonly: true });
    assert.equal(b.db.get("from"), "snapshot");
    assert.match(b.lines.join("\n"), /Append only file .* created with 2 keys/);
    await b.run("SET", "from", "log");
    await stop(b.persistence);

    // Both exist: only the log is loaded.
    const c = await open(dir, { appendonly: true });
    assert.equal(c.db.get("from"), "log");
    assert.equal(c.db.expiresAt("ttl"), NOW + 5000);
    await stop(c.persistence);

    // Log off: the snapshot, as it was.
    const d = await open(dir);
    assert.equal(d.db.get("from"), "snapshot");
    await stop(d.persistence);
  });
});

Deno.test("BGREWRITEAOF compacts the log and keeps flags and expiry", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const a = await open(dir, { appendonly: true }, new ManualClock(NOW), 3);
    await writeSome(a);
    for (let i = 0; i < 200; i++) await a.run("INCR", "counter");
    const sizeBefore = Deno.statSync(path).size;
    assert.equal(await a.run("BGREWRITEAOF"), "+Background append only file rewriting started\r\n");
    assert.equal(
      await a.run("BGREWRITEAOF"),
      "-ERR Background append only file rewriting already in progress\r\n",
    );
    assert.match(await a.run("BGSAVE"), /^-ERR Another child process is active \(AOF\?\)/);
    assert.equal(await a.run("BGSAVE", "SCHEDULE"), "+Background saving scheduled\r\n");
    let during = 0;
    while (a.server.info.render(["persistence"]).includes("aof_rewrite_in_progress:1")) {
      await a.run("SET", `during${during++}`, "x");
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.ok(during > 0);
    assert.match(a.lines.join("\n"), /Background AOF rewrite finished successfully: 5 keys/);
    assert.ok(Deno.statSync(path).size < sizeBefore / 2, "the rewritten log is smaller");
    const written = entries(a.db);
    // The scheduled BGSAVE runs once the rewrite is done.
    while (a.server.info.render(["persistence"]).includes("rdb_bgsave_in_progress:1")) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await stop(a.persistence);
    const text = new TextDecoder().decode(Deno.readFileSync(path));
    assert.match(text, /\$7\r\nMCFLAGS\r\n\$7\r\nflagged\r\n\$2\r\n42\r\n/);
    assert.match(text, /\$4\r\nPXAT\r\n\$13\r\n1800000060000\r\n/);

    Deno.removeSync(join(dir, "dump.rdb"));
    const b = await open(dir, { appendonly: true });
    assert.deepEqual(entries(b.db), written);
    await stop(b.persistence);
  });
});

Deno.test("a dump.cdb from an earlier version of the course is named in the log, not loaded", async () => {
  await withDir(async (dir) => {
    Deno.writeTextFileSync(join(dir, "dump.cdb"), "CLABSNAP\x01\x00");
    const a = await open(dir);
    assert.equal(a.db.size, 0);
    assert.match(
      a.lines.join("\n"),
      /dump\.cdb is there: that is the snapshot format of an earlier/,
    );
    await stop(a.persistence);
  });
});
