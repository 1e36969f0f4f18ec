import assert from "node:assert/strict";
import { join } from "node:path";
import { RespWriter } from "../../../shared/resp/encoder.ts";
import { byteStringToBytes } from "../../../shared/resp/bytes.ts";
import { ManualClock } from "../clock.ts";
import { type Entry, ExpiringKeyspace } from "../keyspace.ts";
import { type AofEnd, AofReader, AppendOnlyLog } from "./aof.ts";
import { FaultyFile } from "./fault_injection.ts";
import { DatabasesAtOnce } from "./point_in_time.ts";

/** The RESP of commands, by the shared encoder: what the log must hold, encoded independently. */
/** What a log holds before the first command of database 0 (and after a rewrite). */
const SELECT_0 = ["SELECT", "0"];

function resp(...commands: string[][]): Uint8Array {
  const out = new RespWriter();
  for (const command of commands) {
    out.arrayHeader(command.length);
    for (const arg of command) out.bulk(arg);
  }
  return out.take().slice();
}

function readAll(bytes: Uint8Array): { commands: string[][]; end: AofEnd | undefined } {
  const reader = new AofReader(bytes);
  const commands: string[][] = [];
  for (let c = reader.next(); c !== null; c = reader.next()) commands.push(c.args);
  return { commands, end: reader.end };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "aof_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const BINARY = "\0\r\n\xff$*3\r\n";
const COMMANDS = [
  ["SET", "a", "1"],
  ["SET", BINARY, BINARY, "PXAT", "1800000000000"],
  ["DEL", "a"],
  ["INCR", "counter"],
];

Deno.test("AofReader reads back what was encoded, with each command's place", () => {
  const bytes = resp(...COMMANDS);
  const reader = new AofReader(bytes);
  const offsets: number[] = [];
  const commands: string[][] = [];
  for (let c = reader.next(); c !== null; c = reader.next()) {
    offsets.push(c.offset);
    commands.push(c.args);
    assert.deepEqual(bytes.subarray(c.offset, c.end), resp(c.args));
  }
  assert.deepEqual(commands, COMMANDS);
  assert.equal(offsets[0], 0);
  assert.deepEqual(reader.end, { kind: "ok" });
  assert.equal(readAll(new Uint8Array(0)).end?.kind, "ok");
});

Deno.test("a log cut anywhere inside its last command is torn at that command", () => {
  const whole = resp(...COMMANDS);
  const lastStart = resp(...COMMANDS.slice(0, -1)).length;
  for (let length = lastStart + 1; length < whole.length; length++) {
    const { commands, end } = readAll(whole.slice(0, length));
    assert.deepEqual(commands, COMMANDS.slice(0, -1), `cut at ${length}`);
    assert.equal(end?.kind, "torn", `cut at ${length}`);
    assert.equal(end?.kind === "torn" && end.validUpTo, lastStart);
  }
});

Deno.test("garbage before the end is corruption at its offset", () => {
  const first = resp(COMMANDS[0]);
  const rest = resp(...COMMANDS.slice(1));
  const cases: [Uint8Array, number, RegExp][] = [
    [concat(first, byteStringToBytes("hello\r\n"), rest), first.length, /found 'h'/],
    [concat(first, new Uint8Array(10), rest), first.length, /found byte 0x00/],
    [concat(first, byteStringToBytes("*0\r\n"), rest), first.length, /empty command/],
    [concat(first, byteStringToBytes("*1\r\n$x\r\n"), rest), first.length, /invalid bulk length/],
    // The length says 2 but the value has 3 bytes: the CRLF is not where it must be.
    [
      concat(first, byteStringToBytes("*2\r\n$3\r\nGET\r\n$2\r\nabc\r\n"), rest),
      first.length + 19,
      /\\r\\n/,
    ],
    // A header's "\r" followed by something other than "\n", in the count line and in a length.
    [concat(first, byteStringToBytes("*1\rX$4\r\nPING\r\n"), rest), first.length + 3, /\\r\\n/],
    [concat(first, byteStringToBytes("*1\r\n$4\rXPING\r\n"), rest), first.length + 7, /\\r\\n/],
  ];
  for (const [bytes, offset, detail] of cases) {
    const { commands, end } = readAll(bytes);
    assert.deepEqual(commands, [COMMANDS[0]]);
    assert.equal(end?.kind, "corrupt");
    assert.equal(end?.kind === "corrupt" && end.offset, offset);
    assert.match(end?.kind === "corrupt" ? end.detail : "", detail);
  }
});

Deno.test("an unfinished MULTI at the end is torn where the MULTI starts", () => {
  const before = resp(["SET", "a", "1"]);
  const transaction = resp(["MULTI"], ["SET", "b", "2"]);
  const { end } = readAll(concat(before, transaction));
  assert.deepEqual(end, {
    kind: "torn",
    validUpTo: before.length,
    detail: "a MULTI without its EXEC",
  });
  assert.deepEqual(readAll(concat(before, transaction, resp(["EXEC"]))).end, { kind: "ok" });
});

Deno.test("with everysec, the log is written before the replies and fsynced later", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const log = await AppendOnlyLog.open(path, { policy: "everysec" });
    try {
      log.append(["SET", "k", BINARY]);
      assert.equal(Deno.statSync(path).size, 0, "append() only buffers");
      const written = log.beforeWrite();
      assert.ok(written instanceof Promise, "replies wait for the write");
      await written;
      // A new log's first command selects its database, as Redis writes it.
      assert.deepEqual(Deno.readFileSync(path), resp(SELECT_0, ["SET", "k", BINARY]));
      assert.equal(log.beforeWrite(), undefined, "nothing new to write: no wait");
      assert.equal(log.fsyncs, 0);
    } finally {
      await log.close();
    }
    assert.equal(log.fsyncs, 1, "close() fsyncs");
  });
});

