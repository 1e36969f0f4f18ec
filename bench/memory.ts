/**
 * How much memory a million keys cost: a lab's server next to `redis-server`.
 *
 * ```sh
 * deno task bench:memory                          # lab 4 and redis-server, 1,000,000 keys
 * deno task bench:memory --keys 200000            # fewer keys, a quicker look
 * deno task bench:memory --lab labs/02-threaded/server.ts
 * deno task bench:memory --flood                  # RSS while --maxmemory 50mb evicts under writes
 * deno task bench:memory --connections 5000       # RSS with 5,000 clients open, and after they go
 * ```
 *
 * Each server is started on a free port (one at a time, so they never compete for the two cores),
 * its resident set size (RSS, from `ps`) is read, then it is loaded with 16-byte
 * keys and 32-byte values through pipelined `MSET`s, given a moment to settle, and its RSS read
 * again. The growth is what the keys cost, as the operating system sees it: every byte of the
 * store, its indexes, its garbage not yet collected and its allocator's slack. That is the fair
 * comparison between a C server with jemalloc and a JavaScript one with a garbage collector, and it
 * is the number the course's performance table sets a target for: at most 1.5 times Redis's.
 *
 * It prints one line per server and the ratio, and exits 1 if a server could not be measured.
 *
 * Two more questions, each its own mode, both servers again one after the other:
 *
 * - `--flood`: a cache's normal life. Both start with `--maxmemory` (50 MB by default) and
 *   `allkeys-lru`, and take far more distinct keys than fit, so most writes evict. `used_memory`
 *   stays at the bound in both; RSS is what the bound is for, and the course's target is RSS at
 *   most 1.5 × maxmemory + the empty server's RSS. RSS is sampled during the flood too: a peak that
 *   falls back afterwards still had to fit in the machine.
 * - `--connections N`: N clients connect and each sends one `PING`, then all of them leave. What
 *   the open connections cost, and what stays after they have gone, is per-client memory: buffers,
 *   decoders, the runtime's socket state.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
import { parseSize } from "../labs/02-threaded/cli.ts";
import { writeAll } from "../shared/transport.ts";
import {
  hasProgram,
  REPO_ROOT,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../shared/testing/processes.ts";

/** The target from the course's design: lab RSS growth at most this many times Redis's. */
const TARGET_RATIO = 1.5;
/** How the keys are sent: pipelined `MSET`s of 100 keys, or pipelined `SET`s. */
export type LoadCommand = "mset" | "set";
/** Keys per command, and commands written before their replies are read. */
const BATCHING: Record<LoadCommand, { keys: number; perWrite: number }> = {
  mset: { keys: 100, perWrite: 50 },
  set: { keys: 1, perWrite: 1000 },
};
/** After loading, how long the server gets to finish what it was doing (a GC, a page fault). */
const SETTLE_MS = 2_000;

/** One server's measurement. */
export interface MemoryResult {
  /** `redis-server` or the lab's entry point. */
  name: string;
  /** RSS before loading, in bytes. */
  before: number;
  /** RSS after loading and settling, in bytes. */
  after: number;
  /** Keys the server reports afterwards (`DBSIZE`), to prove the load landed. */
  keys: number;
  /**
   * What the server itself says its data takes afterwards (`INFO memory` `used_memory`): Redis's
   * allocator count, or lab 4's estimate that `--maxmemory` compares against.
   */
  usedMemory: number;
}

/**
 * The `i`-th key: exactly 16 bytes, such as `key:000000000042`.
 *
 * @param i From 0.
 * @returns The key.
 */
export function benchKey(i: number): string {
  return `key:${String(i).padStart(12, "0")}`;
}

/**
 * The `i`-th value: exactly 32 bytes, different for every key (as real values are).
 *
 * @param i From 0.
 * @returns The value.
 */
export function benchValue(i: number): string {
  return `value:${String(i).padStart(12, "0")}:${"x".repeat(13)}`;
}

const encoder = new TextEncoder();

