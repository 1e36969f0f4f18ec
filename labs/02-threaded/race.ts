/**
 * `deno task lab2:race`: the lock lesson, with numbers.
 *
 * Runs the two races of lab 2's lesson and prints how many updates each loses:
 *
 * 1. **One thread, many clients.** Real TCP clients send `SLOWINCR` — an `INCR` that awaits a slow
 *    service between its read and its write — to lab 2's server, first without a lock, then with
 *    the lab's `Mutex` from `lock.ts` (`race/lost_update.ts`).
 * 2. **Real threads.** Workers increment one counter in a `SharedArrayBuffer`: a load then a
 *    store, `Atomics.add`, and a mutex built on `Atomics.wait`/`notify` (`race/shared_counter.ts`).
 *    Then the losing interleaving, forced step by step, without and with that mutex.
 *
 * The "lost" column of the unlocked runs changes from run to run and machine to machine: that is
 * what a race is. The locked runs always lose nothing. The times are one run's wall clock, to show
 * what a lock costs, not a benchmark.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../../shared/cli.ts";
import { runSocketRace, type SocketRaceResult } from "./race/lost_update.ts";
import {
  type CounterRaceResult,
  runCounterRace,
  runLostUpdateTimeline,
} from "./race/shared_counter.ts";

const USAGE = "deno task lab2:race";

const HELP = `Usage: ${USAGE} [options]

Races two ways and prints how many increments each loses.

1. One thread, many clients: TCP clients send SLOWINCR (an INCR that awaits a slow service
   between its read and its write) to lab 2's server, without and with the lab's Mutex.
2. Real threads: Workers increment one counter in a SharedArrayBuffer: a load then a store,
   Atomics.add, and a mutex built on Atomics.compareExchange, wait and notify.

Options:
  --clients N       TCP clients sending SLOWINCR at once (default 10)
  --requests N      SLOWINCR each client sends, one after another (default 20)
  --delay-ms MS     how long the slow service takes to answer (default 1)
  --workers N       Workers incrementing the shared counter (default 4)
  --increments N    increments per Worker (default 1000000)
  --help            show this help

The unlocked rows lose a different number each run; the locked rows always lose 0.`;

/** The demo's sizes, from the command line. */
interface RaceOptions {
  clients: number;
  requests: number;
  delayMs: number;
  workers: number;
  increments: number;
}

/** Reads a flag's value as a whole number in `[min, max]`, or exits 2 saying why not. */
function flagNumber(name: string, text: string, min: number, max: number): number {
  return wholeNumber(text, min, max) ??
    usageError(`Invalid --${name}: "${text}" is not a whole number from ${min} to ${max}`, USAGE);
}

/**
 * Parses the demo's flags. Prints help and exits 0 for `--help`; prints the problem and exits 2 for
 * an unknown flag or a bad value.
 */
function parseRaceArgs(argv: string[]): RaceOptions {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: argv,
      options: {
        clients: { type: "string", default: "10" },
        requests: { type: "string", default: "20" },
        "delay-ms": { type: "string", default: "1" },
        workers: { type: "string", default: "4" },
        increments: { type: "string", default: "1000000" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  const options = {
    clients: flagNumber("clients", values.clients, 1, 1000),
    requests: flagNumber("requests", values.requests, 1, 100_000),
    delayMs: flagNumber("delay-ms", values["delay-ms"], 0, 1000),
    workers: flagNumber("workers", values.workers, 1, 64),
    increments: flagNumber("increments", values.increments, 1, 100_000_000),
  };
  // The shared counter is an Int32Array element.
  if (options.workers * options.increments > 2 ** 31 - 1) {
    usageError(
      `Invalid --workers × --increments: ${options.workers * options.increments} does not fit ` +
        "in the 32-bit shared counter (at most 2147483647)",
      USAGE,
    );
  }
  return options;
}

const number = (n: number) => n.toLocaleString("en-US");
const plural = (n: number, noun: string) => `${number(n)} ${noun}${n === 1 ? "" : "s"}`;

/** Prints rows under a header, the label column left-aligned and the numbers right-aligned. */
function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => row[i].length))
  );
  for (const row of [header, ...rows]) {
    const cells = row.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]));
    console.log(`  ${cells.join("   ")}`);
  }
}

/** The numbers of one run as a table row. */
function resultRow(label: string, r: SocketRaceResult | CounterRaceResult): string[] {
  return [label, number(r.expected), number(r.got), number(r.lost), `${r.ms.toFixed(0)} ms`];
}

const HEADER = ["", "expected", "got", "lost", "time"];

async function main(): Promise<void> {
  const options = parseRaceArgs(Deno.args);
  const { clients, requests, delayMs } = options;

  console.log(
    `One thread, many clients: ${plural(clients, "TCP client")} × ${requests} SLOWINCR, ` +
      `service answers in ${delayMs} ms`,
  );
  const sockets = [
    resultRow("without a lock", await runSocketRace({ lock: false, clients, requests, delayMs })),
    resultRow(
      "with the lab's Mutex",
      await runSocketRace({ lock: true, clients, requests, delayMs }),
    ),
  ];
  printTable(HEADER, sockets);

  console.log(
    `\nReal threads: ${plural(options.workers, "Worker")} × ${
      number(options.increments)
    } increments ` +
      "of one SharedArrayBuffer counter",
  );
  const threads: string[][] = [];
  let unlockedLost = 0;
  for (
    const [mode, label] of [
      ["plain", "load, then store"],
      ["atomic", "Atomics.add"],
      ["mutex", "futex mutex"],
    ] as const
  ) {
    const result = await runCounterRace(mode, options);
    if (mode === "plain") unlockedLost = result.lost;
    threads.push(resultRow(label, result));
  }
  printTable(HEADER, threads);
  if (unlockedLost === 0 && options.workers > 1) {
    // Not a bug: a race needs the threads to overlap, and a busy machine may run them in turn.
    console.log(
      "  (No update lost this time: the Workers did not run at the same moment. Run it again,\n" +
        "  or give them more to do with --increments.)",
    );
  }

  console.log("\nThe interleaving that loses an update, forced step by step (Workers A and B):");
  for (const [mode, label] of [["plain", "without a lock"], ["mutex", "futex mutex"]] as const) {
    const { events, final } = await runLostUpdateTimeline(mode);
    console.log(`  ${label.padEnd(15)} ${events.join(" · ")}  → ${final}`);
  }
}

if (import.meta.main) await main();