/**
 * Opens a log whose fsyncs wait until the test lets them finish, recording how much of the file
 * each one covered.
 */
async function gatedLog(path: string): Promise<{
  log: AppendOnlyLog;
  covered: number[];
  release: () => void;
  gate: (closed: boolean) => void;
}> {
  const covered: number[] = [];
  let closed = false;
  let waiting: (() => void)[] = [];
  const log = await AppendOnlyLog.open(path, {
    policy: "always",
    wrap: (file) => {
      const faulty = new FaultyFile(file);
      faulty.beforeSync = async () => {
        covered.push(Deno.statSync(path).size);
        if (closed) await new Promise<void>((resolve) => waiting.push(resolve));
      };
      return faulty;
    },
  });
  return {
    log,
    covered,
    release: () => {
      for (const wake of waiting) wake();
      waiting = [];
    },
    gate: (value) => closed = value,
  };
}

Deno.test("with always, concurrent writers share one fsync (group commit)", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const disk = await gatedLog(path);
    const log = disk.log;
    try {
      // Ten clients write in the same turn of the event loop: one fsync covers them all.
      const first = Array.from({ length: 10 }, (_, i) => {
        log.append(["SET", `k${i}`, "v"]);
        return log.beforeWrite();
      });
      assert.ok(first.every((p) => p instanceof Promise), "always holds every reply");
      await Promise.all(first);
      assert.equal(log.fsyncs, 1);
      assert.equal(disk.covered[0], Deno.statSync(path).size);

      // A slow fsync: clients arriving meanwhile wait for the next one, which covers all of them.
      disk.gate(true);
      log.append(["SET", "slow", "1"]);
      const slow = log.beforeWrite();
      await new Promise((resolve) => setTimeout(resolve, 10)); // the fsync is now in progress
      let lateDone = 0;
      const late = Array.from({ length: 5 }, (_, i) => {
        log.append(["SET", `late${i}`, "v"]);
        return log.beforeWrite()?.then(() => lateDone++);
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(lateDone, 0, "nobody is acknowledged before their fsync");
      disk.gate(false);
      disk.release();
      await slow;
      await Promise.all(late);
      assert.equal(lateDone, 5);
      assert.equal(log.fsyncs, 3, "1 + the slow one + one for all five late writers");
      assert.equal(disk.covered.at(-1), Deno.statSync(path).size);
      // Nothing new: no wait at all.
      assert.equal(log.beforeWrite(), undefined);
    } finally {
      disk.gate(false);
      disk.release();
      await log.close();
    }
    const { commands } = readAll(Deno.readFileSync(path));
    assert.equal(commands.length, 17, "SELECT and the 16 writes");
  });
});

/** Whether a promise has settled, without waiting for it. */
async function settled(promise: Promise<unknown> | undefined): Promise<boolean> {
  let done = false;
  promise?.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 20));
  return done;
}

/** Opens a log through a {@link FaultyFile}, recording its lines and any fatal error. */
async function faultyLog(path: string, policy: "always" | "everysec") {
  let faulty: FaultyFile | undefined;
  const lines: string[] = [];
  const fatal: string[] = [];
  const log = await AppendOnlyLog.open(path, {
    policy,
    log: (line) => lines.push(line),
    fatal: (message) => fatal.push(message),
    wrap: (file) => faulty = new FaultyFile(file),
  });
  assert.ok(faulty !== undefined);
  return { log, disk: faulty, lines, fatal };
}

