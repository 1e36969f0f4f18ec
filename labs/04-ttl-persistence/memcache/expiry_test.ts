/**
 * Expiry over the memcached port, with a manual clock: no test waits for time to pass, it moves
 * the clock. Also checks that memcached's exptimes land on the keyspace's expiry times, which is
 * what makes `TTL` over RESP agree with memcached.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { getReply, storage } from "./suite.ts";
import { McClient, startInProcess } from "./testing.ts";

/** 2023-11-14T22:13:20Z, in milliseconds: a round "now" for the manual clock. */
const NOW = 1_700_000_000_000;

Deno.test("a relative exptime expires the item exactly that many seconds later", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "k", 3, 10, "v"));
  await c.expect("STORED\r\n");
  assert.equal(mc.db.expiresAt("k"), NOW + 10_000);
  clock.advance(9_999);
  await c.send("get k\r\n");
  await c.expect(getReply("k", 3, "v"));
  clock.advance(1);
  await c.send("get k\r\n");
  await c.expect("END\r\n");
  assert.equal(mc.db.has("k"), false);
});

Deno.test("an exptime over 30 days is a Unix time; exactly 30 days is still relative", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  const at = NOW / 1000 + 3600;
  await c.send(storage("set", "abs", 0, at, "v") + storage("set", "rel", 0, 2592000, "v"));
  await c.expect("STORED\r\nSTORED\r\n");
  assert.equal(mc.db.expiresAt("abs"), at * 1000);
  assert.equal(mc.db.expiresAt("rel"), NOW + 2592000 * 1000);
  clock.advance(3600 * 1000);
  await c.send("get abs rel\r\n");
  await c.expect(`VALUE rel 0 1\r\nv\r\nEND\r\n`);
});

Deno.test("touch and gat move the expiry; touch 0 removes it", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "k", 0, 5, "v"));
  await c.expect("STORED\r\n");
  await c.send("touch k 100\r\n");
  await c.expect("TOUCHED\r\n");
  assert.equal(mc.db.expiresAt("k"), NOW + 100_000);
  await c.send("gat 50 k\r\n");
  await c.expect(getReply("k", 0, "v"));
  assert.equal(mc.db.expiresAt("k"), NOW + 50_000);
  await c.send("touch k 0\r\n");
  await c.expect("TOUCHED\r\n");
  assert.equal(mc.db.expiresAt("k"), null);
  clock.advance(1_000_000_000);
  await c.send("get k\r\n");
  await c.expect(getReply("k", 0, "v"));
});

Deno.test("incr, append and prepend keep the item's expiry and flags", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "n", 9, 60, "1"));
  await c.expect("STORED\r\n");
  await c.send(
    "incr n 41\r\n" + storage("append", "n", 0, 0, "0") + storage("prepend", "n", 0, 0, "1"),
  );
  await c.expect("42\r\nSTORED\r\nSTORED\r\n");
  assert.equal(mc.db.expiresAt("n"), NOW + 60_000);
  assert.equal(mc.db.flagsOf("n"), 9);
  clock.advance(60_000);
  await c.send("get n\r\n");
  await c.expect("END\r\n");
});

Deno.test("an expiry set on the keyspace (as RESP's EXPIRE does) holds for memcached", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  mc.db.set("k", "v");
  mc.db.setExpiresAt("k", NOW + 1_000);
  await c.send("get k\r\n");
  await c.expect(getReply("k", 0, "v"));
  clock.advance(1_000);
  await c.send("get k\r\ntouch k 10\r\n");
  await c.expect("END\r\nNOT_FOUND\r\n");
});

Deno.test("flush_all with a delay empties the cache at that time, new items included", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send(storage("set", "old", 0, 0, "v") + storage("set", "soon", 0, 2, "v"));
  await c.expect("STORED\r\nSTORED\r\n");
  await c.send("flush_all 10\r\n");
  await c.expect("OK\r\n");
  // Every item now expires by the deadline; one that expires sooner keeps its own time.
  assert.equal(mc.db.expiresAt("old"), NOW + 10_000);
  assert.equal(mc.db.expiresAt("soon"), NOW + 2_000);
  clock.advance(5_000);
  await c.send(storage("set", "during", 0, 0, "v") + "get old during\r\n");
  await c.expect("STORED\r\nVALUE old 0 1\r\nv\r\nVALUE during 0 1\r\nv\r\nEND\r\n");
  clock.advance(5_000);
  await c.send("get old soon during\r\n");
  await c.expect("END\r\n");
  await c.send(storage("set", "after", 0, 0, "v"));
  await c.expect("STORED\r\n");
  assert.equal(mc.db.expiresAt("after"), null);
});

Deno.test("an immediate flush, from either protocol, cancels a delayed one", async () => {
  const clock = new ManualClock(NOW);
  await using mc = startInProcess({ clock });
  await using c = await McClient.connect(mc.addr);
  await c.send("flush_all 10\r\n");
  await c.expect("OK\r\n");
  mc.db.clear(); // what RESP's FLUSHALL does
  await c.send(storage("set", "k", 0, 0, "v"));
  await c.expect("STORED\r\n");
  assert.equal(mc.db.expiresAt("k"), null);
});
