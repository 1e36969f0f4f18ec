/**
 * The crash experiment of `labs/04-ttl-persistence/persistence/crash.ts`, many times over: start
 * lab 4 with `--appendonly yes`, write from several clients, `kill -9` it at a random moment,
 * restart, and check that every acknowledged write came back.
 *
 * ```
 * deno task bench:crash-soak                       # 20 rounds, appendfsync always
 * deno task bench:crash-soak --rounds 100 --clients 8
 * deno task bench:crash-soak --appendfsync no      # kill -9 is not a power cut: see below
 * ```
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
import { crashRound } from "../labs/04-ttl-persistence/persistence/crash.ts";

const USAGE = "deno task bench:crash-soak";

const HELP = `Usage: ${USAGE} [options]

Kills lab 4's server with SIGKILL under write load, restarts it, and checks that every
acknowledged write survived.

Options:
  --rounds N          how many rounds (default 20)
  --clients N         concurrent writing clients (default 4)
  --appendfsync P     always, everysec or no (default always)
  --max-kill-ms MS    kill at a random moment up to this long after the writes start (default 1000)
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
      help: { type: "boolean", default: false },
    },
    strict: true,
  }));
const rounds = positive("rounds", values.rounds);
const clients = positive("clients", values.clients);
const maxKillMs = positive("max-kill-ms", values["max-kill-ms"]);
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
Deno.exit(failed === 0 ? 0 : 1);
