import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../clock.ts";
import { type Entry, ExpiringKeyspace } from "../keyspace.ts";
import { concatBytes } from "../../../shared/resp/bytes.ts";
import { Crc64 } from "./rdb/crc64.ts";
import { REDIS_DUMP, REDIS_DUMP_KEYS, REDIS_DUMP_TTL_AT } from "./rdb/testdata.ts";
import {
  decodeSnapshot,
  loadSnapshotFile,
  SnapshotEncoder,
  SnapshotError,
  writeSnapshot,
  writeSnapshotSync,
} from "./snapshot.ts";

const NOW = 1_800_000_000_000;

/** Every byte value 0..255, as a byte string. */
const ALL_BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

function sampleEntries(): Entry[] {
  return [
    { key: "plain", value: "hello", expiresAt: null, flags: 0 },
    { key: ALL_BYTES, value: ALL_BYTES + ALL_BYTES, expiresAt: null, flags: 0 },
    { key: "binary\r\n\0key", value: "\0\r\n\xff\x80", expiresAt: NOW + 60_000, flags: 0 },
    { key: "flagged", value: "v", expiresAt: null, flags: 0xdeadbeef },
    { key: "both", value: "", expiresAt: NOW + 1, flags: 1 },
    { key: "", value: "empty key", expiresAt: null, flags: 0 },
    { key: "far future", value: "x".repeat(70_000), expiresAt: 2 ** 52, flags: 0 },
  ];
}

function keyspaceWith(entries: Entry[], clock = new ManualClock(NOW)): ExpiringKeyspace {
  const db = new ExpiringKeyspace(clock);
  for (const entry of entries) db.load(entry);
  return db;
}

