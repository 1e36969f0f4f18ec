/**
 * What the memcache tests share: a raw text-protocol client, a real `memcached` to check the
 * suite against, and a runner that registers a suite as one Deno test with a step per check.
 *
 * It mirrors `shared/testing/` (raw bytes, deadlines instead of hangs, fresh keys per step); its
 * client is `shared/testing/`'s {@link RawClient}, reading lines whose content is not known in
 * advance (the cas unique in `VALUE k 0 5 1234`) and the data blocks after them.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { parseArgs } from "node:util";
import { freePort, hasProgram } from "../../../shared/testing/processes.ts";
import { bytesToByteString } from "../../../shared/resp/bytes.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { deriveSeed, newSeed, seedHex } from "../../../shared/testing/random.ts";
import { conversationOf, type StepOptions } from "../../../shared/testing/suite.ts";
import type { Clock } from "../clock.ts";
import { ExpiringKeyspace } from "../keyspace.ts";
import { type MemcacheOptions, type MemcacheServer, startMemcacheServer } from "./mod.ts";

/**
 * A raw TCP connection that speaks memcached's text protocol byte for byte: a {@link RawClient}
 * (the same background reader and deadlines as the RESP tests) that hands back byte strings,
 * because memcached's replies are text lines and data blocks, never RESP.
 */
export class McClient implements AsyncDisposable {
  #raw: RawClient;

  private constructor(raw: RawClient) {
    this.#raw = raw;
  }

  /**
   * Connects to `host:port`.
   *
   * @param addr Such as `127.0.0.1:11211`.
   * @returns The connected client.
   */
  static async connect(addr: string): Promise<McClient> {
    return new McClient(await RawClient.connect(addr));
  }

  /**
   * Sends bytes as they are.
   *
   * @param data A byte string (`"get k\r\n"`, `"\xff"`) or bytes.
   */
  send(data: string | Uint8Array): Promise<void> {
    return this.#raw.send(data);
  }

  /**
   * Waits for exactly `expected.length` more bytes and checks that they are `expected`.
   *
   * @param expected The exact bytes, as a byte string.
   * @param timeoutMs Fail if they have not all arrived by then.
   */
  expect(expected: string, timeoutMs?: number): Promise<void> {
    return this.#raw.expect(expected, timeoutMs);
  }

  /**
   * Reads one line, whatever it says.
   *
   * @param timeoutMs Fail if no whole line has arrived by then.
   * @returns The line without its `\r\n`, as a byte string.
   */
  readLine(timeoutMs?: number): Promise<string> {
    return this.#raw.readLine(timeoutMs);
  }

