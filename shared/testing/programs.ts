/**
 * Running real, unmodified clients in tests: `redis-cli`, `redis-benchmark`, or any program,
 * bounded in time so a tool waiting on a silent server fails its test instead of hanging it; and
 * registering such a test twice, against a lab's server and against a real `redis-server`, so the
 * expected outputs are shown to be Redis's and not ours.
 *
 * ```ts
 * const testEachTarget = interopTargets({ name: "lab 2", start: () => startLabServer(LAB2) });
 * testEachTarget("redis-cli counts", ["redis-cli"], async (_t, server) => {
 *   assert.equal(await redisCli(server, ["INCR", "n"]), "1\n");
 * });
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { hasProgram, type RunningServer, startRedisServer } from "./processes.ts";
import { RawClient } from "./raw_client.ts";

/** How long a program may run before it is killed and its test fails. */
export const PROGRAM_TIMEOUT_MS = 20_000;

/** What a finished program left behind. */
export interface ProgramResult {
  /** Its exit code. */
  code: number;
  /** Everything it printed, as bytes (replies can be binary). */
  stdout: Uint8Array;
  /** Everything it wrote to stderr, as text. */
  stderr: string;
}

/**
 * Runs a program to completion, feeding it `stdin`. It is killed after
 * {@link PROGRAM_TIMEOUT_MS}, so a tool waiting on a server that never answers fails the test.
 *
 * @param program The program, found on the PATH.
 * @param args Its arguments.
 * @param stdin What to feed it; nothing by default.
 * @returns Exit code and output.
 */
