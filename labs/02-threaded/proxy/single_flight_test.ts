/**
 * Unit tests of single-flight: concurrent requests for one key share one fetch.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Flight, SingleFlight } from "./single_flight.ts";

/** A fetch the test finishes by hand, counting how many were started. */
function gatedFetches() {
  const started: { key: string; resolve(v: string): void; reject(e: Error): void }[] = [];
  const fetch = (key: string) => (_flight: Flight<string>) => {
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    started.push({ key, resolve, reject });
    return promise;
  };
  return { started, fetch };
}

Deno.test("SingleFlight: 50 concurrent requests for one key start one fetch and all get its answer", async () => {
  const flights = new SingleFlight<string, string>();
  const { started, fetch } = gatedFetches();
  const joins = Array.from({ length: 50 }, () => flights.join("k", fetch("k")));
  assert.equal(started.length, 1);
  assert.equal(joins.filter((j) => j.joined).length, 49);
  started[0].resolve("v");
  assert.deepEqual(await Promise.all(joins.map((j) => j.flight.promise)), Array(50).fill("v"));
});

Deno.test("SingleFlight: different keys fly separately", () => {
  const flights = new SingleFlight<string, string>();
  const { started, fetch } = gatedFetches();
  flights.join("a", fetch("a"));
  flights.join("b", fetch("b"));
  flights.join("a", fetch("a"));
  assert.deepEqual(started.map((s) => s.key), ["a", "b"]);
  assert.equal(flights.size, 2);
  for (const s of started) s.resolve("done");
});

Deno.test("SingleFlight: once a flight lands, the next request starts a new one", async () => {
  const flights = new SingleFlight<string, string>();
  const { started, fetch } = gatedFetches();
  const first = flights.join("k", fetch("k"));
  started[0].resolve("1");
  await first.flight.promise;
  await Promise.resolve(); // the flight leaves the map in a callback after it lands
  const second = flights.join("k", fetch("k"));
  assert.equal(second.joined, false);
  assert.equal(started.length, 2);
  started[1].resolve("2");
  assert.equal(await second.flight.promise, "2");
});

Deno.test("SingleFlight: a failed fetch fails every request that joined it, then is gone", async () => {
  const flights = new SingleFlight<string, string>();
  const { started, fetch } = gatedFetches();
  const joins = [flights.join("k", fetch("k")), flights.join("k", fetch("k"))];
  started[0].reject(new Error("upstream down"));
  for (const join of joins) await assert.rejects(join.flight.promise, /upstream down/);
  assert.equal(flights.size, 0);
});

Deno.test("SingleFlight.forget(): the flight still answers its joiners, is marked, and a new request starts afresh", async () => {
  const flights = new SingleFlight<string, string>();
  const { started, fetch } = gatedFetches();
  const before = flights.join("k", fetch("k"));
  flights.forget("k");
  assert.equal(before.flight.forgotten, true);
  const after = flights.join("k", fetch("k"));
  assert.equal(after.joined, false, "a request after the write does not join the old flight");
  assert.equal(after.flight.forgotten, false);
  started[0].resolve("old");
  started[1].resolve("new");
  assert.equal(await before.flight.promise, "old");
  assert.equal(await after.flight.promise, "new");
  await Promise.resolve();
  assert.equal(flights.size, 0, "the old flight landing did not remove the new one early");
});

Deno.test("SingleFlight.forgetAll() marks and detaches every flight", () => {
  const flights = new SingleFlight<string, string>();
  const { started, fetch } = gatedFetches();
  const a = flights.join("a", fetch("a"));
  const b = flights.join("b", fetch("b"));
  flights.forgetAll();
  assert.equal(flights.size, 0);
  assert.ok(a.flight.forgotten && b.flight.forgotten);
  for (const s of started) s.resolve("x");
});

Deno.test("SingleFlight passes the flight to the fetch, which sees forget() before it caches", async () => {
  const flights = new SingleFlight<string, string>();
  const cached: string[] = [];
  const { promise, resolve } = Promise.withResolvers<string>();
  const { flight } = flights.join("k", async (f) => {
    const value = await promise;
    if (!f.forgotten) cached.push(value);
    return value;
  });
  flights.forget("k");
  resolve("stale");
  assert.equal(await flight.promise, "stale");
  assert.deepEqual(cached, [], "a forgotten flight's answer is not cached");
});
