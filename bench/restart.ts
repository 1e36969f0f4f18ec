/**
 * How long a restart takes with a big snapshot: lab 4 against `redis-server`, side by side.
 *
 * For each server: start it on an empty data directory, fill it with N keys (16-byte keys, 32-byte
 * values, sent as pipelined `MSET`s), `SAVE`, stop it, then start it again on the same directory
 * and time two moments — its ready line (`listening on` / `Ready to accept connections`) and the
 * first answered `PING` — and check `DBSIZE`. An empty start is timed too, to show how much of the
 * total is the runtime starting rather than the snapshot loading.
 *
 * ```
 * deno task bench:restart              # 1,000,000 keys
 * deno task bench:restart --keys 100000
 * ```
 *
 * The design target (DESIGN.md) is a restart with 1M keys in at most 1.5 s.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError, wholeNumber } from "../shared/cli.ts";
import { freePort, hasProgram, redisServerArgs, REPO_ROOT } from "../shared/testing/processes.ts";

const USAGE = "deno task bench:restart";

const HELP = `Usage: ${USAGE} [--keys N]

Times a restart of lab 4 and of redis-server with N keys in their snapshot (default 1000000).`;

/** How to start one server on a directory, and what its ready line looks like. */
interface Contender {
  name: string;
  /** Spawns it; `port` is the port to listen on. */
  spawn(dir: string, port: number): Deno.ChildProcess;
  /** Its ready line, on stdout. */
  ready: RegExp;
  /** The line where it says how long loading took. */
  loaded: RegExp;
  /** The snapshot's file name in the directory. */
  file: string;
}

/**
 * The Deno flags `deno task lab4` runs the server with (permissions, V8 flags), read from
 * deno.json so that the benchmark measures the server as students run it.
 */
function lab4DenoFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}deno.json`));
  const words = String(config.tasks?.lab4 ?? "").split(/\s+/);
  const flags = words.slice(words.indexOf("run") + 1).filter((w) => w.startsWith("--"));
  return flags.length > 0 ? flags : ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];
}

const lab4: Contender = {
  name: "lab 4",
  spawn: (dir, port) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...lab4DenoFlags(),
        `${REPO_ROOT}labs/04-ttl-persistence/server.ts`,
        "--port",
        String(port),
        "--dir",
        dir,
        "--save",
        "",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn(),
  ready: /listening on /,
  loaded: /DB loaded from disk: .*/,
  file: "dump.rdb",
};

const redis: Contender = {
  name: "redis-server",
  spawn: (dir, port) =>
    new Deno.Command("redis-server", {
      args: [...redisServerArgs(port), "--dir", dir],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  ready: /Ready to accept connections/,
  loaded: /DB loaded from disk: .*/,
  file: "dump.rdb",
};

/** A started server: its output so far, and a way to stop it. */
interface Started {
  child: Deno.ChildProcess;
  output: { text: string };
  done: Promise<void>;
}

function start(contender: Contender, dir: string, port: number): Started {
  const child = contender.spawn(dir, port);
  const output = { text: "" };
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) output.text += text;
  };
  return {
    child,
    output,
    done: Promise.all([collect(child.stdout), collect(child.stderr)]).then(() => {}),
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function stop(server: Started): Promise<void> {
  try {
    server.child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  await server.child.status;
  await server.done;
}

/** Sends one request and reads until `expected` bytes of reply have come. */
async function roundTrip(conn: Deno.Conn, request: Uint8Array, expected: number): Promise<string> {
  for (let done = 0; done < request.length;) done += await conn.write(request.subarray(done));
  const buffer = new Uint8Array(64 * 1024);
  let reply = "";
  while (reply.length < expected) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`Connection closed after ${JSON.stringify(reply)}`);
    reply += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return reply;
}

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`;
}

/** Fills the server with `n` keys: `key:` + 12 digits (16 B), values of 32 B. */
async function fill(port: number, n: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const encoder = new TextEncoder();
  const pairsPerMset = 1000;
  const msetsPerRound = 10;
  try {
    for (let first = 0; first < n;) {
      let request = "";
      let msets = 0;
      for (; msets < msetsPerRound && first < n; msets++) {
        const args = ["MSET"];
        for (let i = first; i < Math.min(n, first + pairsPerMset); i++) {
          const digits = String(i).padStart(12, "0");
          args.push(`key:${digits}`, `value:${digits.padStart(26, "0")}`);
        }
        first += pairsPerMset;
        request += command(...args);
      }
      const reply = await roundTrip(conn, encoder.encode(request), 5 * msets);
      if (reply !== "+OK\r\n".repeat(msets)) throw new Error(`MSET failed: ${reply}`);
    }
  } finally {
    conn.close();
  }
}

