/**
 * Reading a whole file back, as loading a snapshot or a log does: every byte, whatever the size,
 * and a missing file reported as missing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { scratchDir } from "../test_support.ts";
import { readWholeFileSync } from "./files.ts";

Deno.test("readWholeFileSync() returns every byte of a file, big or empty", () => {
  const dir = scratchDir();
  const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => i * 31);
  Deno.writeFileSync(join(dir, "big"), big);
  assert.deepEqual(readWholeFileSync(join(dir, "big")), big);
  Deno.writeFileSync(join(dir, "empty"), new Uint8Array());
  assert.deepEqual(readWholeFileSync(join(dir, "empty")), new Uint8Array());
});

Deno.test("readWholeFileSync() throws NotFound for a missing file", () => {
  const dir = scratchDir();
  assert.throws(() => readWholeFileSync(join(dir, "none")), Deno.errors.NotFound);
});