Deno.test("a full disk: the short write is cut back off, and nothing is acknowledged until a retry writes it", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const { log, disk, lines } = await faultyLog(path, "everysec");
    log.append(["SET", "a", "1"]);
    await log.beforeWrite();
    const good = resp(SELECT_0, ["SET", "a", "1"]);

    disk.spaceLeft = 10; // the next write gets 10 bytes in, then the disk is full
    log.append(["SET", "b", "2"]);
    const b = log.beforeWrite();
    assert.equal(await settled(b), false, "the reply waits");
    assert.deepEqual(Deno.readFileSync(path), good, "the partial command was cut back off");
    assert.match(String(log.failure), /No space left on device/);
    assert.match(
      lines.join("\n"),
      /Error writing to the append only file .*: No space left on device \(after 10 bytes\)/,
    );

    // Logged while the disk is full (a DEL of an expired key, say): it waits behind b.
    log.append(["DEL", "c"]);
    const c = log.beforeWrite();
    assert.equal(await settled(c), false);
    assert.equal(log.beforeWrite(), undefined, "a turn that logged nothing does not wait");

    disk.spaceLeft = Infinity;
    await log.sync(); // what the once-a-second retry does
    assert.equal(await settled(b), true);
    assert.equal(await settled(c), true);
    assert.equal(log.failure, null);
    assert.match(lines.join("\n"), /AOF write error looks solved/);
    await log.close();
    assert.deepEqual(
      Deno.readFileSync(path),
      resp(SELECT_0, ["SET", "a", "1"], ["SET", "b", "2"], ["DEL", "c"]),
    );
  });
});

Deno.test("a failed write (EIO) loses nothing and keeps the order", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const { log, disk } = await faultyLog(path, "everysec");
    disk.failingWrites = 1;
    const commands = Array.from({ length: 12 }, () => ["INCR", "c"]);
    const replies = commands.map((command) => {
      log.append(command);
      return log.beforeWrite();
    });
    assert.equal(await settled(replies[0]), false, "the turn's write failed: no reply yet");
    assert.match(String(log.failure), /Input\/output error/);
    await log.sync();
    assert.equal(log.failure, null);
    assert.ok((await Promise.all(replies.map(settled))).every((done) => done));
    await log.close();
    assert.deepEqual(readAll(Deno.readFileSync(path)).commands, [SELECT_0, ...commands]);
  });
});

Deno.test("when a short write cannot be cut back, the rest of the command follows it", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const { log, disk, lines } = await faultyLog(path, "everysec");
    disk.failTruncate = true;
    disk.spaceLeft = 7;
    log.append(["SET", "key", "value"]);
    const reply = log.beforeWrite();
    assert.equal(await settled(reply), false);
    assert.equal(Deno.statSync(path).size, 7);
    assert.match(lines.join("\n"), /Could not remove a short write .*keeping its 7 bytes/);
    disk.spaceLeft = Infinity;
    await log.sync();
    assert.equal(await settled(reply), true);
    await log.close();
    assert.deepEqual(Deno.readFileSync(path), resp(SELECT_0, ["SET", "key", "value"]));
  });
});

Deno.test("with everysec, a failed fsync is reported until one succeeds", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const { log, disk, lines } = await faultyLog(path, "everysec");
    log.append(["SET", "k", "v"]);
    await log.beforeWrite();
    disk.failingSyncs = 1;
    await assert.rejects(log.sync(), /Input\/output error/);
    assert.match(String(log.failure), /Input\/output error/);
    assert.match(lines.join("\n"), /Error fsyncing the append only file/);
    await log.sync();
    assert.equal(log.failure, null);
    assert.match(lines.join("\n"), /AOF fsync error looks solved/);
    await log.close();
  });
});

Deno.test("with always, a failed write or fsync is fatal and acknowledges nothing", async () => {
  for (const fault of ["write", "fsync"] as const) {
    await withDir(async (dir) => {
      const path = join(dir, "appendonly.aof");
      const { log, disk, fatal } = await faultyLog(path, "always");
      log.append(["SET", "a", "1"]);
      await log.beforeWrite();
      if (fault === "write") disk.spaceLeft = 5;
      else disk.failingSyncs = 1;
      log.append(["SET", "b", "2"]);
      const reply = log.beforeWrite();
      assert.equal(await settled(reply), false, `${fault}: never acknowledged`);
      assert.equal(fatal.length, 1);
      assert.match(
        fatal[0],
        fault === "write"
          ? /^Can't recover from AOF write error when the AOF fsync policy is 'always': No space left on device\. Exiting\.\.\.$/
          : /^Can't persist AOF for fsync error when the AOF fsync policy is 'always': Input\/output error\. Exiting\.\.\.$/,
      );
      // The file ends on whole commands: a restart replays exactly what was acknowledged, and
      // perhaps the unacknowledged b, never half of it.
      assert.equal(readAll(Deno.readFileSync(path)).end?.kind, "ok");
      disk.spaceLeft = Infinity;
      await log.close();
    });
  }
});