/** `MSET` with keys `[from, to)` (or `SET` with one key) in RESP, ready to write. */
function setCommand(how: LoadCommand, from: number, to: number): string {
  let out = how === "set" ? "*3\r\n$3\r\nSET\r\n" : `*${1 + 2 * (to - from)}\r\n$4\r\nMSET\r\n`;
  for (let i = from; i < to; i++) {
    out += `$16\r\n${benchKey(i)}\r\n$32\r\n${benchValue(i)}\r\n`;
  }
  return out;
}

/** Reads exactly `n` bytes, or throws if the server closes the connection first. */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) throw new Error(`Server closed the connection after ${got} of ${n} bytes`);
    got += read;
  }
  return out;
}

/**
 * Sends one command and reads its reply, assuming it fits in one read (short replies only).
 */
async function call(conn: Deno.Conn, ...args: string[]): Promise<string> {
  await conn.write(
    encoder.encode(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`),
  );
  const buf = new Uint8Array(64 * 1024);
  const n = await conn.read(buf);
  if (n === null) throw new Error(`Server closed the connection on ${args[0]}`);
  return new TextDecoder().decode(buf.subarray(0, n));
}

/**
 * Loads `count` keys with pipelined `MSET`s or `SET`s, checking every reply is `+OK`.
 *
 * @param addr The server, `host:port`.
 * @param count How many keys.
 * @param how Which command carries them.
 * @param first The first key's number: keys `first` to `first + count - 1` are written.
 */
export async function loadKeys(
  addr: string,
  count: number,
  how: LoadCommand,
  first = 0,
): Promise<void> {
  const { keys, perWrite } = BATCHING[how];
  const colon = addr.lastIndexOf(":");
  const conn = await Deno.connect({
    hostname: addr.slice(0, colon),
    port: Number(addr.slice(colon + 1)),
  });
  try {
    const ok = "+OK\r\n";
    const end = first + count;
    for (let from = first; from < end;) {
      let batch = "";
      let sent = 0;
      while (sent < perWrite && from < end) {
        const to = Math.min(end, from + keys);
        batch += setCommand(how, from, to);
        sent++;
        from = to;
      }
      // A socket may take part of a big batch; writeAll() sends the rest.
      await writeAll(conn, encoder.encode(batch));
      const replies = new TextDecoder().decode(await readExactly(conn, ok.length * sent));
      if (replies !== ok.repeat(sent)) {
        throw new Error(`${how.toUpperCase()} failed: ${JSON.stringify(replies.slice(0, 200))}`);
      }
    }
  } finally {
    conn.close();
  }
}

/** The server's process id (`INFO server` `process_id`, which Redis and every lab report). */
async function processId(conn: Deno.Conn): Promise<number> {
  const info = await call(conn, "INFO", "server");
  const pid = Number(info.match(/\r\nprocess_id:(\d+)\r\n/)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error("INFO server has no process_id");
  return pid;
}

/**
 * A process's resident set size, as `ps` reports it (Deno guards `/proc/PID/status` behind
 * `--allow-all`, while running `ps` needs only the `--allow-run` the benchmark has anyway).
 *
 * @param pid The process.
 * @returns Bytes.
 */
export async function residentBytes(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const kb = Number(new TextDecoder().decode(stdout).trim());
  if (!Number.isInteger(kb) || kb <= 0) throw new Error(`ps reports no RSS for process ${pid}`);
  return kb * 1024;
}

/**
 * Measures one running server: RSS, load, settle, RSS.
 *
 * @param name How to show it.
 * @param server The running server.
 * @param count How many keys to load.
 * @param how Which command carries them.
 * @returns The measurement.
 */
export async function measureServer(
  name: string,
  server: RunningServer,
  count: number,
  how: LoadCommand = "mset",
): Promise<MemoryResult> {
  const conn = await Deno.connect({ hostname: server.host, port: server.port });
  try {
    const pid = await processId(conn);
    const before = await residentBytes(pid);
    await loadKeys(server.addr, count, how);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const after = await residentBytes(pid);
    const keys = Number((await call(conn, "DBSIZE")).match(/^:(\d+)/)?.[1]);
    const info = await call(conn, "INFO", "memory");
    const usedMemory = Number(info.match(/\r\nused_memory:(\d+)\r\n/)?.[1] ?? NaN);
    return { name, before, after, keys, usedMemory };
  } finally {
    conn.close();
  }
}

/** Writes in a `--flood` unless `--keys` says otherwise: several times what 50 MB holds. */
const FLOOD_KEYS = 3_000_000;
/** Connections writing at once in a flood. */
const FLOOD_CLIENTS = 4;
/** How often RSS is sampled during a flood, to catch the peak. */
const SAMPLE_MS = 250;

/** One server's measurement under an eviction flood. */
export interface FloodResult {
  /** `redis-server` or the lab's entry point. */
  name: string;
  /** RSS of the empty server, in bytes. */
  empty: number;
  /** The highest RSS sampled during the flood. */
  peak: number;
  /** RSS after the flood and a moment to settle. */
  after: number;
  /** `used_memory` afterwards: what the server compares with `maxmemory`. */
  usedMemory: number;
  /** `evicted_keys` afterwards, to prove the flood evicted. */
  evicted: number;
  /** Writes per second during the flood: what the memory settings cost in speed, if anything. */
  writesPerSecond: number;
}

/**
 * The course's bound on RSS under an eviction flood: 1.5 × maxmemory, plus what the server takes
 * with no data at all (its code, its runtime), which `maxmemory` was never meant to cover.
 *
 * @param maxmemory The `--maxmemory` in bytes.
 * @param empty The empty server's RSS in bytes.
 * @returns Bytes.
 */
export function floodBound(maxmemory: number, empty: number): number {
  return 1.5 * maxmemory + empty;
}

/** Reads one `name:number` field from an `INFO` reply; `NaN` if absent. */
function infoNumber(info: string, name: string): number {
  return Number(info.match(new RegExp(`\\r\\n${name}:(\\d+)\\r\\n`))?.[1] ?? NaN);
}

/**
 * Calls `sample` every {@link SAMPLE_MS} until `work` settles, and returns the largest value seen.
 */
async function peakDuring(work: Promise<void>, sample: () => Promise<number>): Promise<number> {
  let peak = await sample();
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  while (!done) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = new Promise((resolve) => timer = setTimeout(resolve, SAMPLE_MS));
    await Promise.race([finished, tick]);
    clearTimeout(timer);
    peak = Math.max(peak, await sample());
  }
  await finished;
  return peak;
}

/**
 * Floods a server that has a `--maxmemory` with `count` distinct keys (pipelined `SET`s, the
 * 16-byte keys and 32-byte values of {@link benchKey} and {@link benchValue}), sampling its RSS.
 *
 * @param name How to show it.
 * @param server The running server, started with `--maxmemory` and an eviction policy.
 * @param count How many keys to write.
 * @returns The measurement.
 */
export async function measureFlood(
  name: string,
  server: RunningServer,
  count: number,
): Promise<FloodResult> {
  const conn = await Deno.connect({ hostname: server.host, port: server.port });
  try {
    const pid = await processId(conn);
    const rss = () => residentBytes(pid);
    const empty = await rss();
    const started = performance.now();
    // A few clients at once, each with its own keys, as a busy cache sees them.
    const share = Math.ceil(count / FLOOD_CLIENTS);
    const writers = Array.from(
      { length: FLOOD_CLIENTS },
      (_, i) => loadKeys(server.addr, Math.min(share, count - i * share), "set", i * share),
    );
    const peak = await peakDuring(Promise.all(writers).then(() => {}), rss);
    const writesPerSecond = count / ((performance.now() - started) / 1000);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const after = await rss();
    const usedMemory = infoNumber(await call(conn, "INFO", "memory"), "used_memory");
    const evicted = infoNumber(await call(conn, "INFO", "stats"), "evicted_keys");
    return {
      name,
      empty,
      peak: Math.max(peak, after),
      after,
      usedMemory,
      evicted,
      writesPerSecond,
    };
  } finally {
    conn.close();
  }
}

/**
 * One line of the flood report.
 *
 * @param r A measurement.
 * @param maxmemory The bound both servers ran with.
 * @returns Such as `redis-server  empty 7.9 MB  peak 64.0 MB  after 63.2 MB  …  0.62× the bound`.
 */
export function formatFlood(r: FloodResult, maxmemory: number): string {
  const bound = floodBound(maxmemory, r.empty);
  return `${r.name.padEnd(36)} empty ${mb(r.empty).padStart(9)}  peak ${mb(r.peak).padStart(9)}` +
    `  after ${mb(r.after).padStart(9)}  used_memory ${mb(r.usedMemory)}  evicted ${r.evicted}` +
    `  ${Math.round(r.writesPerSecond / 1000)}k SET/s  peak ${
      (r.peak / bound).toFixed(2)
    }× the bound (${mb(bound)})`;
}

/** Connections opened at once while a `--connections` run builds up its clients. */
const CONNECT_BATCH = 100;

/** One server's measurement with many clients. */
export interface ConnectionsResult {
  /** `redis-server` or the lab's entry point. */
  name: string;
  /** RSS before any client connected. */
  before: number;
  /** RSS with every client connected, each having sent one command. */
  open: number;
  /** RSS once every client has closed and the server has had a moment to settle. */
  closed: number;
}

/**
 * Connects `count` clients to a server, has each send `PING` and read `+PONG` (so the server has
 * set up everything a client costs it), reads RSS, closes them all, waits, and reads RSS again.
 *
 * @param name How to show it.
 * @param server The running server.
 * @param count How many clients; the server's `maxclients` and both processes' file limits must
 *   allow them.
 * @returns The measurement.
 */
export async function measureConnections(
  name: string,
  server: RunningServer,
  count: number,
): Promise<ConnectionsResult> {
  const conn = await Deno.connect({ hostname: server.host, port: server.port });
  const clients: Deno.Conn[] = [];
  try {
    const pid = await processId(conn);
    const before = await residentBytes(pid);
    const ping = encoder.encode("*1\r\n$4\r\nPING\r\n");
    const pong = "+PONG\r\n";
    while (clients.length < count) {
      const batch = Math.min(CONNECT_BATCH, count - clients.length);
      const opened = await Promise.all(
        Array.from({ length: batch }, async () => {
          const c = await Deno.connect({ hostname: server.host, port: server.port });
          clients.push(c);
          await c.write(ping);
          const reply = new TextDecoder().decode(await readExactly(c, pong.length));
          if (reply !== pong) throw new Error(`PING got ${JSON.stringify(reply)}`);
          return c;
        }),
      );
      if (opened.length !== batch) throw new Error("A client failed to connect");
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const open = await residentBytes(pid);
    for (const c of clients.splice(0)) c.close();
    // The server notices each close on its next read; a PING on the first connection answers
    // only after it has had the chance to run, then the usual moment to settle.
    await call(conn, "PING");
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const closed = await residentBytes(pid);
    return { name, before, open, closed };
  } finally {
    for (const c of clients) c.close();
    conn.close();
  }
}

/**
 * One line of the connections report.
 *
 * @param r A measurement.
 * @param count How many clients were open.
 * @returns Such as `redis-server  before 7.9 MB  open 50.1 MB (+8.6 KB a client)  closed …`.
 */
export function formatConnections(r: ConnectionsResult, count: number): string {
  const perClient = (r.open - r.before) / count / 1024;
  return `${r.name.padEnd(36)} before ${mb(r.before).padStart(9)}  open ${
    mb(r.open).padStart(9)
  } (+${perClient.toFixed(1)} KB a client)  closed ${mb(r.closed).padStart(9)} (+${
    mb(r.closed - r.before)
  } kept)`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * One line of the report.
 *
 * @param r A measurement.
 * @param count The keys loaded.
 * @returns Such as `redis-server  before 7.9 MB  after 131.2 MB  growth +123.3 MB  (129 B/key)`.
 */
export function formatResult(r: MemoryResult, count: number): string {
  const growth = r.after - r.before;
  return `${r.name.padEnd(36)} before ${mb(r.before).padStart(9)}  after ${
    mb(r.after).padStart(9)
  }  growth +${mb(growth).padStart(9)}  (${Math.round(growth / count)} B/key, ${r.keys} keys)` +
    `  used_memory ${mb(r.usedMemory)}`;
}

/**
 * The Deno flags a server's `deno task` runs it with, read from `deno.json`: the benchmark starts
 * the server exactly as a student does (permissions, and any V8 tuning on that line).
 *
 * @param entry The server, such as `labs/04-ttl-persistence/server.ts`.
 * @returns The words between `deno run` and the entry, or `--allow-net` if no task runs it.
 */
export function taskDenoFlags(entry: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}deno.json`));
  for (const line of Object.values(config.tasks ?? {})) {
    const words = String(line).split(/\s+/);
    if (words[0] === "deno" && words[1] === "run" && words.at(-1) === entry) {
      return words.slice(2, -1);
    }
  }
  return ["--allow-net"];
}