function sorted(entries: Iterable<Entry>): Entry[] {
  return [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "snapshot_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function save(dir: string, entries: Iterable<Entry>): string {
  const path = join(dir, "dump.rdb");
  writeSnapshotSync(path, [{ db: 0, entries }], {
    createdAt: NOW,
    tempPath: join(dir, "temp.rdb"),
  });
  return path;
}

function loadInto(path: string, db: ExpiringKeyspace): ReturnType<typeof loadSnapshotFile> {
  return loadSnapshotFile(path, { databases: 1, load: (entry) => db.load(entry), log: () => {} });
}

/** Encodes entries into a whole file in memory. */
function encode(entries: Entry[], createdAt = NOW): Uint8Array {
  const encoder = new SnapshotEncoder(createdAt, {
    sizes: [{ keys: entries.length, expiring: entries.filter((e) => e.expiresAt !== null).length }],
  });
  for (const entry of entries) encoder.add(entry, 0);
  return concatBytes([encoder.take().slice(), encoder.finish().slice()]);
}

/** Replaces the last eight bytes with the right CRC-64 for the rest: a sound file, edited. */
function withChecksum(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const crc = new Crc64();
  crc.update(out, 0, out.length - 8);
  crc.writeTo(out, out.length - 8);
  return out;
}

function indexOf(haystack: Uint8Array, text: string): number {
  const needle = new TextEncoder().encode(text);
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("a snapshot round-trips every byte value, expiry times and flags", async () => {
  await withDir(async (dir) => {
    const path = save(dir, keyspaceWith(sampleEntries()).entries());
    const db = new ExpiringKeyspace(new ManualClock(NOW));
    const result = await loadInto(path, db);
    assert.equal(result?.loaded, sampleEntries().length);
    assert.equal(result?.createdAt, NOW);
    assert.equal(result?.version, 10);
    assert.deepEqual(sorted(db.entries()), sorted(sampleEntries()));
    // Nothing is left behind but the snapshot itself.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["dump.rdb"]);
  });
});

Deno.test("the lesson's one-key snapshot is exactly these bytes", () => {
  const bytes = encode([{ key: "a", value: "1", expiresAt: null, flags: 0 }]);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  assert.equal(
    hex,
    "52 45 44 49 53 30 30 31 30 " + // REDIS0010
      "fa 09 72 65 64 69 73 2d 76 65 72 05 37 2e 30 2e 30 " + // redis-ver 7.0.0
      "fa 0a 72 65 64 69 73 2d 62 69 74 73 c0 40 " + // redis-bits 64
      "fa 05 63 74 69 6d 65 c2 00 d2 49 6b " + // ctime 1800000000
      "fa 08 75 73 65 64 2d 6d 65 6d c0 00 " + // used-mem 0
      "fa 08 61 6f 66 2d 62 61 73 65 c0 00 " + // aof-base 0
      "fe 00 fb 01 00 " + // SELECTDB 0, RESIZEDB 1 0
      "00 01 61 c0 01 " + // string "a" = 1
      "ff 47 b3 54 f4 27 3c f5 d8", // EOF, CRC-64
  );
});

Deno.test("memcached flags travel in one AUX field after the keys, only when a key has them", () => {
  const plain = encode([{ key: "a", value: "1", expiresAt: null, flags: 0 }]);
  assert.equal(indexOf(plain, "cachelab-memcache-flags"), -1);
  const flagged = encode([
    { key: "a", value: "1", expiresAt: null, flags: 0 },
    { key: "f", value: "v", expiresAt: null, flags: 7 },
  ]);
  const at = indexOf(flagged, "cachelab-memcache-flags");
  assert.ok(at > indexOf(flagged, "\x00\x01f"), "the field follows the keys");
  assert.equal(flagged[at - 2], 0xfa, "it is an AUX field");
  assert.deepEqual([...flagged.subarray(at + 23, at + 27)], [0x03, 0x01, 0x66, 0x07]);
});

Deno.test("a dump.rdb written by redis-server loads with its keys, values and expiry", () => {
  const db = new ExpiringKeyspace(new ManualClock(REDIS_DUMP_TTL_AT - 1000));
  const result = decodeSnapshot(REDIS_DUMP, {
    file: "dump.rdb",
    databases: 1,
    onEntry: (e) => db.load(e),
  });
  assert.equal(result.loaded, 5);
  assert.equal(result.writtenBy, "7.0.15");
  for (const [key, value] of Object.entries(REDIS_DUMP_KEYS)) assert.equal(db.get(key), value);
  assert.equal(db.expiresAt("ttl"), REDIS_DUMP_TTL_AT);
});

Deno.test("keys that expired before the load are skipped", async () => {
  await withDir(async (dir) => {
    const path = save(dir, sampleEntries());
    // Two minutes later: "binary..." (60 s) and "both" (1 ms) have expired.
    const db = new ExpiringKeyspace(new ManualClock(NOW + 120_000));
    const result = await loadInto(path, db);
    assert.equal(result?.loaded, 5);
    assert.equal(result?.expired, 2);
    assert.equal(db.has("both"), false);
    assert.equal(db.peek("binary\r\n\0key"), undefined);
    assert.equal(db.get("plain"), "hello");
  });
});

Deno.test("a missing snapshot loads nothing and is not an error", async () => {
  const db = new ExpiringKeyspace();
  assert.equal(await loadInto("/nonexistent/dump.rdb", db), null);
});

Deno.test("an empty keyspace makes a valid snapshot with no SELECTDB, as Redis writes it", async () => {
  await withDir(async (dir) => {
    const path = save(dir, []);
    const bytes = Deno.readFileSync(path);
    assert.equal(bytes[bytes.length - 9], 0xff, "EOF right after the AUX fields");
    assert.equal(bytes.indexOf(0xfe), -1);
    assert.equal((await loadInto(path, new ExpiringKeyspace()))?.loaded, 0);
  });
});

Deno.test("the chunked writer produces the same bytes as the blocking one", async () => {
  await withDir(async (dir) => {
    const entries = sampleEntries();
    const a = save(dir, entries);
    const b = join(dir, "b.rdb");
    const chunks = [entries.slice(0, 2), entries.slice(2, 3), entries.slice(3)]
      .map((part) => ({ db: 0, entries: part }));
    const result = await writeSnapshot(b, chunks, {
      createdAt: NOW,
      tempPath: join(dir, "temp-b.rdb"),
    });
    assert.equal(result.keys, entries.length);
    assert.deepEqual(Deno.readFileSync(b), Deno.readFileSync(a));
  });
});

/** Loads a refused copy; asserts it is refused, names the file, and changes nothing. */
function assertRefused(
  path: string,
  bytes: Uint8Array,
  expected: RegExp,
  problem: "is corrupt" | "cannot be loaded" = "is corrupt",
): SnapshotError {
  Deno.writeFileSync(path, bytes);
  const db = new ExpiringKeyspace(new ManualClock(NOW));
  let caught: unknown;
  try {
    // The decode loadSnapshotFile() runs, driven to the end at once.
    decodeSnapshot(Deno.readFileSync(path), {
      file: path,
      databases: 1,
      onEntry: (entry) => db.load(entry),
    });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SnapshotError, `expected a SnapshotError, got ${caught}`);
  assert.match(caught.message, new RegExp(`^Snapshot ${path} ${problem}`));
  assert.match(caught.message, expected);
  assert.equal(db.size, 0, "a refused snapshot must not load any key");
  assert.deepEqual(Deno.readFileSync(path), bytes, "a refused snapshot must not be rewritten");
  return caught;
}

Deno.test("a snapshot with any single byte flipped is refused, untouched, with an offset", async () => {
  await withDir((dir) => {
    const good = Deno.readFileSync(save(dir, sampleEntries()));
    const path = join(dir, "bad.rdb");
    // Every byte of a small snapshot would be slow to try one by one on a big value; a stride
    // still covers the header, the AUX fields, several keys, the flags field and the checksum.
    const positions = new Set([0, 4, 5, 8, 9, 10, 30, 80, 90, good.length - 9, good.length - 1]);
    for (let i = 0; i < good.length; i += 97) positions.add(i);
    for (let i = good.length - 1; i > good.length - 40; i--) positions.add(i);
    for (const i of positions) {
      for (const mask of [0x01, 0x80]) {
        const bad = good.slice();
        bad[i] ^= mask;
        const error = assertRefused(path, bad, /./);
        assert.notEqual(error.offset, null, `no offset for byte ${i} ^ ${mask}`);
      }
    }
  });
});

Deno.test("corruption reports what and where it can", async () => {
  await withDir((dir) => {
    const good = encode(sampleEntries());
    const path = join(dir, "bad.rdb");

    const magic = good.slice();
    magic[0] = 0x58;
    assertRefused(path, magic, /at byte offset 0: not an RDB file \(it starts with "XEDIS001"/);

    const version = good.slice();
    version[8] = 0x31; // REDIS0011, what Redis 7.2 writes
    assertRefused(
      path,
      withChecksum(version),
      /at byte offset 5: RDB version 11 is newer than this server reads \(6 to 10/,
      "cannot be loaded",
    );

    const type = good.slice();
    const first = indexOf(type, "\x00\x05plain");
    type[first] = 0x42; // no such type
    assertRefused(path, withChecksum(type), new RegExp(`at byte offset ${first}: unknown opcode`));

    const value = good.slice();
    value[indexOf(value, "hello")] ^= 0xff; // the structure is fine, the checksum not
    assertRefused(
      path,
      value,
      new RegExp(
        `at byte offset ${good.length - 8}: checksum mismatch ` +
          `\\(stored 0x[0-9a-f]{16}, computed 0x[0-9a-f]{16}\\)`,
      ),
    );

    const longer = concatBytes([good, new Uint8Array([0])]);
    assertRefused(path, longer, /1 bytes follow the checksum/);

    const old = new TextEncoder().encode("CLABSNAP\x01\x00rest of an old snapshot");
    assertRefused(path, old, /earlier version of this course \(CLABSNAP\)/, "cannot be loaded");
  });
});

Deno.test("a key of a type this server does not have is refused, naming key and type", async () => {
  await withDir((dir) => {
    const good = encode([
      { key: "first", value: "1", expiresAt: null, flags: 0 },
      { key: "mylist", value: "x", expiresAt: null, flags: 0 },
    ]);
    const at = indexOf(good, "\x00\x06mylist");
    for (const [type, name] of [[0x12, "list"], [0x04, "hash"], [0x0b, "set"], [0x13, "stream"]]) {
      const bad = good.slice();
      bad[at] = Number(type);
      const error = assertRefused(
        join(dir, "dump.rdb"),
        withChecksum(bad),
        new RegExp(`at byte offset ${at}: key "mylist" is a ${name} \\(RDB type \\d+\\)`),
        "cannot be loaded",
      );
      assert.equal(error.problem, "unsupported");
    }
    // The same byte in a file whose checksum does not match is called damage, not a list.
    const damaged = good.slice();
    damaged[at] = 0x12;
    assertRefused(join(dir, "dump.rdb"), damaged, /more likely damage/);
  });
});

Deno.test("a file saved without a checksum (rdbchecksum no) loads, with Redis's warning", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "dump.rdb");
    const bytes = encode(sampleEntries());
    bytes.fill(0, bytes.length - 8);
    Deno.writeFileSync(path, bytes);
    const lines: string[] = [];
    const db = new ExpiringKeyspace(new ManualClock(NOW));
    const result = await loadSnapshotFile(path, {
      databases: 1,
      load: (entry) => db.load(entry),
      log: (line) => lines.push(line),
    });
    assert.equal(result?.checksummed, false);
    assert.equal(db.size, sampleEntries().length);
    assert.ok(lines.includes("RDB file was saved with checksum disabled: no check performed."));
  });
});

