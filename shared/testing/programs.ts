/**
 * Running real command-line clients in tests: `redis-cli`, `redis-benchmark`, or any program,
 * bounded in time so a tool waiting on a silent server fails its test instead of hanging it.
 *
 * ```ts
 * await using server = await startLabServer("labs/02-threaded/server.ts");
 * assert.equal(await redisCli(server, ["INCR", "n"]), "1\n");
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";

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

/** One character per byte, so binary output compares exactly. */
function latin1(bytes: Uint8Array): string {
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