  /**
   * Reads exactly `n` bytes, whatever they are.
   *
   * @param n How many.
   * @param timeoutMs Fail if they have not all arrived by then.
   * @returns The bytes as a byte string.
   */
  async read(n: number, timeoutMs?: number): Promise<string> {
    return bytesToByteString(await this.#raw.readExactly(n, timeoutMs));
  }

  /**
   * Checks that the server closes the connection, and returns what it sent before closing.
   *
   * @param timeoutMs How long to wait for the close.
   * @returns The bytes received before the close, as a byte string.
   */
  async expectClosed(timeoutMs?: number): Promise<string> {
    return bytesToByteString(await this.#raw.expectClosed(timeoutMs));
  }

  /**
   * Checks that nothing arrives for `ms` milliseconds.
   *
   * @param ms How long to listen.
   */
  expectSilence(ms: number): Promise<void> {
    return this.#raw.expectSilence(ms);
  }

  /** How long a read waits when its caller gives no timeout (the grader's `--timeout`). */
  set timeoutMs(ms: number) {
    this.#raw.timeoutMs = ms;
  }

  /**
   * The last bytes sent and received, for a failure report.
   *
   * @returns Report lines.
   */
  conversation(): string[] {
    return this.#raw.conversation();
  }

  /** Closes the connection and waits for the background reader. Idempotent. */
  close(): Promise<void> {
    return this.#raw.close();
  }

  /** Closes the connection at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** What a step gets: the server's address, connections, and fresh names. */
export class McStepContext {
  /** The server under test, `host:port`. */
  readonly addr: string;
  #clients: McClient[] = [];
  #run: string;
  #counter = 0;
  #timeoutMs: number | undefined;

  /**
   * Creates a context for one step.
   *
   * @param addr The server under test.
   * @param options The run's seed and the step's name (which make its keys reproducible), and
   *   the read timeout.
   */
  constructor(addr: string, options: StepOptions = {}) {
    this.addr = addr;
    this.#run = seedHex(deriveSeed(options.seed ?? newSeed(), options.name ?? crypto.randomUUID()));
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * Opens a connection that is closed when the step ends.
   *
   * @returns A raw client.
   */
  async connect(): Promise<McClient> {
    const client = await McClient.connect(this.addr);
    if (this.#timeoutMs !== undefined) client.timeoutMs = this.#timeoutMs;
    this.#clients.push(client);
    return client;
  }

  /**
   * A key no other step or run uses.
   *
   * @param label Makes the key readable.
   * @returns Such as `cachelab:3f2a9c1d:1:name`.
   */
  key(label = "key"): string {
    return `cachelab:${this.#run}:${++this.#counter}:${label}`;
  }

  /**
   * The last bytes each connection sent and received, for a failure report.
   *
   * @returns Report lines.
   */
  conversation(): string[] {
    return conversationOf(this.#clients);
  }

  /** Closes every connection the step opened. */
  async dispose(): Promise<void> {
    await Promise.all(this.#clients.map((c) => c.close()));
  }
}

/** One check of the memcache suite. */
export interface McStep {
  /** Reads as a sentence. */
  name: string;
  /**
   * `true` if real memcached 1.6 behaves exactly so; `false` for the course's own behaviour
   * (memcached-lite's short `set`, the unpadded `decr`).
   */
  memcached: boolean;
  /** How many points the grader gives for it; 1 unless the suite says it is worth more. */
  points?: number;
  /** The check. */
  run(ctx: McStepContext): Promise<void>;
}

/** A server to run a suite against. */
export interface McTarget {
  /** `host:port`. */
  addr: string;
  /** Stops it (or does nothing for a server somebody else runs). */
  stop(): Promise<void>;
}

/**
 * The address given with `--memcache-addr HOST:PORT` after `--` on the test command line, or in
 * `CACHELAB_MEMCACHE_ADDR`: run the suite against that server instead (a grader's mode).
 *
 * @returns The address, or `undefined`.
 */
export function externalMemcacheAddr(): string | undefined {
  const { values } = parseArgs({
    args: Deno.args,
    options: { "memcache-addr": { type: "string" } },
    strict: false,
  });
  const flag = values["memcache-addr"];
  return (typeof flag === "string" ? flag : Deno.env.get("CACHELAB_MEMCACHE_ADDR")) || undefined;
}

/**
 * Registers a suite as one Deno test with a step per check.
 *
 * @param name The test's name.
 * @param steps The checks to run, in order.
 * @param start Starts the server under test.
 * @param ignore Skip the test (a missing program), with the reason already in `name`.
 */
export function registerMcSuite(
  name: string,
  steps: readonly McStep[],
  start: () => Promise<McTarget>,
  ignore = false,
): void {
  Deno.test({
    name,
    ignore,
    async fn(t) {
      const target = await start();
      try {
        for (const step of steps) {
          await t.step(step.name, async () => {
            const ctx = new McStepContext(target.addr);
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
    },
  });
}

/** Waits until something accepts connections on the port, or the time is up. */
async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return false;
}

/**
 * Starts a real `memcached` on a free port of 127.0.0.1 (TCP only), or returns `null` if it is not
 * installed. `-u root` is there because memcached refuses to run as root without `-u`; when not
 * root, memcached ignores it.
 *
 * @returns The running server, or `null`.
 */
export async function startMemcached(): Promise<McTarget | null> {
  if (!hasProgram("memcached")) return null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const child = new Deno.Command("memcached", {
      args: ["-p", String(port), "-U", "0", "-l", "127.0.0.1", "-u", "root"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const ready = await Promise.race([waitForPort(port, 5_000), status.then(() => false)]);
    const stop = async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // exited in the meantime
        }
      }
      await status;
    };
    if (ready && !exited) return { addr: `127.0.0.1:${port}`, stop };
    await stop(); // most likely the port was taken in the meantime: try another
  }
  throw new Error("Cannot start memcached: it never accepted connections");
}

/**
 * Parses a `VALUE` line of `gets`.
 *
 * @param line Such as `VALUE k 0 5 1234`.
 * @returns The key, flags, length and cas unique.
 */
export function parseValueLine(
  line: string,
): { key: string; flags: number; bytes: number; cas: bigint } {
  const match = /^VALUE (\S+) (\d+) (\d+) (\d+)$/.exec(line);
  if (match === null) throw new AssertionError({ message: `Not a gets VALUE line: ${line}` });
  return { key: match[1], flags: Number(match[2]), bytes: Number(match[3]), cas: BigInt(match[4]) };
}

/** This lab's memcached port running in the test's own process, and what it did. */
export interface InProcessServer extends AsyncDisposable {
  /** The running listener. */
  server: MemcacheServer;
  /** Its keyspace: what the RESP side of lab 4 would serve. */
  db: ExpiringKeyspace;
  /** `host:port`. */
  addr: string;
  /** Every write it propagated to persistence, in order. */
  propagated: string[][];
  /** Its log lines. */
  logs: string[];
}

/**
 * Starts the memcached port in this process on a free port, recording what it propagates and logs.
 *
 * @param options A clock for the keyspace, and any listener options.
 * @returns The server; use it with `await using`.
 */
export function startInProcess(
  options: { clock?: Clock } & Partial<Omit<MemcacheOptions, "host" | "port" | "db">> = {},
): InProcessServer {
  const db = new ExpiringKeyspace(options.clock);
  const propagated: string[][] = [];
  const logs: string[] = [];
  const server = startMemcacheServer({
    host: "127.0.0.1",
    port: 0,
    db,
    propagate: (args) => propagated.push(args),
    beforeWrite: () => undefined,
    log: (line) => logs.push(line),
    ...options,
  });
  return {
    server,
    db,
    addr: `${server.address.host}:${server.address.port}`,
    propagated,
    logs,
    [Symbol.asyncDispose]: () => server.close(),
  };
}
