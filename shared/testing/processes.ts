/**
 * Starting servers as child processes for tests and benchmarks: a lab's server, or a real
 * `redis-server` to check the suites against.
 *
 * Every server is started on a free port and is ready when its function returns. Each returns a
 * {@link RunningServer} that stops the process and releases its pipes; use it with `await using`
 * so that a failing test still cleans up:
 *
 * ```ts
 * await using server = await startLabServer("labs/01-single-client/server.ts");
 * const client = await RawClient.connect(server.addr);
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** A server process started for a test or a benchmark. */
export interface RunningServer extends AsyncDisposable {
  /** `host:port`. */
  readonly addr: string;
  /** The interface it listens on. */
  readonly host: string;
  /** The port it listens on. */
  readonly port: number;
  /** Everything the server has written to stderr (its log) so far. */
  log(): string;
  /** Everything the server has written to stdout so far (`listening on …` and the like). */
  output(): string;
  /**
   * Waits until the log matches `pattern`, such as a line the server writes when something it
   * was asked to do has happened.
   *
   * @returns The match, or `null` if the process ended or `timeoutMs` passed first.
   */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray | null>;
  /** Stops the server (SIGTERM, then SIGKILL if it lingers) and waits for it to exit. */
  stop(): Promise<void>;
  /** Sends a signal, such as `SIGKILL` for a crash test, and waits for the process to exit. */
  kill(signal: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process exits by itself (or by {@link stop} or {@link kill}). */
  readonly exited: Promise<Deno.CommandStatus>;
}

/** The repository root, for paths such as `labs/01-single-client/server.ts`. */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Tells whether a program is on the PATH, so a test can say "redis-server is not installed" and be
 * skipped instead of failing for a reason that is not the code's.
 *
 * @param name The program, such as `redis-server`.
 * @returns `true` if it can be run.
 */
export function hasProgram(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Finds a port nothing listens on right now. Another process could take it before we use it;
 * callers that start third-party servers retry for that reason.
 *
 * @returns A free TCP port on 127.0.0.1.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Collects a child's output into a string while it runs, so its pipe never fills and blocks it. */
class OutputCollector {
  text = "";
  done: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
        for (const wake of this.#waiters.splice(0)) wake();
      }
      for (const wake of this.#waiters.splice(0)) wake();
    })();
  }

