/**
 * The project's own load generator, as a library ({@link runLoad}) and a command:
 *
 * ```sh
 * deno run --allow-net bench/loadgen.ts --addr 127.0.0.1:6379 --connections 50 --pipeline 16 \
 *   --mix set:50,get:50 --duration 5 --keyspace 10000 --value-size 32
 * ```
 *
 * `redis-benchmark`, written in C, is the primary yardstick for the course: it costs the machine
 * far less CPU per request than any JavaScript client can. This generator exists for what
 * `redis-benchmark` cannot do: mixes of commands, and, in lab 3, talking through the course's own
 * encrypted channel (pass {@link LoadOptions.connect}).
 *
 * Each connection is one loop: send a batch of `pipeline` commands, wait until all their replies
 * have arrived, record how long that took, send the next batch. With `--pipeline 1` that is one
 * request at a time and the latency is per request; with `--pipeline 16` it is per batch of 16,
 * measured from the batch's send to its last reply, which is how `redis-benchmark -P` measures too.
 *
 * It is built to cost little: the commands are encoded once before the clock starts
 * (`workload.ts`), replies are counted from their framing without being decoded
 * (`reply_counter.ts`), latencies go into a fixed-size histogram (`histogram.ts`), and one read
 * buffer per connection is reused for the whole run.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Transport, writeAll } from "../shared/transport.ts";
import { LatencyHistogram, type LatencySummary } from "./histogram.ts";
import { ReplyCounter } from "./reply_counter.ts";
import { Batches, formatMix, type MixEntry, parseMix } from "./workload.ts";

/** Opens one connection to the server. The default is a plain TCP connection. */
export type Connect = (addr: { hostname: string; port: number }) => Promise<Transport>;

/** How to load the server. Every field has a default. */
export interface LoadOptions {
  /** Concurrent connections (default 50). */
  connections?: number;
  /** Commands per batch, sent together before waiting for replies (default 16). */
  pipeline?: number;
  /** The command mix, as entries or as text such as `set:50,get:50` (default `set:50,get:50`). */
  mix?: readonly MixEntry[] | string;
  /**
   * Seconds to run (default 5 when {@link requests} is not given). Batches in flight when time is
   * up are finished and counted.
   */
  duration?: number;
  /** Total requests to send, over all connections; the run stops when they are answered. */
  requests?: number;
  /** Distinct keys (default 10,000). */
  keyspace?: number;
  /** Bytes per SET value (default 32). */
  valueSize?: number;
  /**
   * Seconds after which the run is abandoned and its connections closed (default: the duration
   * plus 10 s, or 60 s for a request count). A server that stops answering, or one that serves a
   * single client at a time while this opens several connections, ends in an error, not a hang.
   */
  timeout?: number;
  /** Seed for the keys and the command order (default 1). */
  seed?: number;
  /**
   * Opens a connection. Lab 3 passes one that performs its handshake and returns the encrypted
   * channel; anything with `read`, `write` and `close` works.
   */
  connect?: Connect;
}

/** What a run measured. */
export interface LoadResult {
  /** The server, `host:port`. */
  addr: string;
  /** Connections used. */
  connections: number;
  /** Commands per batch. */
  pipeline: number;
  /** The mix in command-line form. */
  mix: string;
  /** Distinct keys. */
  keyspace: number;
  /** Bytes per SET value. */
  valueSize: number;
  /** Requests sent. */
  requests: number;
  /** Whole replies received; equals {@link requests} after a clean run. */
  replies: number;
  /** How many replies were errors (`-ERR …`). */
  errors: number;
  /** The first error reply's text, if there was one. */
  firstError?: string;
  /** Wall-clock seconds from the first send to the last reply. */
  seconds: number;
  /** Replies per second. */
  opsPerSec: number;
  /** Batches timed. */
  batches: number;
  /** Per-batch latency, in microseconds. */
  latencyUs: LatencySummary;
}

const DEFAULTS = {
  connections: 50,
  pipeline: 16,
  mix: "set:50,get:50",
  duration: 5,
  keyspace: 10_000,
  valueSize: 32,
} as const;

/** Bytes per read; like Redis's own 16 KiB, but larger, since a batch of GET replies can be big. */
const READ_SIZE = 64 * 1024;

