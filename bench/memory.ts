/**
 * How much memory a million keys cost: a lab's server next to `redis-server`.
 *
 * ```sh
 * deno task bench:memory                          # lab 4 and redis-server, 1,000,000 keys
 * deno task bench:memory --keys 200000            # fewer keys, a quicker look
 * deno task bench:memory --lab labs/02-threaded/server.ts
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
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
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
 */
export async function loadKeys(addr: string, count: number, how: LoadCommand): Promise<void> {
  const { keys, perWrite } = BATCHING[how];
  const colon = addr.lastIndexOf(":");
  const conn = await Deno.connect({
    hostname: addr.slice(0, colon),
    port: Number(addr.slice(colon + 1)),
  });
  try {
    const ok = "+OK\r\n";
    for (let from = 0; from < count;) {
      let batch = "";
      let sent = 0;
      while (sent < perWrite && from < count) {
        const to = Math.min(count, from + keys);
        batch += setCommand(how, from, to);
        sent++;
        from = to;
      }
      await conn.write(encoder.encode(batch));
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
  --keys N          how many keys (default 1000000)
  --command NAME    mset (100 keys per command) or set; both pipelined (default mset)
  --lab PATH        the lab's server (default labs/04-ttl-persistence/server.ts)
  --no-redis        measure only the lab
  --help            show this help`;

if (import.meta.main) {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        keys: { type: "string", default: "1000000" },
        command: { type: "string", default: "mset" },
        lab: { type: "string", default: "labs/04-ttl-persistence/server.ts" },
        "no-redis": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  const count = wholeNumber(values.keys, 1, Number.MAX_SAFE_INTEGER) ??
    usageError(`Invalid keys: "${values.keys}" is not a positive number`, USAGE);
  const how = values.command;
  if (how !== "mset" && how !== "set") {
    usageError(`Invalid command: "${how}" is not mset or set`, USAGE);
  }

  const results: MemoryResult[] = [];
  let failed = false;
  const measure = async (name: string, start: () => Promise<RunningServer | null>) => {
    try {
      await using server = await start();
      if (server === null) return console.error(`${name}: not installed, skipped`);
      const result = await measureServer(name, server, count, how);
      results.push(result);
      console.log(formatResult(result, count));
    } catch (error) {
      failed = true;
      console.error(`${name}: ${error instanceof Error ? error.message : error}`);
    }
  };

  console.log(
    `${count} keys of 16 bytes, values of 32 bytes, loaded with pipelined ${how.toUpperCase()}\n`,
  );
  if (!values["no-redis"]) {
    if (hasProgram("redis-server")) await measure("redis-server", () => startRedisServer());
    else console.error("redis-server: not installed, skipped");
  }
  const dataDir = await Deno.makeTempDir({ prefix: "cachelab-memory-" });
  const denoFlags = taskDenoFlags(values.lab);
  try {
    // Persistence off, as for redis-server, and in a scratch directory in case a lab writes there.
    await measure(values.lab, () =>
      startLabServer(values.lab, {
        args: values.lab.includes("04-ttl-persistence")
          ? ["--dir", dataDir, "--save", "", "--appendonly", "no"]
          : [],
        denoFlags,
      }));
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
  console.log(`\n${values.lab} ran as: deno run ${denoFlags.join(" ")} ${values.lab}`);

  const redis = results.find((r) => r.name === "redis-server");
  const lab = results.find((r) => r.name === values.lab);
  if (redis && lab) {
    const ratio = (lab.after - lab.before) / (redis.after - redis.before);
    console.log(
      `ratio ${ratio.toFixed(2)}× redis-server's growth (target ≤ ${TARGET_RATIO}×): ${
        ratio <= TARGET_RATIO ? "met" : "NOT met"
      }`,
    );
  }
  Deno.exit(failed ? 1 : 0);
}
