import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeCommand, RespWriter } from "../../../shared/resp/encoder.ts";
import { RequestDecoder } from "../../../shared/resp/request_decoder.ts";
import { byteStringToBytes } from "../../../shared/resp/bytes.ts";
import { ManualClock } from "../clock.ts";
import { type Entry, ExpiringKeyspace } from "../keyspace.ts";
import { type AofEnd, AofReader, AppendOnlyLog, type FsyncFunction } from "./aof.ts";
import { PointInTime } from "./point_in_time.ts";

/** The RESP of commands, by the shared encoder: what the log must hold, encoded independently. */
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
      assert.deepEqual(Deno.readFileSync(path), resp(["SET", "k", BINARY]));
      assert.equal(log.beforeWrite(), undefined, "nothing new to write: no wait");
      assert.equal(log.fsyncs, 0);
    } finally {
      await log.close();
    }
    assert.equal(log.fsyncs, 1, "close() fsyncs");
  });
});

/** An fsync that waits until the test lets it finish, and records how much of the file it covered. */
function gatedFsync(path: string): {
  fsync: FsyncFunction;
  covered: number[];
  release: () => void;
  gate: (closed: boolean) => void;
} {
  const covered: number[] = [];
  let closed = false;
  let waiting: (() => void)[] = [];
  return {
    covered,
    fsync: async () => {
      covered.push(Deno.statSync(path).size);
      if (closed) await new Promise<void>((resolve) => waiting.push(resolve));
    },
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
    const disk = gatedFsync(path);
    const log = await AppendOnlyLog.open(path, { policy: "always", fsync: disk.fsync });
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
    assert.equal(commands.length, 16);
  });
});

Deno.test("a failed fsync refuses the waiting writers instead of acknowledging them", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    let fail = true;
    const lines: string[] = [];
    const log = await AppendOnlyLog.open(path, {
      policy: "always",
      fsync: (file) => fail ? Promise.reject(new Error("disk on fire")) : file.syncData(),
      log: (line) => lines.push(line),
    });
    log.append(["SET", "k", "v"]);
    await assert.rejects(log.beforeWrite() ?? Promise.resolve(), /disk on fire/);
    assert.match(lines.join("\n"), /Error writing to the append only file .*disk on fire/);
    fail = false;
    await log.close();
  });
});

/** Applies the SET/DEL commands of a log to a keyspace: enough to check what a log holds. */
function apply(bytes: Uint8Array, db: ExpiringKeyspace): void {
  const { commands, end } = readAll(bytes);
  assert.deepEqual(end, { kind: "ok" });
  for (const [name, key, value, option, at] of commands) {
    if (name === "DEL") db.delete(key);
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

Deno.test("a command logged from the bytes its client sent keeps its place among the others", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "appendonly.aof");
    const log = await AppendOnlyLog.open(path, { policy: "everysec" });
    try {
      const decoder = new RequestDecoder();
      // As sent, lower case and all; an inline command has no RESP frame to copy.
      const sent = "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$4\r\n\0\r\n\xff\r\n";
      decoder.push(byteStringToBytes(sent + "SET inline 1\r\n"));
      const [first, inline] = [decoder.next(), decoder.next()];
      assert.ok(first !== null && inline !== null);
      log.append(["DEL", "before"]);
      log.append(first, decoder);
      log.append(inline, decoder);
      log.append(first, decoder); // no longer the decoder's last command: encoded
      await log.beforeWrite();
      assert.deepEqual(
        Deno.readFileSync(path),
        concat(
          resp(["DEL", "before"]),
          byteStringToBytes(sent),
          resp(["SET", "inline", "1"], ["set", "k", "\0\r\n\xff"]),
        ),
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
    const decoder = new RequestDecoder();
    let writes = 0;
    // A client's write: change the keyspace, then log it, as the server does; every other one
    // from the bytes the client sent, the rest from its arguments.
    const write = (args: string[]) => {
      if (args[0] === "DEL") db.delete(args[1]);
      else db.set(args[1], args[2]);
      if (writes++ % 2 === 0) {
        log.append(args);
        return;
      }
      decoder.push(encodeCommand(args));
      const sent = decoder.next();
      assert.ok(sent !== null);
      log.append(sent, decoder);
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
        const chunks = new PointInTime(db).chunks(3);
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
        const chunks = new PointInTime(db).chunks(10);
        db.set("after", "2");
        log.append(["SET", "after", "2"]);
        return chunks;
      }, { tempPath: join(dir, "temp-rewrite.aof"), encode: setCommand });
      await log.sync();
      assert.deepEqual(readAll(Deno.readFileSync(path)).commands, [
        ["SET", "before", "1"],
        ["SET", "after", "2"],
      ]);
    } finally {
      await log.close();
    }
  });
});