const USAGE = "deno task bench:memory";

const HELP = `Usage: ${USAGE} [options]

Loads 16-byte keys with 32-byte values into a lab's server and into redis-server, one after the
other, and prints how much each one's resident memory (RSS) grew, and the ratio. The lab runs
with the Deno flags of its deno task (see deno.json).

Options:
  --keys N          how many keys (default 1000000; with --flood, 3000000)
  --command NAME    mset (100 keys per command) or set; both pipelined (default mset)
  --flood           instead: start both with --maxmemory and allkeys-lru, write --keys distinct
                    keys with SET, and print RSS against 1.5 × maxmemory + the empty server's RSS
  --maxmemory SIZE  the bound for --flood, such as 50mb or 200mb (default 50mb)
  --connections N   instead: open N clients, PING on each, close them all; print RSS before,
                    with them open, and after they have gone
  --v8-flags LIST   run the lab with these V8 flags instead of its task's (to compare settings)
  --lab PATH        the lab's server (default labs/04-ttl-persistence/server.ts)
  --no-redis        measure only the lab
  --help            show this help`;

/** Which question a run answers. */
type Mode =
  | { kind: "keys"; count: number; how: LoadCommand }
  | { kind: "flood"; count: number; maxmemory: number }
  | { kind: "connections"; count: number };

