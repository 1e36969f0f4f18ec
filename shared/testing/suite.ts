/**
 * Black-box suites: a lab's checks written once, run against any server.
 *
 * A suite is a list of steps. Each step talks to a server over TCP and checks exact bytes. The same
 * steps run against:
 *
 * - the lab's own server, started on a free port (the default);
 * - any address, to grade a student's server in any language:
 *   `deno task test:lab1 -- --addr 127.0.0.1:6379` (or `CACHELAB_ADDR=127.0.0.1:6379`);
 * - a real `redis-server`, for the steps marked `redis: true`. That run is the proof that the
 *   suite's expectations are Redis's, not just ours.
 *
 * Steps use fresh random keys so that they do not depend on each other or on what a server already
 * holds.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { hasProgram, type RunningServer, startLabServer, startRedisServer } from "./processes.ts";
import { deriveSeed, newSeed, SeededRandom, seedHex } from "./random.ts";
import { RawClient } from "./raw_client.ts";

/**
 * Opens a step's connection to `host:port`. Plain TCP by default; lab 3 passes one that runs its
 * handshake first, so the same steps check the server through its encrypted channel.
 */
export type RawConnect = (addr: string) => Promise<RawClient>;

/** Options for a {@link StepContext}. */
export interface StepOptions {
  /**
   * The run's seed: steps given the same seed and name send the same keys and values. Random
   * when absent.
   */
  seed?: number;
  /** The step's name, which picks its own sequence from the seed. */
  name?: string;
  /** How long each read waits for the server (default 5 s). */
  timeoutMs?: number;
  /**
   * Stops the server and starts it again, resolving to its new address: given only by a runner
   * that started the server itself (the grader).
   */
  restart?: (flags?: readonly string[], how?: RestartHow) => Promise<string>;
  /** The options the runner started the server with for this step; a restart keeps them. */
  flags?: readonly string[];
  /** The lab's own program under test, for a step that runs it: given only by a runner that knows it. */
  program?: LabProgram;
}

/**
 * A lab's own program other than its server, for the steps that run it: lab 3's client (which must
 * refuse an impostor), lab 2's race demo (whose locks must lose no update). How to run it, and
 * where it may keep its files.
 */
export interface LabProgram {
  /** Its path from the repository root, such as `exercises/03-secure/client.ts`. */
  entry: string;
  /** The Deno permission flags it runs with, as its `deno task` gives them. */
  denoFlags: readonly string[];
  /** A directory for its files (lab 3's known-hosts file), removed after the run; if it needs one. */
  dir?: string;
}

/** How a step restarts the server. */
export interface RestartHow {
  /** Stop it with SIGKILL, as a crash would: no shutdown code runs. */
  kill?: boolean;
  /**
   * Start it again under `strace`, logging its fsyncs and renames to this file until the next
   * restart (see `syscalls.ts`).
   */
  syscalls?: string;
}

/** What a step gets: the server's address, connections, and fresh names. */
export class StepContext {
  #addr: string;
  #restart: ((flags?: readonly string[], how?: RestartHow) => Promise<string>) | undefined;
  #flags: readonly string[] | undefined;
  #connect: RawConnect;
  #clients: RawClient[] = [];
  #seed: number;
  #step: string;
  #random: () => number;
  #counter = 0;
  #timeoutMs: number | undefined;
  #program: LabProgram | undefined;

