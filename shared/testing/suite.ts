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
import { RawClient } from "./raw_client.ts";

/**
 * Opens a step's connection to `host:port`. Plain TCP by default; lab 3 passes one that runs its
 * handshake first, so the same steps check the server through its encrypted channel.
 */
export type RawConnect = (addr: string) => Promise<RawClient>;

/** What a step gets: the server's address, connections, and fresh names. */
export class StepContext {
  /** The server under test, `host:port`. */
  readonly addr: string;
  #connect: RawConnect;
  #clients: RawClient[] = [];
  #run = crypto.randomUUID().slice(0, 8);
  #counter = 0;

  /**
   * Creates a context for one step.
   *
   * @param addr The server under test.
   * @param connect How to open a connection; plain TCP by default.
   */
  constructor(addr: string, connect: RawConnect = RawClient.connect) {
    this.addr = addr;
    this.#connect = connect;
  }

  /**
   * Opens a connection that is closed when the step ends.
   *
   * @returns A raw client.
   */
  async connect(): Promise<RawClient> {
    const client = await this.#connect(this.addr);
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
    return `cachelab:${this.#run}:${++this.#counter}:${label}`;
  }

  /**
   * A random value of printable ASCII.
   *
   * @param length How many bytes.
   * @returns The value.
   */
  value(length = 12): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
  }

  /** Closes every connection the step opened. */
  async dispose(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
  }
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
    try {
      for (const step of steps) {
        await t.step(step.name, async () => {
          const ctx = new StepContext(target.addr, connect);
          try {
            await step.run(ctx);
          } finally {
            await ctx.dispose();
          }
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
