/**
 * kill -9 during writes with `--appendfsync always` loses no acknowledged write (see `bench/lab4_crash.ts`).
 * A few rounds here, on one data directory so that later rounds also replay the earlier rounds'
 * log; `deno task bench:crash-soak` runs many more.
 */

import assert from "node:assert/strict";
import { crashRound } from "../../../bench/lab4_crash.ts";

Deno.test("kill -9 under write load loses no acknowledged write (appendfsync always)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crash_test_" });
  try {
    for (let round = 0; round < 3; round++) {
      const result = await crashRound({
        dir,
        prefix: `r${round}`,
        clients: 4,
        killAfterMs: 150 + Math.floor(Math.random() * 250),
      });
      assert.deepEqual(result.problems, [], `round ${round}: ${JSON.stringify(result)}`);
      assert.ok(result.acknowledged > 0, `round ${round}: no write was acknowledged`);
      assert.ok(result.recovered >= result.acknowledged);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