export async function runProgram(
  program: string,
  args: string[],
  stdin: Uint8Array = new Uint8Array(0),
): Promise<ProgramResult> {
  const child = new Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // redis-cli would otherwise read ~/.redisclirc and write ~/.rediscli_history.
    env: { REDISCLI_HISTFILE: "/dev/null", REDISCLI_RCFILE: "/dev/null" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), PROGRAM_TIMEOUT_MS);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    return { code, stdout, stderr: new TextDecoder().decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One character per byte, so binary output compares exactly.
 *
 * @param bytes What a program printed.
 * @returns The bytes as a byte string.
 */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/**
 * Runs `redis-cli -h HOST -p PORT ...args`, checks that it exited cleanly with nothing on stderr,
 * and returns what it printed, one character per byte. With no command in `args`, redis-cli reads
 * commands from `stdin`, one per line.
 *
 * @param server Where the server listens.
 * @param args redis-cli's arguments after the address.
 * @param stdin Piped input, such as `"MULTI\nINCR n\nEXEC\n"` as bytes.
 * @returns The output.
 */
export async function redisCli(
  server: { host: string; port: number },
  args: string[],
  stdin?: Uint8Array,
): Promise<string> {
  const result = await runProgram(
    "redis-cli",
    ["-h", server.host, "-p", String(server.port), ...args],
    stdin,
  );
  assert.equal(result.stderr, "", `redis-cli ${args.join(" ")} wrote to stderr`);
  assert.equal(result.code, 0, `redis-cli ${args.join(" ")} exited with ${result.code}`);
  return latin1(result.stdout);
}

/**
 * Finds a Python with redis-py, the Python client (`import redis`): `python3` on the PATH, or the
 * system's `/usr/bin/python3`, where Debian's `python3-redis` package installs it, when a version
 * manager puts another Python first.
 *
 * @returns The interpreter to run, or `null` if none has redis-py.
 */
export function findRedisPy(): string | null {
  for (const python of ["python3", "/usr/bin/python3"]) {
    try {
      const { code } = new Deno.Command(python, {
        args: ["-c", "import redis"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (code === 0) return python;
    } catch {
      // Not there: try the next.
    }
  }
  return null;
}

/**
 * Runs a Python script that uses redis-py against a server: the script reads the host and port
 * from `sys.argv[1]` and `sys.argv[2]` and prints one JSON value, which is returned parsed.
 *
 * @param python The interpreter {@link findRedisPy} found.
 * @param server Where the server listens.
 * @param script The script's source.
 * @returns What it printed, parsed.
 */
export async function redisPy(
  python: string,
  server: { host: string; port: number },
  script: string,
): Promise<unknown> {
  const result = await runProgram(python, ["-c", script, server.host, String(server.port)]);
  assert.equal(result.code, 0, `the redis-py script failed:\n${result.stderr}`);
  return JSON.parse(new TextDecoder().decode(result.stdout));
}

/** One line of `redis-benchmark --csv`. */
export interface BenchmarkRow {
  /** The test's name as redis-benchmark prints it, such as `SET` or `MSET (10 keys)`. */
  test: string;
  /** Requests per second. */
  rps: number;
  /** Average latency in milliseconds. */
  avgLatencyMs: number;
}

/**
 * Parses `redis-benchmark --csv` output. Any line that is not a result (an `Error from server`,
 * a warning) fails the assertion, loudly.
 *
 * @param text Everything redis-benchmark printed.
 * @returns One row per test, in order.
 */
export function parseBenchmarkCsv(text: string): BenchmarkRow[] {
  const lines = text.trim().split("\n");
  assert.equal(
    lines[0],
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",' +
      '"p99_latency_ms","max_latency_ms"',
  );
  return lines.slice(1).map((line) => {
    const fields = line.match(/^"([A-Z_]+(?: \(\d+ keys\))?)"((?:,"\d+\.\d+"){7})$/);
    assert.ok(fields, `Not a benchmark result line: ${JSON.stringify(line)}`);
    const numbers = fields[2].slice(2, -1).split('","').map(Number);
    return { test: fields[1], rps: numbers[0], avgLatencyMs: numbers[1] };
  });
}

/** How long the closing PING of an interop test may take. */
const PING_TIMEOUT_MS = 10_000;

/** A server an interop test runs against. */
export interface InteropTarget {
  /** Its name in the test's title, such as `lab 1` or `real Redis`. */
  name: string;
  /** Why it cannot run here, or `undefined` if it can. */
  missing?: string;
  /** Starts it on a free port. */
  start(): Promise<RunningServer>;
}

/** A real `redis-server`, the target whose answers are right by definition. */
const REAL_REDIS: InteropTarget = {
  name: "real Redis",
  missing: hasProgram("redis-server") ? undefined : "redis-server is not installed",
  start: async () => {
    const redis = await startRedisServer();
    if (redis === null) throw new Error("Cannot start redis-server: it is not installed");
    return redis;
  },
};

/**
 * What an interop test needs besides the server: a program on the PATH (`"redis-cli"`), or a
 * library found some other way, with whether it is installed.
 */
export type Tool = string | { readonly name: string; readonly installed: boolean };

/** Registers one test per target; see {@link interopTargets}. */
export type TestEachTarget = (
  title: string,
  tools: readonly Tool[],
  fn: (t: Deno.TestContext, server: RunningServer) => Promise<void>,
) => void;

/**
 * Makes the function a lab's interop tests register themselves with: each test runs against the
 * lab's server and then, unchanged, against a real `redis-server`.
 *
 * A test whose tool or server is missing is still listed, with the reason in its name, and
 * ignored: a skipped interop check should be visible, never silent. Each test ends with a PING
 * from a fresh connection, so the server must still be answering: a client that did not really
 * leave would keep lab 1, which serves one client at a time, busy and that PING unanswered.
 *
 * @param lab The lab's server: its name in the titles, and how to start it.
 * @returns `testEachTarget(title, tools, fn)`: `tools` are what the test runs, such as
 *   `["redis-cli"]` (see {@link Tool}), and `fn` gets the test context and a running server.
 */
export function interopTargets(lab: InteropTarget): TestEachTarget {
  return (title, tools, fn) => {
    for (const target of [lab, REAL_REDIS]) {
      const absent = tools.find((tool) =>
        typeof tool === "string" ? !hasProgram(tool) : !tool.installed
      );
      const absentName = typeof absent === "string" ? absent : absent?.name;
      const missing = absentName ? `${absentName} is not installed` : target.missing;
      Deno.test({
        name: `${title} against ${target.name}${missing ? ` (skipped: ${missing})` : ""}`,
        ignore: missing !== undefined,
        fn: async (t) => {
          await using server = await target.start();
          await fn(t, server);
          await using raw = await RawClient.connect(server.addr);
          await raw.sendCommand("PING");
          await raw.expect("+PONG\r\n", PING_TIMEOUT_MS);
        },
      });
    }
  };
}
