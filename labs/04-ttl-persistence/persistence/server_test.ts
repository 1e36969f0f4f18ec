/**
 * Persistence through lab 4's real server, over TCP: restarts, shutdown snapshots, a damaged file
 * stopping the start with the file and offset named, the torn-tail repair, and BGREWRITEAOF under
 * load.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, startLabServer } from "../../../shared/testing/processes.ts";
import { ErrorReply, type Reply, SimpleString } from "../../../shared/resp/reply.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY } from "../test_support.ts";

/** Sends a command and returns the reply with status replies (`+OK`) as plain strings. */
async function call(client: RawClient, ...args: string[]): Promise<Reply> {
  const reply = await client.call(...args);
  return reply instanceof SimpleString ? reply.value : reply;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "persistence_server_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function start(dir: string, ...args: string[]) {
  return startLabServer(LAB4_ENTRY, {
    args: ["--dir", dir, ...args],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
}

/** Starts the server expecting it to refuse: returns its exit code and everything it printed. */
async function startFails(
  dir: string,
  ...args: string[]
): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...LAB4_DENO_FLAGS,
      `${REPO_ROOT}${LAB4_ENTRY}`,
      "--port",
      "0",
      "--dir",
      dir,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

/** Runs BGSAVE and waits until it has finished; returns INFO persistence. */
async function bgsave(client: RawClient): Promise<string> {
  assert.equal(await call(client, "BGSAVE"), "Background saving started");
  let info = "";
  for (let i = 0; i < 100; i++) {
    info = String(await call(client, "INFO", "persistence"));
    if (info.includes("rdb_bgsave_in_progress:0")) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return info;
}

Deno.test("a snapshot saved by SAVE, and on shutdown, comes back after a restart", async () => {
  await withDir(async (dir) => {
    {
      await using server = await start(dir, "--save", "3600 1");
      await using client = await RawClient.connect(server.addr);
      assert.equal(await call(client, "SET", "saved", "\0\xff\r\n"), "OK");
      assert.equal(await call(client, "SET", "ttl", "x", "EX", "1000"), "OK");
      assert.equal(await call(client, "SAVE"), "OK");
      const lastsave = await call(client, "LASTSAVE");
      assert.ok(typeof lastsave === "number" && Math.abs(lastsave - Date.now() / 1000) < 10);
      // Written after SAVE: only the snapshot taken at shutdown has it.
      assert.equal(await call(client, "SET", "at-exit", "1"), "OK");
      assert.deepEqual(await call(client, "CONFIG", "GET", "dbfilename"), [
        "dbfilename",
        "dump.rdb",
      ]);
    }
    await using server = await start(dir, "--save", "");
    await using client = await RawClient.connect(server.addr);
    assert.deepEqual(await call(client, "MGET", "saved", "at-exit"), ["\0\xff\r\n", "1"]);
    const ttl = await call(client, "TTL", "ttl");
    assert.ok(typeof ttl === "number" && ttl > 990 && ttl <= 1000, `TTL ${ttl}`);
    assert.match(server.log(), /Snapshot loaded: 3 keys/);
  });
});

Deno.test("INFO persistence and BGSAVE over the wire", async () => {
  await withDir(async (dir) => {
    await using server = await start(dir, "--save", "", "--appendonly", "yes");
    await using client = await RawClient.connect(server.addr);
    await call(client, "SET", "k", "v");
    const info = await bgsave(client);
    assert.match(info, /rdb_bgsave_in_progress:0\r\n/);
    assert.match(info, /rdb_last_bgsave_status:ok\r\n/);
    assert.match(info, /rdb_changes_since_last_save:0\r\n/);
    assert.match(info, /aof_enabled:1\r\n/);
    assert.match(info, /aof_last_write_status:ok\r\n/);
    assert.ok(Deno.statSync(join(dir, "dump.rdb")).size > 0);
  });
});

Deno.test("CONFIG SET save changes whether shutdown saves a snapshot; CONFIG GET shows it", async () => {
  await withDir(async (dir) => {
    {
      await using server = await start(dir, "--save", "");
      await using client = await RawClient.connect(server.addr);
      assert.equal(await call(client, "CONFIG", "SET", "save", "3600 1 300 100"), "OK");
      assert.deepEqual(await call(client, "CONFIG", "GET", "save"), ["save", "3600 1 300 100"]);
      assert.equal(await call(client, "SET", "kept", "1"), "OK");
    }
    {
      // Saved at shutdown because of the save points set at runtime; then switched off again.
      await using server = await start(dir, "--save", "3600 1");
      await using client = await RawClient.connect(server.addr);
      assert.equal(await call(client, "GET", "kept"), "1");
      assert.equal(await call(client, "CONFIG", "SET", "save", ""), "OK");
      assert.deepEqual(await call(client, "CONFIG", "GET", "save"), ["save", ""]);
      assert.equal(await call(client, "SET", "lost", "1"), "OK");
    }
    await using server = await start(dir, "--save", "");
    await using client = await RawClient.connect(server.addr);
    assert.deepEqual(await call(client, "MGET", "kept", "lost"), ["1", null]);
  });
});

Deno.test("CONFIG SET appendfsync always fsyncs before the next reply; appendonly is refused", async () => {
  await withDir(async (dir) => {
    await using server = await start(
      dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "no",
    );
    await using client = await RawClient.connect(server.addr);
    const pending = async () =>
      Number(
        String(await call(client, "INFO", "persistence")).match(
          /aof_pending_fsync_bytes:(\d+)/,
        )?.[1],
      );
    assert.equal(await call(client, "SET", "a", "1"), "OK");
    // With "no" the log is written but never fsynced by the server.
    assert.ok(await pending() > 0);
    assert.equal(await call(client, "CONFIG", "SET", "appendfsync", "ALWAYS"), "OK");
    assert.deepEqual(await call(client, "CONFIG", "GET", "appendfsync"), ["appendfsync", "always"]);
    assert.equal(await call(client, "SET", "b", "2"), "OK");
    // The reply came after an fsync that covered the earlier write too.
    assert.equal(await pending(), 0);
    assert.equal(await call(client, "CONFIG", "SET", "appendonly", "yes"), "OK");
    assert.deepEqual(
      await call(client, "CONFIG", "SET", "appendonly", "no"),
      new ErrorReply(
        "ERR CONFIG SET failed (possibly related to argument 'appendonly') - Cannot turn the " +
          "append only file off while the server runs; restart it with --appendonly no",
      ),
    );
    assert.deepEqual(await call(client, "CONFIG", "GET", "appendonly"), ["appendonly", "yes"]);
  });
});

/** Redis's refusal while background saves fail, word for word. */
const BGSAVE_MISCONF = "-MISCONF Redis is configured to save RDB snapshots, but it's currently " +
  "unable to persist to disk. Commands that may modify the data set are disabled, because this " +
  "instance is configured to report errors during writes if RDB snapshotting fails " +
  "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB " +
  "error.\r\n";

Deno.test("with save points, a failed BGSAVE refuses writes with Redis's MISCONF until a save succeeds", async () => {
  await withDir(async (dir) => {
    await using server = await start(dir, "--save", "3600 1000");
    await using client = await RawClient.connect(server.addr);
    assert.equal(await call(client, "SET", "k", "v"), "OK");
    // The snapshot's name taken by a directory: the rename at the end of the save fails.
    Deno.mkdirSync(join(dir, "dump.rdb"));
    assert.match(await bgsave(client), /rdb_last_bgsave_status:err\r\n/);
    await client.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n");
    await client.expect(BGSAVE_MISCONF);
    await client.send("*1\r\n$4\r\nPING\r\n");
    await client.expect(BGSAVE_MISCONF);
    assert.equal(await call(client, "GET", "k"), "v", "reads are served");
    // A save that works (in the foreground, as SAVE is) ends the refusal, as in Redis.
    Deno.removeSync(join(dir, "dump.rdb"));
    assert.equal(await call(client, "SAVE"), "OK");
    assert.equal(await call(client, "SET", "k", "w"), "OK");
  });
});

Deno.test("--stop-writes-on-bgsave-error no keeps writes going after a failed BGSAVE", async () => {
  await withDir(async (dir) => {
    await using server = await start(
      dir,
      "--save",
      "3600 1000",
      "--stop-writes-on-bgsave-error",
      "no",
    );
    await using client = await RawClient.connect(server.addr);
    Deno.mkdirSync(join(dir, "dump.rdb"));
    assert.match(await bgsave(client), /rdb_last_bgsave_status:err\r\n/);
    assert.equal(await call(client, "SET", "k", "v"), "OK");
    assert.deepEqual(await call(client, "CONFIG", "GET", "stop-writes-on-bgsave-error"), [
      "stop-writes-on-bgsave-error",
      "no",
    ]);
    Deno.removeSync(join(dir, "dump.rdb"));
  });
});

Deno.test("a damaged snapshot stops the server, naming the file; the file is kept", async () => {
  await withDir(async (dir) => {
    {
      await using server = await start(dir, "--save", "");
      await using client = await RawClient.connect(server.addr);
      for (let i = 0; i < 20; i++) await call(client, "SET", `k${i}`, "v".repeat(i));
      assert.equal(await call(client, "SAVE"), "OK");
    }
    const path = join(dir, "dump.rdb");
    const bytes = Deno.readFileSync(path);
    const cut = bytes.slice(0, bytes.length - 30); // a snapshot cut short
    Deno.writeFileSync(path, cut);
    const { code, output } = await startFails(dir);
    assert.equal(code, 1);
    assert.match(
      output,
      new RegExp(`Cannot start: Snapshot ${path} is corrupt at byte offset \\d+`),
    );
    assert.doesNotMatch(output, /listening on/);
    assert.deepEqual(Deno.readFileSync(path), cut);
  });
});

Deno.test("a log deleted while the server ran is noticed at the next start, not replaced by an empty one", async () => {
  await withDir(async (dir) => {
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using client = await RawClient.connect(server.addr);
      for (let i = 0; i < 200; i++) assert.equal(await call(client, "SET", `k${i}`, "v"), "OK");
      Deno.removeSync(join(dir, "appendonly.aof"));
      await server.kill("SIGKILL");
    }
    const { code, output } = await startFails(dir, "--save", "", "--appendonly", "yes");
    assert.equal(code, 1);
    assert.match(
      output,
      /Cannot start: The append only file .*appendonly\.aof is missing, but .*appendonly\.aof\.manifest says this server keeps one/,
    );
    assert.doesNotMatch(output, /listening on/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["appendonly.aof.manifest"]);
  });
});

Deno.test("a damaged log stops the server naming file and offset; a torn one is repaired", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using client = await RawClient.connect(server.addr);
      assert.equal(await call(client, "SET", "a", "1"), "OK");
      assert.equal(await call(client, "INCR", "n"), 1);
    }
    const good = Deno.readFileSync(path);

    // Garbage in the middle: refused, untouched.
    const bad = good.slice();
    bad[good.length - 5] = 0x3f;
    Deno.writeFileSync(path, bad);
    const refused = await startFails(dir, "--appendonly", "yes");
    assert.equal(refused.code, 1);
    assert.match(
      refused.output,
      new RegExp(`Bad file format reading the append only file ${path} at byte offset \\d+`),
    );
    assert.deepEqual(Deno.readFileSync(path), bad);

    // A torn last command: cut off with a warning, the rest loaded.
    const torn = new TextEncoder().encode("*3\r\n$3\r\nSET\r\n$1\r\nb\r\n");
    Deno.writeFileSync(path, new Uint8Array([...good, ...torn]));
    await using server = await start(dir, "--save", "", "--appendonly", "yes");
    await using client = await RawClient.connect(server.addr);
    assert.deepEqual(await call(client, "MGET", "a", "n", "b"), ["1", "1", null]);
    assert.match(
      server.log(),
      new RegExp(`!!! Warning: ${path} ends with an incomplete command`),
    );
    assert.equal(Deno.statSync(path).size, good.length);
  });
});

