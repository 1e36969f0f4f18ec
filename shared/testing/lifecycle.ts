/**
 * A lab's entry point run the way a user runs it from a shell, for the tests of its command line
 * and of its shutdown: `--help` and a bad flag run to the end, and a server is stopped by a signal.
 *
 * Every entry point of the course promises the same things (see `shared/server/cli.ts`): `--help`
 * exits 0, a bad flag prints the problem and exits 2, the server prints `listening on HOST:PORT`
 * when ready, and SIGTERM or Ctrl-C (SIGINT) closes every client and exits 0. These helpers start
 * the process; each lab's `lifecycle_test.ts` says what its own flags and clients must show.
 *
 * ```ts
 * await using server = await spawnEntry("labs/01-single-client/server.ts", ["--port", "0"]);
 * await using client = await RawClient.connect(server.addr);
 * await expectCleanShutdown(server, "SIGTERM", [client]);
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "./processes.ts";
import type { RawClient } from "./raw_client.ts";

/** How long an entry point may take to finish, or to print its ready line, before it is killed. */
const ENTRY_TIMEOUT_MS = 20_000;

/** The permissions most entry points need; a lab that reads or writes files passes its own. */
const DEFAULT_DENO_FLAGS: readonly string[] = ["--allow-net"];

/** What an entry point printed, and how it ended. */
export interface EntryOutput {
  /** Its exit code: 0 for `--help`, 2 for a command line that does not parse. */
  code: number;
  /** What it printed on stdout. */
  stdout: string;
  /** What it printed on stderr: the problem with a bad flag, or the log. */
  stderr: string;
}

/** How to run an entry point. */
export interface EntryOptions {
  /** Deno permission flags, as its `deno task` line grants them (default: `--allow-net`). */
  denoFlags?: readonly string[];
}

/** `deno run FLAGS ENTRY ARGS`: the command a `deno task` line runs. */
function entryCommand(
  entry: string,
  args: readonly string[],
  options: EntryOptions,
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.denoFlags ?? DEFAULT_DENO_FLAGS), `${REPO_ROOT}${entry}`, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

/** Sends `signal` to `child`, unless it has exited already (its status then says how). */
function signalIfRunning(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // exited in the meantime
  }
}

/** Kills `child` if it is still running after {@link ENTRY_TIMEOUT_MS}; call the result to cancel. */
function killIfStuck(child: Deno.ChildProcess): () => void {
  const timer = setTimeout(() => signalIfRunning(child, "SIGKILL"), ENTRY_TIMEOUT_MS);
  return () => clearTimeout(timer);
}

/**
 * Runs an entry point to the end, such as `server.ts --help` or `server.ts --bogus`. It is killed
 * if it has not finished in time, so a server that starts instead of refusing a flag fails its
 * test rather than hanging it.
 *
 * @param entry Its path from the repository root, such as `labs/01-single-client/server.ts`.
 * @param args Its arguments.
 * @param options Its Deno permissions.
 * @returns Its exit code and output, as text.
 */
export async function runEntry(
  entry: string,
  args: readonly string[],
  options: EntryOptions = {},
): Promise<EntryOutput> {
  const child = entryCommand(entry, args, options).spawn();
  const cancel = killIfStuck(child);
  try {
    const { code, stdout, stderr } = await child.output();
    const text = new TextDecoder();
    return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
  } finally {
    cancel();
  }
}

/** A server started by {@link spawnEntry}: ready, and waiting for the signal that stops it. */
export interface SpawnedEntry extends AsyncDisposable {
  /** `host:port`, from its ready line. */
  readonly addr: string;
  /** Everything it printed on stdout up to and including the ready line. */
  readonly output: string;
  /**
   * Sends `signal` now, and resolves once the process has exited.
   *
   * @param signal Such as `SIGTERM`, or `SIGINT` for Ctrl-C.
   * @returns Its exit code, and everything it wrote to stderr (its log).
   */
  stop(signal: Deno.Signal): Promise<{ code: number; log: string }>;
}

/**
 * Starts an entry point and waits for its `listening on HOST:PORT` line. Unlike `startLabServer`,
 * it sends no signal of its own: the test chooses which, and checks how the process ends.
 *
 * @param entry Its path from the repository root, such as `labs/02-threaded/server.ts`.
 * @param args Its arguments, which should include `--port 0`.
 * @param options Its Deno permissions.
 * @returns The running process; use it with `await using`, so a failing test still ends it.
 */
export async function spawnEntry(
  entry: string,
  args: readonly string[],
  options: EntryOptions = {},
): Promise<SpawnedEntry> {
  const child = entryCommand(entry, args, options).spawn();
  // The log is read from the start, so a chatty server never blocks on a full pipe.
  const log = new Response(child.stderr).text();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = killIfStuck(child);
  let output = "";
  let ready: RegExpMatchArray | null = null;
  while (ready === null) {
    const { value, done } = await stdout.read();
    if (done) break;
    output += value;
    ready = output.match(/listening on (\S+:\d+)\n/);
  }
  cancel();

  // The exit is awaited once, however often it is asked for: by stop(), then by the disposal.
  let exit: Promise<{ code: number; log: string }> | undefined;
  const exited = () =>
    exit ??= Promise.all([child.status, log, stdout.cancel()])
      .then(([status, text]) => ({ code: status.code, log: text }));
  if (ready === null) {
    signalIfRunning(child, "SIGKILL");
    throw new Error(
      `Cannot start ${entry}: no "listening on" line.\n${output}${(await exited()).log}`,
    );
  }
  return {
    addr: ready[1],
    output,
    stop: (signal) => {
      signalIfRunning(child, signal);
      return exited();
    },
    // Ends a process a failing test left running; after a stop, it only waits for the exit.
    [Symbol.asyncDispose]: async () => {
      signalIfRunning(child, "SIGKILL");
      await exited();
    },
  };
}

/**
 * Sends `signal` and checks a clean shutdown: every client sees its connection closed (the server
 * does not wait for them to finish), the process exits 0, and its log says
 * `Received SIGNAL, shutting down`.
 *
 * @param server The running server.
 * @param signal `SIGTERM`, or `SIGINT` as Ctrl-C sends.
 * @param clients Connections that must be closed by the shutdown.
 */
export async function expectCleanShutdown(
  server: SpawnedEntry,
  signal: Deno.Signal,
  clients: readonly RawClient[],
): Promise<void> {
  const exited = server.stop(signal);
  for (const client of clients) await client.expectClosed();
  const { code, log } = await exited;
  assert.equal(code, 0, log);
  assert.match(log, new RegExp(`Received ${signal}, shutting down`));
}