/**
 * What the run's connections share. JavaScript runs one piece of code at a time and every update
 * below happens between two `await`s, so plain fields are safe: no lock is needed.
 */
interface RunState {
  /** Set when time is up: each loop finishes the batch in flight and stops. */
  stop: boolean;
  /** Requests not yet claimed by any connection; `Infinity` for a timed run. */
  unclaimed: number;
  sent: number;
  replies: number;
  errors: number;
  firstError: string | undefined;
  histogram: LatencyHistogram;
}

/** Connects with plain TCP, with Nagle's algorithm off so a small batch leaves at once. */
async function connectTcp(addr: { hostname: string; port: number }): Promise<Transport> {
  const conn = await Deno.connect({ hostname: addr.hostname, port: addr.port });
  conn.setNoDelay(true);
  return conn;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Invalid ${name}: ${value} is not a positive whole number`);
  }
  return value;
}

function positiveNumber(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Invalid ${name}: ${value} is not a positive number`);
  }
  return value;
}

/**
 * Splits `host:port`; the host may be a bracketed IPv6 address.
 *
 * @param addr Such as `127.0.0.1:6379` or `[::1]:6379`.
 * @returns The parts.
 * @throws {SyntaxError} When there is no valid port.
 */
export function parseAddr(addr: string): { hostname: string; port: number } {
  const colon = addr.lastIndexOf(":");
  const port = Number(addr.slice(colon + 1));
  if (colon < 1 || !/^\d+$/.test(addr.slice(colon + 1)) || port > 65535) {
    throw new SyntaxError(`Cannot parse address "${addr}": expected HOST:PORT`);
  }
  return { hostname: addr.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port };
}

/**
 * One connection's loop: send a batch, count its replies, time it, repeat.
 *
 * The write and the reads run together rather than one after the other. For small batches it
 * makes no difference; for a batch of large values it avoids a deadlock in which both sides are
 * blocked writing because neither is reading.
 */
async function drive(
  transport: Transport,
  batches: Batches,
  first: number,
  state: RunState,
): Promise<void> {
  const buffer = new Uint8Array(READ_SIZE);
  const counter = new ReplyCounter();
  const pipeline = batches.pipeline;
  let index = first;
  let errorsSeen = 0;

  const readReplies = async (expected: number) => {
    let waiting = expected;
    while (waiting > 0) {
      const n = await transport.read(buffer);
      if (n === null) {
        throw new Error(`The server closed the connection with ${waiting} replies outstanding`);
      }
      const done = counter.feed(buffer, n);
      waiting -= done;
      state.replies += done;
      if (counter.errors !== errorsSeen) {
        state.errors += counter.errors - errorsSeen;
        errorsSeen = counter.errors;
        state.firstError ??= counter.firstError;
      }
    }
    if (waiting < 0) throw new Error(`The server sent ${-waiting} replies nobody asked for`);
  };

  while (!state.stop && state.unclaimed > 0) {
    const size = Math.min(pipeline, state.unclaimed);
    state.unclaimed -= size;
    const bytes = size === pipeline ? batches.full(index) : batches.prefix(index, size);
    index++;
    const started = performance.now();
    state.sent += size;
    await Promise.all([writeAll(transport, bytes), readReplies(size)]);
    state.histogram.record((performance.now() - started) * 1000);
  }
}

/**
 * Runs a load against a server and measures throughput and latency.
 *
 * All connections are opened before the clock starts, so connecting is not part of the result.
 *
 * @param addr The server, `host:port`.
 * @param options Connections, pipeline, mix, duration or request count, and so on.
 * @returns Counts, throughput and latency.
 * @throws {Error} When a connection fails, the server breaks the protocol, or the run exceeds its
 *   timeout; every connection is closed first.
 * @example
 * ```ts
 * const result = await runLoad("127.0.0.1:6379", { connections: 1, pipeline: 16, duration: 1 });
 * console.log(result.opsPerSec, result.latencyUs.p99);
 * ```
 */