  /** Resolves with the first match of `pattern`, or `null` if the stream ends first or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray | null> {
    const deadline = Date.now() + timeoutMs;
    let ended = false;
    this.done.then(() => ended = true);
    for (;;) {
      const found = this.text.match(pattern);
      if (found) return found;
      if (ended || Date.now() >= deadline) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, Math.min(100, deadline - Date.now()));
      });
      clearTimeout(timer);
    }
  }
}

function wrap(
  child: Deno.ChildProcess,
  host: string,
  port: number,
  stdout: OutputCollector,
  stderr: OutputCollector,
): RunningServer {
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited in the meantime
        }
      }, STOP_TIMEOUT_MS);
      await child.status;
      clearTimeout(timer);
      await Promise.all([stdout.done, stderr.done]);
    })();
    return stopping;
  };
  const exited = (async () => {
    const status = await child.status;
    await Promise.all([stdout.done, stderr.done]);
    return status;
  })();
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // already exited
    }
    return exited;
  };
  return {
    addr: `${host}:${port}`,
    host,
    port,
    log: () => stderr.text,
    output: () => stdout.text,
    waitForLog: (pattern, timeoutMs = READY_TIMEOUT_MS) => stderr.waitFor(pattern, timeoutMs),
    stop,
    kill,
    exited,
    [Symbol.asyncDispose]: stop,
  };
}

/** How to start a lab's server. */
export interface LabServerOptions {
  /** Extra server arguments. */
  args?: string[];
  /** Deno's permission flags; `--allow-net` by default. */
  denoFlags?: string[];
  /** More environment variables. */
  env?: Record<string, string>;
  /** Another checkout of the repository to run the server from (a benchmark's baseline). */
  root?: string;
  /**
   * A program to run the server under, given the server's command line after its own (such as
   * `strace` and its options); it must leave the server its own process, as `strace -D` does.
   */
  wrap?: readonly string[];
}

function spawnLab(
  entry: string,
  port: number,
  options: LabServerOptions,
): { child: Deno.ChildProcess; stdout: OutputCollector; stderr: OutputCollector } {
  const [program, ...args] = [
    ...(options.wrap ?? []),
    Deno.execPath(),
    "run",
    ...(options.denoFlags ?? ["--allow-net"]),
    join(options.root ?? REPO_ROOT, entry),
    "--port",
    String(port),
    ...(options.args ?? []),
  ];
  const child = new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  return {
    child,
    stdout: new OutputCollector(child.stdout),
    stderr: new OutputCollector(child.stderr),
  };
}

/**
 * Starts a lab's server on a port of the caller's choosing and returns at once, without waiting
 * for its `listening on` line: for a test that talks to it while it loads its data. Its `output`
 * shows whether that line has come.
 *
 * @param entry The server's path from the repository root.
 * @param port The port, such as one from {@link freePort}.
 * @param options As for {@link startLabServer}.
 * @returns The server, perhaps not listening yet.
 */
export function spawnLabServer(
  entry: string,
  port: number,
  options: LabServerOptions = {},
): RunningServer {
  const { child, stdout, stderr } = spawnLab(entry, port, options);
  return wrap(child, "127.0.0.1", port, stdout, stderr);
}

/**
 * Starts a lab's server with `--port 0` and waits for its `listening on HOST:PORT` line.
 *
 * @param entry The server's path from the repository root, such as `labs/01-single-client/server.ts`.
 * @param options Extra server arguments, Deno permission flags (default: `--allow-net`), and
 *   `root`, another checkout of the repository to run the server from (a benchmark's baseline).
 * @returns The running server.
 */
export async function startLabServer(
  entry: string,
  options: LabServerOptions = {},
): Promise<RunningServer> {
  const { child, stdout, stderr } = spawnLab(entry, 0, options);
  const ready = await stdout.waitFor(/listening on (\S+):(\d+)/, READY_TIMEOUT_MS);
  const server = wrap(child, ready?.[1] ?? "", Number(ready?.[2] ?? 0), stdout, stderr);
  if (!ready) {
    await server.stop();
    throw new Error(`Cannot start ${entry}: no "listening on" line.\n${stdout.text}${stderr.text}`);
  }
  return server;
}

/**
 * The arguments that start `redis-server` for tests and benchmarks: loopback only, in the
 * foreground, persistence off (so no disk I/O skews a result or litters the working directory).
 *
 * @param port The port to listen on.
 * @returns The command-line arguments.
 */
export function redisServerArgs(port: number): string[] {
  return [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--daemonize",
    "no",
  ];
}

/**
 * Starts a real `redis-server` on a free port with persistence off, or returns `null` if it is not
 * installed.
 *
 * @param extraArgs More `redis-server` options.
 * @returns The running server, or `null`.
 */
export async function startRedisServer(extraArgs: string[] = []): Promise<RunningServer | null> {
  if (!hasProgram("redis-server")) return null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const child = new Deno.Command("redis-server", {
      args: [...redisServerArgs(port), ...extraArgs],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new OutputCollector(child.stdout);
    const stderr = new OutputCollector(child.stderr);
    const ready = await stdout.waitFor(/Ready to accept connections/, READY_TIMEOUT_MS);
    const server = wrap(child, "127.0.0.1", port, stdout, stderr);
    if (ready) return server;
    await server.stop(); // most likely the port was taken in the meantime: try another
  }
  throw new Error("Cannot start redis-server: it never became ready");
}