/** Applies the SET/DEL commands of a log to a keyspace: enough to check what a log holds. */
function apply(bytes: Uint8Array, db: ExpiringKeyspace): void {
  const { commands, end } = readAll(bytes);
  assert.deepEqual(end, { kind: "ok" });
  for (const [name, key, value, option, at] of commands) {
    if (name === "DEL") db.delete(key);
    else if (name === "SELECT") assert.equal(key, "0", "these tests write database 0 only");
    else if (name === "SET") {
      db.set(key, value);
      if (option === "PXAT") db.setExpiresAt(key, Number(at));
    } else throw new Error(`unexpected ${name} in the log`);
  }
}

function setCommand(out: RespWriter, entry: Entry): void {
  const args = ["SET", entry.key, entry.value];
  if (entry.expiresAt !== null) args.push("PXAT", String(entry.expiresAt));
  out.bulkArray(args);
}

Deno.test("the log encodes each command from its arguments, in order, whatever bytes they hold", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const log = await AppendOnlyLog.open(path, { policy: "everysec" });
    try {
      // Lower case kept: the log records the command as it ran, name and all.
      const binary = ["set", "k", "\0\r\n\xff"];
      log.append(["DEL", "before"]);
      log.append(binary);
      log.append(["SET", "after", "1"]);
      await log.beforeWrite();
      assert.deepEqual(
        Deno.readFileSync(path),
        resp(SELECT_0, ["DEL", "before"], binary, ["SET", "after", "1"]),
      );
    } finally {
      await log.close();
    }
  });
});

Deno.test("BGREWRITEAOF keeps every write made while it runs", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const clock = new ManualClock(1_800_000_000_000);
    const db = new ExpiringKeyspace(clock);
    const log = await AppendOnlyLog.open(path, { policy: "everysec" });
    // A client's write: change the keyspace, then log it, as the server does.
    const write = (args: string[]) => {
      if (args[0] === "DEL") db.delete(args[1]);
      else db.set(args[1], args[2]);
      log.append(args);
    };
    try {
      for (let i = 0; i < 40; i++) write(["SET", `k${i}`, `old${i}`]);
      for (let i = 0; i < 40; i += 2) write(["SET", `k${i}`, `newer${i}`]);
      db.setExpiresAt("k1", clock.now() + 60_000);
      log.append(["SET", "k1", "old1", "PXAT", String(clock.now() + 60_000)]);
      await log.beforeWrite();
      const sizeBefore = Deno.statSync(path).size;

      let round = 0;
      const rewrite = log.rewrite(() => {
        const chunks = new DatabasesAtOnce([db]).chunks(3);
        // Writes land between every two chunks, on keys written already and keys not yet.
        return (function* () {
          for (const chunk of chunks) {
            yield chunk;
            write(["SET", `k${round}`, `during${round}`]);
            write(["DEL", `k${39 - round}`]);
            write(["SET", `fresh${round}`, "x"]);
            round++;
          }
        })();
      }, { tempPath: join(dir, "temp-rewrite.aof"), encode: setCommand });
      assert.ok(log.rewriting);
      await rewrite;
      assert.ok(round > 5);
      // Writes after the rewrite go to the new file.
      write(["SET", "after", "rewrite"]);
      await log.beforeWrite();

      const replayed = new ExpiringKeyspace(clock);
      apply(Deno.readFileSync(path), replayed);
      const entries = (k: ExpiringKeyspace) =>
        [...k.entries()].sort((a, b) => a.key < b.key ? -1 : 1);
      assert.deepEqual(entries(replayed), entries(db));
      assert.ok(Deno.statSync(path).size < sizeBefore + 2000, "the log got compacted");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["appendonly.aof"]);
    } finally {
      await log.close();
    }
  });
});

Deno.test("BGREWRITEAOF starting before the turn's write: queued commands go to the old log only", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const db = new ExpiringKeyspace(new ManualClock(1_800_000_000_000));
    const log = await AppendOnlyLog.open(path, { policy: "everysec" });
    try {
      // Run and logged in this turn, not written yet: the frozen view has it, so the new log must
      // not get it a second time (for a command such as INCR, replaying it twice is wrong).
      db.set("before", "1");
      log.append(["SET", "before", "1"]);
      await log.rewrite(() => {
        const chunks = new DatabasesAtOnce([db]).chunks(10);
        db.set("after", "2");
        log.append(["SET", "after", "2"]);
        return chunks;
      }, { tempPath: join(dir, "temp-rewrite.aof"), encode: setCommand });
      await log.sync();
      // The compact part selects its database, and so does the first write after it: the
      // compact part may have ended in any database.
      assert.deepEqual(readAll(Deno.readFileSync(path)).commands, [
        SELECT_0,
        ["SET", "before", "1"],
        SELECT_0,
        ["SET", "after", "2"],
      ]);
    } finally {
      await log.close();
    }
  });
});