export async function runLoad(addr: string, options: LoadOptions = {}): Promise<LoadResult> {
  const connections = positiveInteger("connections", options.connections ?? DEFAULTS.connections);
  const pipeline = positiveInteger("pipeline", options.pipeline ?? DEFAULTS.pipeline);
  const keyspace = positiveInteger("keyspace", options.keyspace ?? DEFAULTS.keyspace);
  const valueSize = options.valueSize ?? DEFAULTS.valueSize;
  if (!Number.isSafeInteger(valueSize) || valueSize < 0) {
    throw new RangeError(`Invalid value size: ${valueSize} is not a whole number of bytes`);
  }
  const requests = options.requests === undefined
    ? undefined
    : positiveInteger("request count", options.requests);
  const duration = options.duration === undefined
    ? (requests === undefined ? DEFAULTS.duration : undefined)
    : positiveNumber("duration", options.duration);
  const timeout = positiveNumber(
    "timeout",
    options.timeout ?? (duration === undefined ? 60 : duration + 10),
  );
  const mix = typeof options.mix === "string"
    ? parseMix(options.mix)
    : options.mix ?? parseMix(DEFAULTS.mix);
  const target = parseAddr(addr);
  const connect = options.connect ?? connectTcp;

  const batches = new Batches({ mix, pipeline, keyspace, valueSize, seed: options.seed });
  const transports: Transport[] = [];
  const close = (t: Transport) => {
    try {
      t.close();
    } catch {
      // already closed
    }
  };
  const closeAll = () => transports.forEach(close);

  const state: RunState = {
    stop: false,
    unclaimed: requests ?? Infinity,
    sent: 0,
    replies: 0,
    errors: 0,
    firstError: undefined,
    histogram: new LatencyHistogram(),
  };
  let stopTimer: ReturnType<typeof setTimeout> | undefined;
  let timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  try {
    for (let i = 0; i < connections; i++) transports.push(await connect(target));

    const started = performance.now();
    if (duration !== undefined) stopTimer = setTimeout(() => state.stop = true, duration * 1000);
    // Closing the connections makes every pending read fail, so each loop ends and nothing leaks.
    timeoutTimer = setTimeout(() => {
      timedOut = true;
      state.stop = true;
      closeAll();
    }, timeout * 1000);
    // Connections start at different batches so that they do not all hit the same keys in step.
    // Each is closed as soon as its loop ends, which lets a one-client-at-a-time server (lab 1)
    // move on to the next connection instead of leaving it waiting until the whole run is over.
    const loops = transports.map((t, i) =>
      drive(t, batches, Math.floor(i * batches.count / connections), state).finally(() => close(t))
    );
    const outcomes = await Promise.allSettled(loops);
    const seconds = (performance.now() - started) / 1000;

    if (timedOut) {
      throw new Error(
        `Load run did not finish within ${timeout} s: ${state.replies} of ${state.sent} replies ` +
          "arrived" + (connections > 1
            ? `. A server that serves one client at a time cannot serve ${connections} ` +
              "connections at once; try --connections 1"
            : ""),
      );
    }
    const failure = outcomes.find((o) => o.status === "rejected");
    if (failure) throw failure.reason;

    return {
      addr,
      connections,
      pipeline,
      mix: formatMix(mix),
      keyspace,
      valueSize,
      requests: state.sent,
      replies: state.replies,
      errors: state.errors,
      ...(state.firstError === undefined ? {} : { firstError: state.firstError }),
      seconds,
      opsPerSec: seconds > 0 ? state.replies / seconds : 0,
      batches: state.histogram.count,
      latencyUs: state.histogram.summary(),
    };
  } finally {
    clearTimeout(stopTimer);
    clearTimeout(timeoutTimer);
    closeAll();
  }
}

