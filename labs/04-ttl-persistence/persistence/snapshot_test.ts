import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../clock.ts";
import { type Entry, ExpiringKeyspace } from "../keyspace.ts";
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
  const path = join(dir, "dump.cdb");
  writeSnapshotSync(path, entries, { createdAt: NOW, tempPath: join(dir, "temp.cdb") });
  return path;
}

function loadInto(path: string, db: ExpiringKeyspace): ReturnType<typeof loadSnapshotFile> {
  return loadSnapshotFile(path, (entry) => db.load(entry), () => {});
}

Deno.test("a snapshot round-trips every byte value, expiry times and flags", async () => {
  await withDir((dir) => {
    const path = save(dir, keyspaceWith(sampleEntries()).entries());
    const db = new ExpiringKeyspace(new ManualClock(NOW));
    const result = loadInto(path, db);
    assert.equal(result?.loaded, sampleEntries().length);
    assert.equal(result?.createdAt, NOW);
    assert.deepEqual(sorted(db.entries()), sorted(sampleEntries()));
    // Nothing is left behind but the snapshot itself.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["dump.cdb"]);
  });
});

Deno.test("the documented example record is eleven bytes", () => {
  const encoder = new SnapshotEncoder(0);
  encoder.take(); // the header
  encoder.add({ key: "a", value: "1", expiresAt: null, flags: 0 });
  assert.deepEqual(
    [...encoder.take()],
    [0x10, 1, 0, 0, 0, 1, 0, 0, 0, 0x61, 0x31],
  );
});

Deno.test("keys that expired before the load are skipped", async () => {
  await withDir((dir) => {
    const path = save(dir, sampleEntries());
    // Two minutes later: "binary..." (60 s) and "both" (1 ms) have expired.
    const db = new ExpiringKeyspace(new ManualClock(NOW + 120_000));
    const result = loadInto(path, db);
    assert.equal(result?.loaded, 5);
    assert.equal(result?.expired, 2);
    assert.equal(db.has("both"), false);
    assert.equal(db.peek("binary\r\n\0key"), undefined);
    assert.equal(db.get("plain"), "hello");
  });
});

Deno.test("a missing snapshot loads nothing and is not an error", () => {
  const db = new ExpiringKeyspace();
  assert.equal(loadInto("/nonexistent/dump.cdb", db), null);
});

Deno.test("an empty keyspace makes a valid snapshot", async () => {
  await withDir((dir) => {
    const path = save(dir, []);
    assert.equal(Deno.statSync(path).size, 18 + 13);
    assert.equal(loadInto(path, new ExpiringKeyspace())?.loaded, 0);
  });
});

Deno.test("the chunked writer produces the same bytes as the blocking one", async () => {
  await withDir(async (dir) => {
    const entries = sampleEntries();
    const a = save(dir, entries);
    const b = join(dir, "b.cdb");
    const chunks = [entries.slice(0, 2), entries.slice(2, 3), entries.slice(3)];
    const result = await writeSnapshot(b, chunks, {
      createdAt: NOW,
      tempPath: join(dir, "temp-b.cdb"),
    });
    assert.equal(result.keys, entries.length);
    assert.deepEqual(Deno.readFileSync(b), Deno.readFileSync(a));
  });
});

/** Loads a damaged copy; asserts it is refused, names the file, and changes nothing. */
function assertRefused(path: string, bytes: Uint8Array, expected: RegExp): SnapshotError {
  Deno.writeFileSync(path, bytes);
  const db = new ExpiringKeyspace(new ManualClock(NOW));
  let caught: unknown;
  try {
    loadInto(path, db);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SnapshotError, `expected a SnapshotError, got ${caught}`);
  assert.match(caught.message, new RegExp(`^Snapshot ${path} is corrupt`));
  assert.match(caught.message, expected);
  assert.equal(db.size, 0, "a damaged snapshot must not load any key");
  assert.deepEqual(Deno.readFileSync(path), bytes, "a damaged snapshot must not be rewritten");
  return caught;
}

Deno.test("a snapshot with any single byte flipped is refused, untouched", async () => {
  await withDir((dir) => {
    const good = Deno.readFileSync(save(dir, sampleEntries()));
    const path = join(dir, "bad.cdb");
    // Every byte of a small snapshot would be slow to try one by one on a big value; a stride
    // still covers the header, several records, the trailer and the checksum.
    const positions = new Set([0, 7, 8, 10, 17, 18, 19, 23, good.length - 13, good.length - 5]);
    for (let i = 0; i < good.length; i += 97) positions.add(i);
    for (let i = good.length - 1; i > good.length - 20; i--) positions.add(i);
    for (const i of positions) {
      const bad = good.slice();
      bad[i] ^= 0x01;
      assertRefused(path, bad, /./);
    }
  });
});

Deno.test("corruption reports what and where it can", async () => {
  await withDir((dir) => {
    const good = Deno.readFileSync(save(dir, sampleEntries()));
    const path = join(dir, "bad.cdb");

    const magic = good.slice();
    magic[0] = 0x58;
    assertRefused(path, magic, /at byte offset 0: not a snapshot \(starts with "XLABSNAP"\)/);

    const version = good.slice();
    version[8] = 9;
    assertRefused(path, version, /at byte offset 8: format version 9 is not supported/);

    const kind = good.slice();
    kind[18] = 0x00; // the first record's kind
    assertRefused(path, kind, /at byte offset 18: unknown record kind 0x00/);

    const value = good.slice();
    value[33] ^= 0xff; // inside "hello", the first value: the structure is fine, the checksum not
    assertRefused(
      path,
      value,
      /checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/,
    );
  });
});

Deno.test("a truncated snapshot is refused at every length, naming an offset", async () => {
  await withDir((dir) => {
    const good = Deno.readFileSync(
      save(dir, sampleEntries().filter((e) => e.value.length < 1000)),
    );
    const path = join(dir, "short.cdb");
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
    encoder.add({ key: `key:${i}`, value: "v", expiresAt: null, flags: 0 });
    if (encoder.length > 65536) parts.push(encoder.take().slice());
  }
  parts.push(encoder.take().slice(), encoder.finish().slice());
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  const seen: number[] = [];
  const result = decodeSnapshot(bytes, {
    file: "memory",
    onEntry: () => true,
    onProgress: (done) => seen.push(done),
  });
  assert.equal(result.loaded, 200_000);
  assert.equal(seen.length, 3);
  assert.ok(seen.every((d, i) => d > 0 && d < 1 && (i === 0 || d > seen[i - 1])));
});