Deno.test("the log holds each write encoded from its arguments, however it was sent; a transaction between MULTI and EXEC", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const array = (...args: string[]) =>
      `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using client = await RawClient.connect(server.addr);
      await client.send(
        array("set", "a", "1") + // the name's case kept
          "SET b 2\r\n" + // inline
          "*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3xx" + // not CRLF after "3": CRLF in the log
          array("SET", "d", "4", "EX", "100") + // a relative time: rewritten
          array("MULTI") + array("set", "e", "5") + array("EXEC") + // run by EXEC
          array("MULTI") + array("GET", "a") + array("EXEC"), // wrote nothing: not logged
      );
      await client.expect(
        "+OK\r\n".repeat(5) + "+QUEUED\r\n*1\r\n+OK\r\n" +
          "+OK\r\n+QUEUED\r\n*1\r\n$1\r\n1\r\n",
      );
    }
    const log = new TextDecoder().decode(Deno.readFileSync(path));
    const pxat = log.match(/\$4\r\nPXAT\r\n\$13\r\n(\d{13})\r\n/)?.[1];
    assert.ok(pxat !== undefined, log);
    assert.equal(
      log,
      array("SELECT", "0") + array("set", "a", "1") + array("SET", "b", "2") +
        array("SET", "c", "3") +
        array("SET", "d", "4", "PXAT", pxat) + array("MULTI") + array("set", "e", "5") +
        array("EXEC"),
    );
    await using server = await start(dir, "--save", "", "--appendonly", "yes");
    await using client = await RawClient.connect(server.addr);
    assert.deepEqual(await call(client, "MGET", "a", "b", "c", "d", "e"), [
      "1",
      "2",
      "3",
      "4",
      "5",
    ]);
  });
});

Deno.test("BGREWRITEAOF under write load loses nothing", async () => {
  await withDir(async (dir) => {
    const writes = 3000;
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using writer = await RawClient.connect(server.addr);
      await using admin = await RawClient.connect(server.addr);
      for (let i = 0; i < 1000; i++) await writer.sendCommand("INCR", "before");
      for (let i = 0; i < 1000; i++) assert.equal(await writer.readReply(), i + 1);
      // Pipelined writes in flight while the rewrite runs.
      const sending = (async () => {
        for (let i = 0; i < writes; i++) await writer.sendCommand("SET", `during:${i}`, String(i));
      })();
      assert.equal(
        await call(admin, "BGREWRITEAOF"),
        "Background append only file rewriting started",
      );
      await sending;
      for (let i = 0; i < writes; i++) {
        assert.deepEqual(await writer.readReply(), new SimpleString("OK"));
      }
      await waitForRewrite(admin);
      assert.match(
        String(await call(admin, "INFO", "persistence")),
        /aof_last_bgrewrite_status:ok/,
      );
    }
    await using server = await start(dir, "--save", "", "--appendonly", "yes");
    await using client = await RawClient.connect(server.addr);
    assert.equal(await call(client, "GET", "before"), "1000");
    assert.equal(await call(client, "DBSIZE"), writes + 1);
    assert.equal(await call(client, "GET", `during:${writes - 1}`), String(writes - 1));
  });
});

Deno.test("an APPEND refused past --proto-max-bulk-len is not logged: a restart finds the value it left", async () => {
  await withDir(async (dir) => {
    const flags = ["--appendonly", "yes", "--save", "", "--proto-max-bulk-len", "1mb"];
    const value = "v".repeat(1024 * 1024 - 10) + "0123456789";
    {
      await using server = await start(dir, ...flags);
      await using client = await RawClient.connect(server.addr);
      assert.equal(await call(client, "SET", "k", value.slice(0, -10)), "OK");
      assert.equal(await call(client, "APPEND", "k", "0123456789"), 1024 * 1024);
      assert.deepEqual(
        await call(client, "APPEND", "k", "x"),
        new ErrorReply("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
      );
    }
    // The log is replayed without the limit, as Redis replays its own: had the refused APPEND
    // been logged, it would succeed now and the value would be one byte longer.
    await using server = await start(dir, ...flags);
    await using client = await RawClient.connect(server.addr);
    assert.equal(await call(client, "STRLEN", "k"), 1024 * 1024);
    assert.equal(await call(client, "GET", "k"), value);
  });
});

/**
 * Every key of every database, with its value and remaining TTL, named `db/key`. TTLs are rounded
 * to the hour, so that two readings a restart apart compare equal.
 */
async function everyDatabase(client: RawClient): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (let db = 0; db < 16; db++) {
    assert.equal(await call(client, "SELECT", String(db)), "OK");
    const names = await call(client, "KEYS", "*");
    assert.ok(Array.isArray(names));
    for (const name of names.map(String).sort()) {
      const ttl = Number(await call(client, "PTTL", name));
      const hours = ttl < 0 ? ttl : Math.round(ttl / 3_600_000);
      out[`${db}/${name}`] = `${await call(client, "GET", name)} ttl=${hours}`;
    }
  }
  return out;
}

async function waitForRewrite(client: RawClient): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const info = String(await call(client, "INFO", "persistence"));
    if (info.includes("aof_rewrite_in_progress:0")) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail("BGREWRITEAOF did not finish");
}

Deno.test("every database comes back after a restart: from the log, after BGREWRITEAOF, from a snapshot", async () => {
  await withDir(async (dir) => {
    // Each command that moves keys between databases, a TTL in each of them, and a transaction
    // that selects a database of its own.
    const script = [
      ["SET", "a", "in 0"],
      ["SELECT", "1"],
      ["SET", "a", "in 1"],
      ["SET", "ttl", "v", "EX", "7200"],
      ["SELECT", "2"],
      ["SET", "b", "moved", "PX", "10800000"],
      ["MOVE", "b", "3"],
      ["SELECT", "4"],
      ["SET", "c", "swapped"],
      ["SET", "d", "swapped", "EX", "14400"],
      ["SWAPDB", "4", "5"],
      ["SELECT", "6"],
      ["SET", "gone", "x"],
      ["FLUSHDB"],
      ["SELECT", "7"],
      ["SET", "e", "1"],
      ["INCR", "e"],
      ["COPY", "e", "e", "DB", "8"],
      ["MULTI"],
      ["SELECT", "9"],
      ["SET", "tx", "in 9"],
      ["EXEC"],
      ["SET", "after-exec", "in 9"],
    ];
    const expected = {
      "0/a": "in 0 ttl=-1",
      "1/a": "in 1 ttl=-1",
      "1/ttl": "v ttl=2",
      "3/b": "moved ttl=3",
      "5/c": "swapped ttl=-1",
      "5/d": "swapped ttl=4",
      "7/e": "2 ttl=-1",
      "8/e": "2 ttl=-1",
      "9/after-exec": "in 9 ttl=-1",
      "9/tx": "in 9 ttl=-1",
    };
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using client = await RawClient.connect(server.addr);
      for (const command of script) await call(client, ...command);
      assert.deepEqual(await everyDatabase(client), expected);
    }
    const log = new TextDecoder().decode(Deno.readFileSync(join(dir, "appendonly.aof")));
    // The transaction's database is selected before its MULTI, as Redis logs it.
    assert.match(
      log,
      /SELECT\r\n\$1\r\n9\r\n\*1\r\n\$5\r\nMULTI\r\n\*3\r\n\$3\r\nSET\r\n\$2\r\ntx\r\n/,
    );
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using client = await RawClient.connect(server.addr);
      assert.deepEqual(await everyDatabase(client), expected, "replayed from the log");
      assert.equal(
        await call(client, "BGREWRITEAOF"),
        "Background append only file rewriting started",
      );
      await waitForRewrite(client);
      // The first write after a rewrite selects its database again.
      await call(client, "SELECT", "10");
      await call(client, "SET", "after-rewrite", "in 10");
    }
    const withRewrite = { ...expected, "10/after-rewrite": "in 10 ttl=-1" };
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using client = await RawClient.connect(server.addr);
      assert.deepEqual(await everyDatabase(client), withRewrite, "from the rewritten log");
      assert.equal(await call(client, "SAVE"), "OK");
    }
    Deno.removeSync(join(dir, "appendonly.aof"));
    await using server = await start(dir, "--save", "", "--appendonly", "no");
    await using client = await RawClient.connect(server.addr);
    assert.deepEqual(await everyDatabase(client), withRewrite, "from the snapshot");
  });
});

Deno.test("a key that expires in another database is logged as a DEL in that database", async () => {
  await withDir(async (dir) => {
    {
      await using server = await start(dir, "--save", "", "--appendonly", "yes");
      await using client = await RawClient.connect(server.addr);
      await call(client, "SELECT", "5");
      await call(client, "SET", "short", "v", "PX", "50");
      await call(client, "SELECT", "0");
      await call(client, "SET", "other", "v");
      await new Promise((resolve) => setTimeout(resolve, 100));
      await call(client, "SELECT", "5");
      assert.equal(await call(client, "GET", "short"), null);
    }
    const log = new TextDecoder().decode(Deno.readFileSync(join(dir, "appendonly.aof")));
    // Active expiry or the GET found it; either way its DEL follows a SELECT of database 5.
    assert.match(log, /\$6\r\nSELECT\r\n\$1\r\n5\r\n\*2\r\n\$3\r\nDEL\r\n\$5\r\nshort\r\n$/);
  });
});