Deno.test("a truncated snapshot is refused at every length, naming an offset", async () => {
  await withDir((dir) => {
    const good = Deno.readFileSync(
      save(dir, sampleEntries().filter((e) => e.value.length < 1000)),
    );
    const path = join(dir, "short.rdb");
    for (let length = 0; length < good.length; length++) {
      const error = assertRefused(path, good.slice(0, length), /./);
      assert.notEqual(error.offset, null, `no offset for a file cut to ${length} bytes`);
    }
  });
});

Deno.test("decodeSnapshot() reports progress on a big snapshot", () => {
  const encoder = new SnapshotEncoder(NOW);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 200_000; i++) {
    encoder.add({ key: `key:${i}`, value: "v", expiresAt: null, flags: 0 }, 0);
    if (encoder.length > 65536) parts.push(encoder.take().slice());
  }
  parts.push(encoder.take().slice(), encoder.finish().slice());
  const bytes = concatBytes(parts);
  const seen: number[] = [];
  const result = decodeSnapshot(bytes, {
    file: "memory",
    databases: 1,
    onEntry: () => true,
    onProgress: (done) => seen.push(done),
  });
  assert.equal(result.loaded, 200_000);
  assert.equal(seen.length, 3);
  assert.ok(seen.every((d, i) => d > 0 && d < 1 && (i === 0 || d > seen[i - 1])));
});