/** The servers' extra arguments for a mode: the bound and the policy for a flood. */
function modeArgs(mode: Mode): string[] {
  return mode.kind === "flood"
    ? ["--maxmemory", String(mode.maxmemory), "--maxmemory-policy", "allkeys-lru"]
    : [];
}

/**
 * A task's Deno flags with its `--v8-flags=` replaced, to measure other V8 settings.
 *
 * @param flags The flags, such as {@link taskDenoFlags} returns.
 * @param v8Flags The V8 flags to run with instead; `""` for none, `undefined` to keep the task's.
 * @returns The flags.
 */
export function withV8Flags(flags: string[], v8Flags: string | undefined): string[] {
  if (v8Flags === undefined) return flags;
  const rest = flags.filter((f) => !f.startsWith("--v8-flags="));
  return v8Flags === "" ? rest : [...rest, `--v8-flags=${v8Flags}`];
}

if (import.meta.main) {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        keys: { type: "string" },
        command: { type: "string", default: "mset" },
        flood: { type: "boolean", default: false },
        maxmemory: { type: "string", default: "50mb" },
        connections: { type: "string" },
        "v8-flags": { type: "string" },
        lab: { type: "string", default: "labs/04-ttl-persistence/server.ts" },
        "no-redis": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  const keysText = values.keys ?? String(values.flood ? FLOOD_KEYS : 1_000_000);
  const count = wholeNumber(keysText, 1, Number.MAX_SAFE_INTEGER) ??
    usageError(`Invalid keys: "${keysText}" is not a positive number`, USAGE);
  const how = values.command;
  if (how !== "mset" && how !== "set") {
    usageError(`Invalid command: "${how}" is not mset or set`, USAGE);
  }
  let mode: Mode = { kind: "keys", count, how };
  if (values.flood) {
    const maxmemory = parseSize(values.maxmemory) ??
      usageError(`Invalid maxmemory: "${values.maxmemory}" is not a size`, USAGE);
    if (maxmemory === 0) usageError("Invalid maxmemory: a flood needs a bound above 0", USAGE);
    mode = { kind: "flood", count, maxmemory };
  }
  if (values.connections !== undefined) {
    if (values.flood) usageError("--flood and --connections are separate runs", USAGE);
    const clients = wholeNumber(values.connections, 1, 100_000) ??
      usageError(`Invalid connections: "${values.connections}" is not a positive number`, USAGE);
    mode = { kind: "connections", count: clients };
  }

  const ratios = new Map<string, number>();
  let failed = false;
  const measure = async (name: string, start: () => Promise<RunningServer | null>) => {
    try {
      await using server = await start();
      if (server === null) return console.error(`${name}: not installed, skipped`);
      let line: string;
      if (mode.kind === "flood") {
        const result = await measureFlood(name, server, mode.count);
        ratios.set(name, result.peak / floodBound(mode.maxmemory, result.empty));
        line = formatFlood(result, mode.maxmemory);
      } else if (mode.kind === "connections") {
        const result = await measureConnections(name, server, mode.count);
        ratios.set(name, result.open - result.before);
        line = formatConnections(result, mode.count);
      } else {
        const result = await measureServer(name, server, mode.count, mode.how);
        ratios.set(name, result.after - result.before);
        line = formatResult(result, mode.count);
      }
      console.log(line);
    } catch (error) {
      failed = true;
      console.error(`${name}: ${error instanceof Error ? error.message : error}`);
    }
  };

  console.log(
    mode.kind === "flood"
      ? `${mode.count} distinct keys of 16 bytes, values of 32 bytes, pipelined SET, into ` +
        `--maxmemory ${mb(mode.maxmemory)} --maxmemory-policy allkeys-lru\n`
      : mode.kind === "connections"
      ? `${mode.count} clients, one PING each, then all closed\n`
      : `${count} keys of 16 bytes, values of 32 bytes, loaded with pipelined ${how.toUpperCase()}\n`,
  );
  if (!values["no-redis"]) {
    if (hasProgram("redis-server")) {
      await measure("redis-server", () => startRedisServer(modeArgs(mode)));
    } else console.error("redis-server: not installed, skipped");
  }
  const dataDir = await Deno.makeTempDir({ prefix: "cachelab-memory-" });
  const denoFlags = withV8Flags(taskDenoFlags(values.lab), values["v8-flags"]);
  try {
    // Persistence off, as for redis-server, and in a scratch directory in case a lab writes there.
    await measure(values.lab, () =>
      startLabServer(values.lab, {
        args: values.lab.includes("04-ttl-persistence")
          ? ["--dir", dataDir, "--save", "", "--appendonly", "no", ...modeArgs(mode)]
          : modeArgs(mode),
        denoFlags,
      }));
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
  console.log(`\n${values.lab} ran as: deno run ${denoFlags.join(" ")} ${values.lab}`);

  const redis = ratios.get("redis-server");
  const lab = ratios.get(values.lab);
  if (mode.kind === "flood" && lab !== undefined) {
    console.log(
      `peak RSS ${lab.toFixed(2)}× the bound 1.5 × maxmemory + empty RSS (target ≤ 1): ${
        lab <= 1 ? "met" : "NOT met"
      }${redis === undefined ? "" : `; redis-server ${redis.toFixed(2)}×`}`,
    );
  } else if (redis !== undefined && lab !== undefined) {
    const ratio = lab / redis;
    const what = mode.kind === "connections" ? "growth with clients open" : "growth";
    console.log(
      `ratio ${ratio.toFixed(2)}× redis-server's ${what}` +
        (mode.kind === "keys"
          ? ` (target ≤ ${TARGET_RATIO}×): ${ratio <= TARGET_RATIO ? "met" : "NOT met"}`
          : ""),
    );
  }
  Deno.exit(failed ? 1 : 0);
}