async function ask(port: number, ...args: string[]): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    return await roundTrip(conn, new TextEncoder().encode(command(...args)), 3);
  } finally {
    conn.close();
  }
}

async function pingOnce(port: number): Promise<boolean> {
  try {
    return (await ask(port, "PING")).startsWith("+PONG");
  } catch {
    return false;
  }
}

/** One timed start: to the ready line and to the first PONG, in seconds. */
async function timedStart(contender: Contender, dir: string): Promise<{
  ready: number;
  ping: number;
  port: number;
  server: Started;
}> {
  const port = freePort();
  const t0 = performance.now();
  const server = start(contender, dir, port);
  await waitFor(() => contender.ready.test(server.output.text), `${contender.name}'s ready line`);
  const ready = (performance.now() - t0) / 1000;
  await waitFor(() => pingOnce(port), `${contender.name} to answer PING`);
  const ping = (performance.now() - t0) / 1000;
  return { ready, ping, port, server };
}

interface Row {
  name: string;
  emptyStart: number;
  saveSeconds: number;
  fileBytes: number;
  ready: number;
  ping: number;
  keys: string;
  loadedLine: string;
}

async function measure(contender: Contender, n: number): Promise<Row> {
  const dir = await Deno.makeTempDir({ prefix: "restart_bench_" });
  try {
    const first = await timedStart(contender, dir);
    await fill(first.port, n);
    const t0 = performance.now();
    const saved = await ask(first.port, "SAVE");
    const saveSeconds = (performance.now() - t0) / 1000;
    if (!saved.startsWith("+OK")) throw new Error(`SAVE failed: ${saved}`);
    await stop(first.server);
    const fileBytes = Deno.statSync(`${dir}/${contender.file}`).size;

    const second = await timedStart(contender, dir);
    const keys = (await ask(second.port, "DBSIZE")).trim().replace(/^:/, "");
    const loadedLine = contender.loaded.exec(second.server.output.text)?.[0] ?? "";
    await stop(second.server);
    return {
      name: contender.name,
      emptyStart: first.ping,
      saveSeconds,
      fileBytes,
      ready: second.ready,
      ping: second.ping,
      keys,
      loadedLine,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: { keys: { type: "string", default: "1000000" }, help: { type: "boolean" } },
      strict: true,
    }));
  const n = wholeNumber(values.keys, 1, Number.MAX_SAFE_INTEGER) ??
    usageError(`Invalid keys: "${values.keys}" is not a positive number`, USAGE);
  const contenders = hasProgram("redis-server") ? [lab4, redis] : [lab4];
  if (contenders.length === 1) console.log("redis-server is not installed: lab 4 only");
  console.log(`Restart with ${n} keys (16 B keys, 32 B values) in the snapshot\n`);
  const rows: Row[] = [];
  for (const contender of contenders) rows.push(await measure(contender, n));
  const pad = (s: string, w: number) => s.padEnd(w);
  console.log(
    `${pad("server", 14)}${pad("empty start", 13)}${pad("SAVE", 9)}${pad("snapshot", 12)}` +
      `${pad("ready line", 12)}${pad("first PONG", 12)}DBSIZE`,
  );
  for (const r of rows) {
    console.log(
      `${pad(r.name, 14)}${pad(`${r.emptyStart.toFixed(3)} s`, 13)}` +
        `${pad(`${r.saveSeconds.toFixed(2)} s`, 9)}${
          pad(`${(r.fileBytes / 1e6).toFixed(1)} MB`, 12)
        }` +
        `${pad(`${r.ready.toFixed(3)} s`, 12)}${pad(`${r.ping.toFixed(3)} s`, 12)}${r.keys}`,
    );
  }
  console.log("");
  for (const r of rows) console.log(`${r.name}: ${r.loadedLine}`);
}