const HELP = `Usage: deno run --allow-net bench/loadgen.ts [options]

Loads a Redis-compatible server and reports throughput (ops/s) and latency (µs).

Options:
  --addr HOST:PORT        server to load (default 127.0.0.1:6379)
  -c, --connections N     concurrent connections (default ${DEFAULTS.connections})
  -P, --pipeline N        commands sent together before waiting for replies (default ${DEFAULTS.pipeline})
  --mix LIST              command mix as command[:weight],... from set, get, incr, ping
                          (default ${DEFAULTS.mix})
  --duration SECONDS      how long to run (default ${DEFAULTS.duration}, unless --requests is given)
  -n, --requests N        send N requests in all, then stop
  --keyspace N            distinct keys, key:000000000000 and up (default ${DEFAULTS.keyspace})
  --value-size BYTES      bytes per SET value (default ${DEFAULTS.valueSize})
  --timeout SECONDS       give up and close the connections after this long
                          (default: duration + 10, or 60 with --requests)
  --seed N                seed for keys and command order (default 1)
  --json                  print the result as one JSON object
  -h, --help              show this help

Latency is measured per batch: from sending a batch of --pipeline commands to its last reply.
Exits 1 if the server answered any request with an error, or the run failed.

redis-benchmark (C) is the primary yardstick: this generator runs on the same cores as the server
it measures, and every microsecond it spends is one the server does not get. Compare servers by
their ratio within one run, not by absolute numbers.`;

const NOTE = "Note: redis-benchmark (C) is the primary yardstick. This generator shares the " +
  "machine's cores with the server\nand takes CPU from it; compare servers by ratio within one " +
  "run, not by absolute numbers.";

/** Formats a number with thousands separators, as people read throughput. */
function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/**
 * Renders a result for a terminal.
 *
 * @param result What {@link runLoad} returned.
 * @returns A few lines of text, ending with the note on what the numbers are worth.
 */
export function formatResult(result: LoadResult): string {
  const { latencyUs: l } = result;
  const lines = [
    `loadgen -> ${result.addr}: ${result.connections} connection(s), pipeline ${result.pipeline}, ` +
    `mix ${result.mix}, keyspace ${result.keyspace}, values of ${result.valueSize} B`,
    `  requests     ${grouped(result.requests)} sent, ${grouped(result.replies)} replies, ` +
    `${grouped(result.errors)} errors in ${result.seconds.toFixed(2)} s`,
    `  throughput   ${grouped(result.opsPerSec)} ops/s`,
    `  latency      per batch of ${result.pipeline}, µs: p50 ${grouped(l.p50)}  ` +
    `p99 ${grouped(l.p99)}  p99.9 ${grouped(l.p999)}  max ${grouped(l.max)}  ` +
    `(mean ${grouped(l.mean)}, ${grouped(result.batches)} batches)`,
  ];
  if (result.firstError !== undefined) lines.push(`  first error  ${result.firstError}`);
  lines.push(NOTE);
  return lines.join("\n");
}

function usageError(message: string): never {
  console.error(`${message}\nRun "deno run bench/loadgen.ts --help" for usage.`);
  Deno.exit(2);
}

/** Parses the command line into {@link LoadOptions}, exiting with a message on a bad flag. */
function parseCli(argv: string[]): { addr: string; json: boolean; options: LoadOptions } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        addr: { type: "string", default: "127.0.0.1:6379" },
        connections: { type: "string", short: "c" },
        pipeline: { type: "string", short: "P" },
        mix: { type: "string" },
        duration: { type: "string" },
        requests: { type: "string", short: "n" },
        keyspace: { type: "string" },
        "value-size": { type: "string" },
        timeout: { type: "string" },
        seed: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const num = (flag: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n)) {
      usageError(`Invalid --${flag}: "${text}" is not a number`);
    }
    return n;
  };
  return {
    addr: values.addr,
    json: values.json,
    options: {
      connections: num("connections", values.connections),
      pipeline: num("pipeline", values.pipeline),
      mix: values.mix,
      duration: num("duration", values.duration),
      requests: num("requests", values.requests),
      keyspace: num("keyspace", values.keyspace),
      valueSize: num("value-size", values["value-size"]),
      timeout: num("timeout", values.timeout),
      seed: num("seed", values.seed),
    },
  };
}

if (import.meta.main) {
  const { addr, json, options } = parseCli(Deno.args);
  try {
    parseAddr(addr);
    if (typeof options.mix === "string") parseMix(options.mix);
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  let result: LoadResult;
  try {
    result = await runLoad(addr, options);
  } catch (error) {
    // A RangeError is an option out of range (`--connections 0`): a usage error, exit 2.
    if (error instanceof RangeError) usageError(error.message);
    console.error(`Load run failed: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  console.log(json ? JSON.stringify(result) : formatResult(result));
  if (result.errors > 0) Deno.exit(1);
}
