/**
 * The crash experiment of `bench/lab4_crash.ts`, many times over: start
 * lab 4 with `--appendonly yes`, write from several clients, `kill -9` it at a random moment,
 * restart, and check that every acknowledged write came back.
 *
 * ```
 * deno task bench:crash-soak                       # 20 rounds, appendfsync always
 * deno task bench:crash-soak --rounds 100 --clients 8
 * deno task bench:crash-soak --appendfsync no      # kill -9 is not a power cut: see below
 * deno task bench:crash-soak --equivalence 50      # then 50 state-equivalence rounds
 * ```
 *
 * `--equivalence N` adds rounds of the experiment in `bench/lab4_equivalence.ts`: a seeded mix of
 * writes that set, change and remove TTLs over RESP and memcached, a stop (`kill -9` or SIGTERM,
 * with the log under `always` or `everysec`, or snapshots alone), a restart, and a comparison of
 * every key, value, TTL and flag with what the server acknowledged. Each round's seed is printed,
 * so a failing one can be run again.
 *
 * With `--appendfsync everysec` or `no` the rounds pass too: `kill -9` kills the process, not the
 * machine, and bytes already handed to the kernel with `write()` survive it. What `always` adds
 * (an fsync before every reply) is survival of a power cut or a kernel crash, which this script
 * cannot cause.
 *
 * Exit code 0 if every round passed, 1 otherwise.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
import { crashRound } from "./lab4_crash.ts";
import { type EquivalenceMode, equivalenceRound } from "./lab4_equivalence.ts";

const USAGE = "deno task bench:crash-soak";

const HELP = `Usage: ${USAGE} [options]

Kills lab 4's server with SIGKILL under write load, restarts it, and checks that every
acknowledged write survived.

Options:
  --rounds N          how many rounds (default 20)
  --clients N         concurrent writing clients (default 4)
  --appendfsync P     always, everysec or no (default always)
  --max-kill-ms MS    kill at a random moment up to this long after the writes start (default 1000)
  --equivalence N     then N state-equivalence rounds with TTLs and memcached writes (default 0)
  --seed S            the first equivalence round's seed (default: random)
  --help              show this help`;

function positive(name: string, text: string): number {
  return wholeNumber(text, 1, Number.MAX_SAFE_INTEGER) ??
    usageError(`Invalid ${name}: "${text}" is not a positive number`, USAGE);
}

const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
  parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "20" },
      clients: { type: "string", default: "4" },
      appendfsync: { type: "string", default: "always" },
      "max-kill-ms": { type: "string", default: "1000" },
      equivalence: { type: "string", default: "0" },
      seed: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  }));
const rounds = positive("rounds", values.rounds);
const clients = positive("clients", values.clients);
const maxKillMs = positive("max-kill-ms", values["max-kill-ms"]);
const equivalence = wholeNumber(values.equivalence, 0, Number.MAX_SAFE_INTEGER) ??
  usageError(`Invalid equivalence: "${values.equivalence}" is not a number`, USAGE);
const firstSeed = values.seed === undefined
  ? Math.floor(Math.random() * 0xffffffff)
  : positive("seed", values.seed);
const appendfsync = values.appendfsync;
if (appendfsync !== "always" && appendfsync !== "everysec" && appendfsync !== "no") {
  usageError(`Invalid appendfsync: "${appendfsync}" is not always, everysec or no`, USAGE);
}

const dir = await Deno.makeTempDir({ prefix: "crash_soak_" });
let failed = 0;
let acknowledged = 0;
let torn = 0;
console.log(`${rounds} rounds, ${clients} clients, appendfsync ${appendfsync}, data in ${dir}`);
try {
  for (let round = 1; round <= rounds; round++) {
    const killAfterMs = 20 + Math.floor(Math.random() * maxKillMs);
    const result = await crashRound({
      dir,
      prefix: `r${round}`,
      clients,
      killAfterMs,
      appendfsync,
    });
    acknowledged += result.acknowledged;
    if (result.tornTail) torn++;
    const verdict = result.problems.length === 0 ? "ok" : "LOST WRITES";
    console.log(
      `round ${String(round).padStart(3)}: killed after ${String(killAfterMs).padStart(4)} ms, ` +
        `${result.acknowledged} acknowledged, ${result.recovered} recovered of ${result.sent} sent` +
        `${result.tornTail ? ", torn tail cut" : ""}: ${verdict}`,
    );
    for (const problem of result.problems) console.log(`    ${problem}`);
    if (result.problems.length > 0) failed++;
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(
  `${rounds - failed}/${rounds} rounds passed; ${acknowledged} acknowledged writes checked; ` +
    `${torn} torn tails repaired`,
);
const equivalenceFailed = await equivalenceRounds(equivalence, firstSeed);
Deno.exit(failed === 0 && equivalenceFailed === 0 ? 0 : 1);

/** Runs `count` state-equivalence rounds, cycling through the set-ups; returns how many failed. */
async function equivalenceRounds(count: number, seed: number): Promise<number> {
  if (count === 0) return 0;
  const setups: { mode: EquivalenceMode; stop: "clean" | "kill" }[] = [
    { mode: "always", stop: "kill" },
    { mode: "everysec", stop: "kill" },
    { mode: "everysec", stop: "clean" },
    { mode: "always", stop: "clean" },
    { mode: "snapshot", stop: "clean" },
  ];
  let failures = 0;
  let checked = 0;
  let expired = 0;
  console.log(`${count} state-equivalence rounds from seed ${seed}`);
  for (let round = 0; round < count; round++) {
    const { mode, stop } = setups[round % setups.length];
    const dir = await Deno.makeTempDir({ prefix: "equivalence_soak_" });
    try {
      const result = await equivalenceRound({ dir, seed: seed + round, mode, stop });
      checked += result.checked;
      expired += result.expiredWhileDown;
      const verdict = result.problems.length === 0 ? "ok" : "WRONG STATE";
      console.log(
        `seed ${seed + round}: ${mode}, ${stop === "kill" ? "kill -9" : "SIGTERM"}, ` +
          `${result.checked} keys checked (${result.expiredWhileDown} due while down), ` +
          `${result.skipped} too close to call: ${verdict}`,
      );
      for (const problem of result.problems) console.log(`    ${problem}`);
      if (result.problems.length > 0) failures++;
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  console.log(
    `${count - failures}/${count} equivalence rounds passed; ${checked} keys checked, ` +
      `${expired} of them due while the server was down`,
  );
  return failures;
}