Deno.test("random damage behind a recomputed checksum is loaded or refused, never a crash", () => {
  // The checksum catches accidents; this is the case it cannot: bytes changed and the checksum
  // recomputed (a buggy writer, a hand-edited file). The reader's own bounds checks must then
  // stop it with a SnapshotError, never a RangeError, a hang or a half-loaded keyspace.
  const good = encode(sampleEntries().filter((e) => e.value.length < 1000));
  let seed = 99;
  const random = (n: number) =>
    Math.floor(((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * n);
  let refused = 0;
  for (let round = 0; round < 3000; round++) {
    const bad = good.slice();
    for (let k = 1 + random(3); k > 0; k--) bad[9 + random(bad.length - 17)] = random(256);
    const db = new ExpiringKeyspace(new ManualClock(NOW));
    try {
      decodeSnapshot(withChecksum(bad), {
        file: "fuzz",
        databases: 1,
        onEntry: (e) => db.load(e),
      });
    } catch (error) {
      assert.ok(error instanceof SnapshotError, `round ${round}: ${error}`);
      assert.notEqual(error.offset, null);
      assert.equal(db.size, 0, `round ${round}: nothing loaded before the refusal`);
      refused++;
    }
  }
  assert.ok(refused > 100, `${refused} refused`);
});
