import assert from "node:assert/strict";
import { join } from "node:path";
import { ManualClock } from "../clock.ts";
import { type Entry, ExpiringKeyspace } from "../keyspace.ts";
import { type DatabaseChunk, DatabasesAtOnce, PointInTime } from "./point_in_time.ts";
import { decodeSnapshot, writeSnapshot } from "./snapshot.ts";

const NOW = 1_800_000_000_000;

function byKey(entries: Iterable<Entry>): Entry[] {
  return [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** 50 keys; every fifth has an expiry, every seventh has flags. */
function populated(clock: ManualClock): ExpiringKeyspace {
  const db = new ExpiringKeyspace(clock);
  for (let i = 0; i < 50; i++) {
    db.load({
      key: `k${String(i).padStart(2, "0")}`,
      value: `v${i}`,
      expiresAt: i % 5 === 0 ? NOW + 10_000 + i : null,
      flags: i % 7 === 0 ? i + 1 : 0,
    });
  }
  return db;
}

/** Changes every kind of thing a client can change, touching keys already read and not yet read. */
function churn(db: ExpiringKeyspace, round: number): void {
  db.set(`k${String(round).padStart(2, "0")}`, `overwritten in round ${round}`);
  db.update(`k${String(49 - round).padStart(2, "0")}`, "updated");
  db.delete(`k${String((round * 7) % 50).padStart(2, "0")}`);
  db.setExpiresAt(`k${String((round * 3) % 50).padStart(2, "0")}`, NOW + 999_999);
  db.persist(`k${String((round * 5) % 50).padStart(2, "0")}`);
  db.setFlags(`k${String((round * 11) % 50).padStart(2, "0")}`, 77);
  db.set(`new-${round}`, "created after the start");
  // A deleted key that comes back moves to the end of the Map's order.
  db.delete("k25");
  db.set("k25", "reborn");
}

Deno.test("a view reads the keyspace as it was, whatever changes between chunks", () => {
  const clock = new ManualClock(NOW);
  const db = populated(clock);
  const before = byKey(db.entries());
  const view = new PointInTime(db);
  const seen: Entry[] = [];
  let round = 0;
  for (const chunk of view.chunks(3)) {
    seen.push(...chunk);
    churn(db, round++);
    clock.advance(1);
  }
  assert.ok(round > 10, "the test must interleave many changes");
  assert.deepEqual(byKey(seen), before);
  assert.equal(seen.length, 50, "no key twice, none missing");
});

Deno.test("a flush during a view keeps every key not read yet", () => {
  const db = populated(new ManualClock(NOW));
  const before = byKey(db.entries());
  const view = new PointInTime(db);
  const seen = view.next(10);
  db.clear();
  db.set("after flush", "x");
  for (const chunk of view.chunks(7)) seen.push(...chunk);
  assert.deepEqual(byKey(seen), before);
});

Deno.test("a key that expires during a view is still written; one expired before is not", () => {
  const clock = new ManualClock(NOW);
  const db = new ExpiringKeyspace(clock);
  db.load({ key: "soon", value: "1", expiresAt: NOW + 5, flags: 0 });
  db.load({ key: "gone", value: "2", expiresAt: NOW + 1, flags: 0 });
  clock.advance(1); // "gone" has expired but nobody has touched it yet
  const view = new PointInTime(db);
  clock.advance(10); // now "soon" has expired too
  db.get("soon"); // and a read removes it
  const seen = [...view.chunks(10)].flat();
  assert.deepEqual(seen, [{ key: "soon", value: "1", expiresAt: NOW + 5, flags: 0 }]);
});

Deno.test("a view copies only what changes, and nothing once closed", () => {
  const db = populated(new ManualClock(NOW));
  const view = new PointInTime(db);
  assert.equal(view.size, 50);
  db.set("k10", "x");
  db.set("k10", "y"); // the second change of a key copies nothing more
  db.set("brand new", "z");
  assert.equal(view.copies, 2);
  view.close();
  db.set("k11", "x");
  assert.equal(view.copies, 0);
});

Deno.test("BGSAVE's chunked writer saves one point in time while writes continue", async () => {
  const dir = await Deno.makeTempDir({ prefix: "point_in_time_test_" });
  try {
    const clock = new ManualClock(NOW);
    const db = populated(clock);
    const before = byKey(db.entries());
    const view = new DatabasesAtOnce([db]);
    // Every time the writer asks for the next chunk, other clients have written in between.
    let round = 0;
    const interleaved = function* (): IterableIterator<DatabaseChunk> {
      for (const chunk of view.chunks(4)) {
        yield chunk;
        churn(db, round++);
      }
    };
    const path = join(dir, "dump.rdb");
    await writeSnapshot(path, interleaved(), { createdAt: view.at, tempPath: `${path}.tmp` });
    assert.ok(round > 10);
    const loaded: Entry[] = [];
    decodeSnapshot(Deno.readFileSync(path), {
      file: path,
      databases: 1,
      onEntry: (entry) => loaded.push(entry) > 0,
    });
    assert.deepEqual(byKey(loaded), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