  /**
   * Creates a context for one step.
   *
   * @param addr The server under test.
   * @param connect How to open a connection; plain TCP by default.
   * @param options The run's seed, the step's name, the read timeout.
   */
  constructor(addr: string, connect: RawConnect = RawClient.connect, options: StepOptions = {}) {
    this.#addr = addr;
    this.#restart = options.restart;
    this.#flags = options.flags;
    this.#connect = connect;
    this.#seed = options.seed ?? newSeed();
    const stepSeed = deriveSeed(this.#seed, options.name ?? crypto.randomUUID());
    this.#step = seedHex(stepSeed);
    const rng = new SeededRandom(stepSeed);
    this.#random = () => rng.float();
    this.#timeoutMs = options.timeoutMs;
    this.#program = options.program;
  }

  /**
   * The lab's own program under test (lab 3's client, lab 2's race demo), for a step that runs it.
   *
   * @returns How to run it.
   * @throws {Error} If the runner does not know it (a server graded with `--cmd`).
   */
  program(): LabProgram {
    if (this.#program === undefined) {
      throw new Error("This check runs the lab's own program, which this runner was not given");
    }
    return this.#program;
  }

  /** The server under test, `host:port` (after a {@link restart}, where it listens now). */
  get addr(): string {
    return this.#addr;
  }

  /**
   * Closes the step's connections, then stops the server and starts it again, the same way and
   * with the same data directory (and the step's options): how a check sees what survives a
   * restart, or, with `kill`, a crash.
   *
   * @param how `kill: true` stops the server with SIGKILL: no shutdown code runs; `syscalls`
   *   starts it under strace.
   * @throws {Error} If the runner cannot restart the server (it did not start it).
   */
  async restart(how: RestartHow = {}): Promise<void> {
    if (this.#restart === undefined) {
      throw new Error("This check restarts the server, which only a runner that started it can do");
    }
    await this.dispose();
    this.#clients = [];
    this.#addr = await this.#restart(this.#flags ?? [], how);
  }

  /**
   * Opens a connection that is closed when the step ends.
   *
   * @returns A raw client.
   */
  async connect(): Promise<RawClient> {
    const client = await this.#connect(this.#addr);
    if (this.#timeoutMs !== undefined) client.timeoutMs = this.#timeoutMs;
    this.#clients.push(client);
    return client;
  }

  /**
   * A key no other step or run uses.
   *
   * @param label Makes the key readable in a server's `KEYS *`.
   * @returns Such as `cachelab:3f2a9c1d:1:name`.
   */
  key(label = "key"): string {
    return `cachelab:${this.#step}:${++this.#counter}:${label}`;
  }

  /**
   * A key every step of this run names the same way: how a later step finds what an earlier one
   * wrote, to check that the server still holds it.
   *
   * @param label Such as `keyspace:17`.
   * @returns Such as `cachelab:0000002a:run:keyspace:17`.
   */
  runKey(label: string): string {
    return `cachelab:${seedHex(this.#seed)}:run:${label}`;
  }

  /**
   * A value every step of this run computes the same way for `label`: the value an earlier step
   * stored under {@link runKey}, recomputed rather than remembered.
   *
   * @param label Such as `keyspace:17`.
   * @param length How many bytes.
   * @returns The value.
   */
  runValue(label: string, length = 12): string {
    const rng = new SeededRandom(deriveSeed(this.#seed, label));
    return randomText(() => rng.float(), length);
  }

  /**
   * A random value of printable ASCII, drawn from the step's seeded sequence.
   *
   * @param length How many bytes.
   * @returns The value.
   */
  value(length = 12): string {
    return randomText(this.#random, length);
  }

  /**
   * The last bytes each connection sent and received, for a failure report.
   *
   * @returns Lines, one connection after another; none if nothing was exchanged.
   */
  conversation(): string[] {
    return conversationOf(this.#clients);
  }

  /** Closes every connection the step opened. */
  async dispose(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
  }
}

/**
 * The end of each connection's conversation, under a heading per connection when there are
 * several (a step with two clients fails because of what one of them saw).
 *
 * @param clients The connections, in the order they were opened.
 * @returns Report lines.
 */
export function conversationOf(clients: readonly { conversation(): string[] }[]): string[] {
  const talking = clients.map((c, i) => ({ i, lines: c.conversation() }))
    .filter((c) => c.lines.length > 0);
  if (talking.length === 1) return talking[0].lines;
  return talking.flatMap(({ i, lines }) => [`connection ${i + 1}:`, ...lines.map((l) => `  ${l}`)]);
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function randomText(random: () => number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return out;
}

/** One check of a suite. */
export interface SuiteStep {
  /** Reads as a sentence: "GET of a missing key returns a null bulk string". */
  name: string;
  /**
   * `true` if real Redis 7.0 behaves exactly so. `false` for the course's own behaviour: the seed's
   * `DELETE` alias, lab 1 serving one client at a time, commands newer than Redis 7.0.
   */
  redis: boolean;
  /** How many points the grader gives for it; 1 unless a suite says it is worth more. */
  points?: number;
  /**
   * Whether it restarts the server ({@link StepContext.restart}). Only the grader can: `deno test`
   * runs of a suite leave such a step out (ignored, and named so).
   */
  needsRestart?: boolean;
  /**
   * Options the server must be started with for this step (`--maxclients 2`): the grader
   * restarts it with them first. `deno test` runs of a suite leave such a step out, as above.
   */
  flags?: readonly string[];
  /**
   * Whether it runs the lab's own program ({@link StepContext.program}) rather than only talking
   * to the server. Only a runner that knows the program can: the grader leaves such a step out for
   * a server it is given by `--cmd` or `--addr`, and says so.
   */
  needsLabProgram?: boolean;
  /**
   * A program the step needs on this machine, such as `strace` to see fsyncs: a runner leaves
   * the step out when it is missing, and says so.
   */
  needsProgram?: string;
  /** The check. */
  run(ctx: StepContext): Promise<void>;
}

/** A server to run a suite against: one we started, or one somebody else runs. */
interface Target {
  addr: string;
  stop(): Promise<void>;
}

/**
 * The address given with `--addr HOST:PORT` after `--` on the test command line, or in the
 * `CACHELAB_ADDR` environment variable.
 *
 * @returns The address, or `undefined` to start the lab's own server.
 */
export function externalAddr(): string | undefined {
  const { values } = parseArgs({
    args: Deno.args,
    options: { addr: { type: "string" } },
    strict: false,
  });
  const addr = typeof values.addr === "string" ? values.addr : Deno.env.get("CACHELAB_ADDR");
  return addr || undefined;
}

function runSteps(
  steps: readonly SuiteStep[],
  start: () => Promise<Target>,
  connect?: RawConnect,
) {
  return async (t: Deno.TestContext) => {
    const target = await start();
    // One seed for the whole run, so a step can re-read what an earlier one wrote.
    const seed = newSeed();
    try {
      for (const step of steps) {
        await t.step({
          name: step.needsRestart || step.flags
            ? `${step.name} (left out: only the grader restarts)`
            : step.name,
          ignore: step.needsRestart === true || step.flags !== undefined,
          fn: async () => {
            const ctx = new StepContext(target.addr, connect, { seed, name: step.name });
            try {
              await step.run(ctx);
            } finally {
              await ctx.dispose();
            }
          },
        });
      }
    } finally {
      await target.stop();
    }
  };
}

/**
 * Registers a suite as one Deno test with a step per check, against the lab's server (or the
 * `--addr` given on the command line).
 *
 * @param name The test's name, such as "lab 1 suite".
 * @param entry The lab's server, such as `labs/01-single-client/server.ts`.
 * @param steps The checks.
 * @param serverOptions Arguments and Deno flags for the lab's server, and how steps connect to
 *   it (plain TCP by default).
 */
export function registerSuite(
  name: string,
  entry: string,
  steps: readonly SuiteStep[],
  serverOptions: { args?: string[]; denoFlags?: string[]; connect?: RawConnect } = {},
): void {
  const external = externalAddr();
  Deno.test({
    name: external ? `${name} against ${external}` : name,
    fn: runSteps(steps, async () => {
      if (external) return { addr: external, stop: () => Promise.resolve() };
      const server: RunningServer = await startLabServer(entry, serverOptions);
      return server;
    }, serverOptions.connect),
  });
}

/**
 * Registers the Redis-compatible steps of a suite as a test against a real `redis-server`, started
 * on a free port. Skipped, and reported as ignored, when `redis-server` is not installed.
 *
 * @param name The test's name, such as "lab 1 suite against real Redis".
 * @param steps The checks; only those marked `redis: true` run.
 * @param options More `redis-server` arguments (such as `--requirepass`), and how steps connect
 *   (plain TCP by default).
 */
export function registerRedisConformance(
  name: string,
  steps: readonly SuiteStep[],
  options: { redisArgs?: string[]; connect?: RawConnect } = {},
): void {
  const installed = hasProgram("redis-server");
  Deno.test({
    name: installed ? name : `${name} (skipped: redis-server is not installed)`,
    ignore: !installed || externalAddr() !== undefined,
    fn: runSteps(steps.filter((s) => s.redis), async () => {
      const redis = await startRedisServer(options.redisArgs);
      if (redis === null) throw new Error("redis-server disappeared");
      return redis;
    }, options.connect),
  });
}
