/**
 * What `INFO commandstats` and `INFO errorstats` report: how often each command ran, how long it
 * took, how often it failed or was refused, and how many error replies of each kind went out.
 *
 * Counting happens where Redis counts. A command's `calls` grow where it runs (lab 1's
 * `execute()`, which every lab's dispatcher ends in); `rejected_calls` where it is refused before
 * it runs (wrong arity, `NOAUTH`, `-OOM`, `-LOADING`...); `failed_calls` when it ran and answered
 * with an error. Error replies are counted as they are encoded, which is where Redis counts them
 * (`afterErrorReply()`): every error a client is sent, including those inside an `EXEC` reply and
 * those a gate answers before any command runs.
 *
 * The counters live in a map keyed by the command's spec, not on the spec: the specs are module
 * constants that every server in a process shares (the tests run many), and each server's numbers
 * must be its own.
 *
 * @module
 */

import type { InfoFields } from "./info.ts";

/**
 * What the statistics need of a command: its name and its subcommands. A `CommandSpec` is one;
 * declared here rather than imported so that the server state, which holds these statistics, and
 * the command types it declares do not import each other.
 */
export interface CountedCommand {
  /** The name in lower case, such as `get` or `config|get`. */
  readonly name: string;
  /** A container's subcommands. */
  readonly subcommands?: readonly CountedCommand[];
}

/** Where {@link CommandStats.reject} looks a refused command up: the server's command table. */
export interface CommandLookup {
  /**
   * Finds a command by name, in any case.
   *
   * @param name The name as a client spelt it.
   * @returns The command, or `undefined`.
   */
  get(name: string): CountedCommand | undefined;
}

/** One command's counters, as a `cmdstat_<name>` line shows them. */
export interface CommandCounters {
  /** Times its handler ran. */
  calls: number;
  /** Time spent in its handler, in microseconds, while timing is on (see {@link CommandStats}). */
  usec: number;
  /** Of `calls`, how many were timed: the divisor of `usec_per_call`. */
  timedCalls: number;
  /** Times it was refused before its handler ran. */
  rejected: number;
  /** Times its handler answered with an error. */
  failed: number;
}

/**
 * One server's command and error statistics.
 *
 * Time is the expensive part. Reading a clock is a call out of V8, `performance.now()` dearer
 * than `Date.now()`, and two readings per command would cost a pipelined `GET` a large share of
 * its time (bench/README.md, "INFO commandstats: what counting costs"). So counting is always on,
 * and timing starts the first time someone asks for `INFO commandstats`: a server nobody inspects
 * pays one map lookup (none when the command is the same as the last) and one increment per
 * command. `usec_per_call` divides by the calls that were timed, so it is right from the first
 * request on; `CONFIG RESETSTAT` after that first look gives Redis's numbers exactly.
 */
export class CommandStats {
  /** Whether {@link CommandCounters.usec} is being measured; set by the first `INFO commandstats`. */
  timing = false;
  /** Every error reply sent, as `total_error_replies` in `INFO stats`. */
  totalErrorReplies = 0;
  #commands = new Map<CountedCommand, CommandCounters>();
  // The last command counted and its counters: a pipeline sends the same command many times in a
  // row, and a comparison costs less than the map's lookup. Counters are zeroed in place, never
  // replaced, so the pair stays right through reset().
  #lastSpec: CountedCommand | null = null;
  #lastCounters: CommandCounters | null = null;
  #errors = new Map<string, number>();

  /**
   * The counters of one command, created at its first use.
   *
   * @param spec The command (a subcommand has its own, as `config|get`).
   * @returns Its counters, to be updated in place.
   */
  of(spec: CountedCommand): CommandCounters {
    if (spec === this.#lastSpec && this.#lastCounters !== null) return this.#lastCounters;
    let counters = this.#commands.get(spec);
    if (counters === undefined) {
      counters = { calls: 0, usec: 0, timedCalls: 0, rejected: 0, failed: 0 };
      this.#commands.set(spec, counters);
    }
    this.#lastSpec = spec;
    this.#lastCounters = counters;
    return counters;
  }

  /**
   * Counts a command refused before it ran, found as Redis's `lookupCommand()` finds it: an
   * unknown command, or an unknown subcommand of a container, is counted nowhere (its error still
   * is, in `errorstats`).
   *
   * @param commands The server's command table.
   * @param args The refused request.
   */
  reject(commands: CommandLookup, args: readonly string[]): void {
    let spec = commands.get(args[0]);
    if (spec?.subcommands && args.length >= 2) {
      const wanted = `${spec.name}|${args[1].toLowerCase()}`;
      spec = spec.subcommands.find((s) => s.name === wanted);
    }
    if (spec !== undefined) this.of(spec).rejected++;
  }

  /**
   * Counts one error reply under its code: the first word of the message, as Redis takes it (up to
   * the first space within the first 32 bytes, or `ERR` when there is none).
   *
   * @param message The error's text without the leading `-`, such as `WRONGTYPE Operation...`.
   */
  error(message: string): void {
    this.totalErrorReplies++;
    const space = message.indexOf(" ");
    const code = space > 0 && space < 32 ? message.slice(0, space) : "ERR";
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }

  /**
   * Zeroes everything (`CONFIG RESETSTAT`). Timing stays as it was. The counters are zeroed in
   * place, not dropped: the command running now (`CONFIG RESETSTAT` itself) holds its counters and
   * counts itself once it ends, so it shows `calls=1` afterwards, as in Redis.
   */
  reset(): void {
    for (const c of this.#commands.values()) {
      c.calls =
        c.usec =
        c.timedCalls =
        c.rejected =
        c.failed =
          0;
    }
    this.#errors.clear();
    this.totalErrorReplies = 0;
  }

  /**
   * The `Commandstats` section: one line per command that ran, failed or was refused.
   *
   * @returns Fields such as `cmdstat_get` = `calls=2,usec=5,usec_per_call=2.50,...`.
   */
  commandFields(): InfoFields {
    const fields: InfoFields = [];
    for (const [spec, c] of this.#commands) {
      if (c.calls === 0 && c.failed === 0 && c.rejected === 0) continue;
      const perCall = c.timedCalls === 0 ? 0 : c.usec / c.timedCalls;
      fields.push([
        `cmdstat_${spec.name}`,
        `calls=${c.calls},usec=${Math.floor(c.usec)},usec_per_call=${perCall.toFixed(2)},` +
        `rejected_calls=${c.rejected},failed_calls=${c.failed}`,
      ]);
    }
    // Redis walks a hash table, so its order means nothing; sorted is easier to read.
    return fields.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  }

  /**
   * The `Errorstats` section: one line per error code, in byte order as Redis's radix tree gives.
   *
   * @returns Fields such as `errorstat_ERR` = `count=3`.
   */
  errorFields(): InfoFields {
    return [...this.#errors.keys()].sort().map((code) => [
      `errorstat_${code}`,
      `count=${this.#errors.get(code)}`,
    ]);
  }
}
