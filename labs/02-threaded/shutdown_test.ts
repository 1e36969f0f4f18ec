/**
 * The shutdown sequence in-process: prepare steps that refuse, stop actions, requests that meet.
 * Signals are tested on real servers (`lifecycle_test.ts`, lab 4's `shutdown_test.ts`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Shutdown } from "./shutdown.ts";

Deno.test("Shutdown.request() stops nothing while a prepare step refuses, and stops once it agrees", async () => {
  const lines: string[] = [];
  const shutdown = new Shutdown((line) => lines.push(line));
  let canSave = false;
  let stops = 0;
  shutdown.prepareWith(() => canSave).onStop(() => stops++);

  assert.equal(await shutdown.request(), false);
  assert.equal(stops, 0);
  assert.deepEqual(lines, [
    "User requested shutdown...",
    "Errors trying to shut down the server. Check the logs for more information.",
  ]);

  canSave = true;
  assert.equal(await shutdown.request({ save: "nosave" }), true);
  assert.equal(stops, 1);
  await shutdown.stopped;
  // Asked again once stopping: still stopping, and nothing runs twice.
  assert.equal(await shutdown.request(), true);
  assert.equal(stops, 1);
});

Deno.test("Shutdown.request() made while another is prepared gets that one's outcome", async () => {
  const shutdown = new Shutdown(() => {});
  const requests: unknown[] = [];
  const { promise: saved, resolve: finishSave } = Promise.withResolvers<boolean>();
  shutdown.prepareWith((request) => {
    requests.push(request);
    return saved;
  });
  const first = shutdown.request({ save: "save" });
  const second = shutdown.request({ force: true });
  finishSave(false);
  assert.deepEqual(await Promise.all([first, second]), [false, false]);
  assert.deepEqual(requests, [{ save: "save" }], "the step ran once, for the first request");
});

Deno.test("Shutdown: a prepare step that throws refuses the shutdown, and the log says why", async () => {
  const lines: string[] = [];
  const shutdown = new Shutdown((line) => lines.push(line));
  shutdown.prepareWith(() => {
    throw new Error("disk gone");
  });
  assert.equal(await shutdown.request(), false);
  assert.ok(lines.includes("Shutdown step failed: disk gone"), lines.join("\n"));
});
