/**
 * After a stop and a restart, lab 4 holds exactly what it acknowledged: values, TTLs and memcached
 * flags, with the keys that were due while it was down gone (see `bench/lab4_equivalence.ts`). A few seeded
 * rounds, one per set-up and kind of stop; `deno task bench:crash-soak --equivalence N` runs many.
 * A failure names its seed, so it can be replayed.
 */

import assert from "node:assert/strict";
import { type EquivalenceMode, equivalenceRound } from "../../../bench/lab4_equivalence.ts";

const ROUNDS: { name: string; mode: EquivalenceMode; stop: "clean" | "kill"; seed: number }[] = [
  {
    name:
      "a restart after kill -9 with always gives back every acknowledged key, value, TTL and flag",
    mode: "always",
    stop: "kill",
    seed: 1,
  },
  {
    name:
      "a restart after kill -9 with everysec gives back every acknowledged key, value, TTL and flag",
    mode: "everysec",
    stop: "kill",
    seed: 2,
  },
  {
    name:
      "a restart after SIGTERM with everysec gives back every acknowledged key, value, TTL and flag",
    mode: "everysec",
    stop: "clean",
    seed: 3,
  },
  {
    name:
      "a restart after SIGTERM with snapshots gives back every acknowledged key, value, TTL and flag",
    mode: "snapshot",
    stop: "clean",
    seed: 4,
  },
];

for (const { name, mode, stop, seed } of ROUNDS) {
  Deno.test(name, async () => {
    const dir = await Deno.makeTempDir({ prefix: "equivalence_test_" });
    try {
      const result = await equivalenceRound({ dir, seed, mode, stop });
      assert.deepEqual(result.problems, [], `seed ${seed}: ${JSON.stringify(result)}`);
      assert.ok(result.checked >= 20, `too few keys to judge: ${JSON.stringify(result)}`);
      assert.ok(
        result.expiredWhileDown > 0,
        `no key was due while down: ${JSON.stringify(result)}`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
