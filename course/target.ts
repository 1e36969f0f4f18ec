/**
 * The server a check runs against: one already running somewhere, a command the grader starts,
 * or a lab's server in this repository.
 *
 * A command is a student's program in any language, so the grader assumes nothing about it. It
 * may be a wrapper script that starts the server as its child instead of `exec`ing it; it may
 * `cd` first; it may listen on `::1` only, print a traceback and die halfway, or never listen at
 * all. {@link commandServer} survives each: the command runs through `sh -c` as given, in a
 * process group of its own, and stopping it kills that whole group, so no grandchild can outlive
 * the grader holding its pipes open (which once made the grader hang after printing its result).
 *
 * @module
 */

import { freePort, startLabServer } from "../shared/testing/processes.ts";
import type { RestartHow } from "../shared/testing/suite.ts";
import { straceCommand } from "../shared/testing/syscalls.ts";

/** A server under test, and how to let it go. */
export interface Target extends AsyncDisposable {
  /** `host:port`, or `[::1]:port` for a server that listens on IPv6 only. */
  addr: string;
  /** What the server printed, for the report when it misbehaves (empty if we did not start it). */
  log(): string;
  /**
   * How the server ended, if it has: `exited with status 1`, `was killed by SIGSEGV`. `undefined`
   * while it runs, and always for a server we did not start (we cannot know).
   */
  ended(): string | undefined;
  /**
   * Stops the server and starts it again the same way (same command, same `{dir}`): how the
   * grader checks that data survives a restart. Absent for a server we did not start. The
   * address may change (a repository server gets a new free port); read {@link addr} again.
   *
   * @param flags Options to start it with this time, such as `["--maxclients", "2"]` (only if
   *   {@link takesFlags}); none by default.
   * @param how `kill: true` stops it with SIGKILL, as a crash would, instead of SIGTERM.
   */
  restart?(flags?: readonly string[], how?: RestartOptions): Promise<void>;
  /**
   * Whether {@link restart} can pass options: a repository server always, a command only if it
   * has a `{flags}` placeholder. The checks of a limit (`--maxclients`) need it.
   */
  takesFlags?: boolean;
}

/** How a {@link Target} is restarted: as a crash (`kill`), under strace (`syscalls`). */
export type RestartOptions = RestartHow;

/** How long a started server has to accept connections. */
const START_TIMEOUT_MS = 30_000;
/** How long a stopped server has between SIGTERM and SIGKILL. */
const STOP_GRACE_MS = 3_000;
/**
 * How long we keep reading a stopped command's output. A process that left our group (`setsid`,
 * a daemon) can hold the pipes forever; past this we stop listening rather than wait for it.
 */
const DRAIN_MS = 1_000;

/**
 * A server somebody else runs.
 *
 * @param addr `host:port`.
 * @returns A target that does nothing when disposed.
 */
export function external(addr: string): Target {
  return {
    addr,
    log: () => "",
    ended: () => undefined,
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

/**
 * Starts a TypeScript server from this repository (a reference lab or a student's workspace)
 * with `--port 0`, waiting for its `listening on` line.
 *
 * @param entry The server's path from the repository root.
 * @param options Its arguments (beyond `--port 0`) and Deno permission flags.
 * @returns The running server.
 */
export async function repoServer(
  entry: string,
  options: { args: string[]; denoFlags: string[] },
): Promise<Target> {
  let server = await startLabServer(entry, options);
  let ended: string | undefined;
  let earlierLogs = "";
  const watch = (running: typeof server) =>
    running.exited.then((status) => {
      if (running === server) ended = describeStatus(status);
    });
  watch(server);
  const target: Target = {
    addr: server.addr,
    log: () => earlierLogs + server.log(),
    ended: () => ended,
    takesFlags: true,
    restart: async (flags = [], how = {}) => {
      const old = server;
      if (how.kill) await old.kill("SIGKILL");
      await old.stop();
      earlierLogs += old.log();
      server = await startLabServer(entry, {
        ...options,
        args: [...options.args, ...flags],
        wrap: how.syscalls === undefined ? undefined : straceCommand(how.syscalls),
      });
      ended = undefined;
      watch(server);
      target.addr = server.addr;
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  return target;
}

/** Raised when a command never becomes a server: the grader could not run the submission. */
export class StartError extends Error {
  /** The error's name, as stack traces and logs print it. */
  override name = "StartError";
}

/** What the placeholders of a command stand for in one run. */
export interface Placeholders {
  /** `{port}`: the port the server must listen on. */
  port: number;
  /** `{port2}`: a second free port, such as lab 4's memcached port. */
  port2: number;
  /** `{dir}`: a fresh empty directory for the server's files, removed after the run. */
  dir: string;
  /**
   * `{flags}`: options a check needs the server started with (`--maxclients 2`), each quoted for
   * the shell; empty for every other check.
   */
  flags: readonly string[];
  /** `{upstream}`: the server a proxy forwards to, `host:port`; empty for a lab without one. */
  upstream: string;
}

/**
 * Fills a command's `{port}`, `{port2}`, `{dir}`, `{flags}` and `{upstream}`. The directory and
 * the flags are quoted for the shell, so a path with a space stays one argument.
 *
 * @param command Such as `python3 server.py --port {port} --dir {dir}`.
 * @param values What each placeholder stands for.
 * @returns The command to give `sh -c`.
 */
export function fillPlaceholders(command: string, values: Placeholders): string {
  return command
    .replaceAll("{port2}", String(values.port2))
    .replaceAll("{port}", String(values.port))
    .replaceAll("{upstream}", values.upstream)
    .replaceAll("{dir}", shellQuote(values.dir))
    .replaceAll("{flags}", values.flags.map(shellQuote).join(" "));
}

/** Quotes one word for `sh`: inside single quotes nothing is special but the quote itself. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Options for {@link commandServer}. */
export interface CommandOptions {
  /** Where the command runs (default: this process's working directory). */
  cwd?: string;
  /** Under which directory `{dir}` is made (it must be writable). */
  scratchParent: string;
  /**
   * Which placeholder's port the checks talk to. `port2` for lab 4's memcached checks, when the
   * command has a `{port2}`; otherwise `{port}`.
   */
  checkPort?: "port" | "port2";
  /** How long the server has to listen. Default 30 s. */
  startTimeoutMs?: number;
  /** `{upstream}`: the server a proxy forwards to, `host:port` (lab 2's caching proxy). */
  upstream?: string;
}

/**
 * Starts a student's server in any language from a shell command, in a process group of its own.
 * It is ready when the port the checks use accepts a connection on 127.0.0.1 or on ::1 and no
 * longer answers `-LOADING`.
 *
 * @param command Such as `python3 server.py --port {port}`; `{port}`, `{port2}` and `{dir}` are
 *   filled in (see {@link fillPlaceholders}).
 * @param options Where it runs, where `{dir}` goes, which port to wait for.
 * @returns The running server; disposing it kills its process group and removes `{dir}`.
 * @throws {StartError} If it exits or does not listen in time, with its exit status and output.
 */
export async function commandServer(command: string, options: CommandOptions): Promise<Target> {
  await Deno.mkdir(options.scratchParent, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: options.scratchParent, prefix: "cachelab-cmd-" });
  let values: Placeholders = {
    port: freePort(),
    port2: freePort(),
    dir,
    flags: [],
    upstream: options.upstream ?? "",
  };
  const port = options.checkPort === "port2" && command.includes("{port2}")
    ? values.port2
    : values.port;
  let text = ""; // everything every start of it printed
  let started = launch(command, values, options.cwd, (chunk) => text += chunk);
  let removed: Promise<void> | undefined;
  const stop = () =>
    removed ??= (async () => {
      await started.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  const target: Target = {
    addr: "",
    log: () => text,
    ended: () => started.ended(),
    takesFlags: command.includes("{flags}"),
    restart: async (flags = [], how = {}) => {
      await started.stop(how.kill ? "SIGKILL" : "SIGTERM");
      values = { ...values, flags };
      started = launch(command, values, options.cwd, (chunk) => text += chunk, how.syscalls);
      const why = await waitUntilListening(port, started, timeoutMs);
      if (why !== undefined) {
        const how = flags.length > 0 ? ` with ${flags.join(" ")}` : "";
        throw new StartError(`After a restart${how}, the server ${why}${tail(text, "\n", 5)}`);
      }
    },
    [Symbol.asyncDispose]: stop,
  };
  const why = await waitUntilListening(port, started, timeoutMs, (addr) => target.addr = addr);
  if (why === undefined) return target;
  await stop();
  throw new StartError(`The server ${why}: ${command}${tail(text, "\n")}`);
}

/** One start of a command: its process group, how it ended, how to stop it. */
interface Launched {
  ended(): string | undefined;
  /** Stops the group: SIGTERM then SIGKILL, or SIGKILL at once. */
  stop(first?: "SIGTERM" | "SIGKILL"): Promise<void>;
}

/**
 * Starts the command once, in a process group of its own, passing its output to `onOutput`;
 * under strace when `syscalls` names its log.
 */
function launch(
  command: string,
  values: Placeholders,
  cwd: string | undefined,
  onOutput: (text: string) => void,
  syscalls?: string,
): Launched {
  const filled = fillPlaceholders(command, values);
  // Under strace -D the shell keeps its process, so the group is stopped as it always is.
  const line = syscalls === undefined
    ? filled
    : `${straceCommand(syscalls).map(shellQuote).join(" ")} sh -c ${shellQuote(filled)}`;
  // No `exec` in front: a command starting with `cd` or `export` is ordinary shell, and the
  // process group below does what `exec` did (lets us stop the server and not only its shell).
  // `detached` starts the shell in a new session, so its pid is also its group's id.
  const child = new Deno.Command("sh", {
    args: ["-c", line],
    cwd,
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = collectOutput(child, onOutput);
  let ended: string | undefined;
  const status = child.status.then((s) => ended = describeStatus(s));
  let stopped: Promise<void> | undefined;
  return {
    ended: () => ended,
    stop: (first = "SIGTERM") =>
      stopped ??= (async () => {
        await killGroup(child.pid, status, first);
        await output.drain();
      })(),
  };
}

/**
 * Waits until `port` accepts connections and the server has loaded its data, or the server exits,
 * or time runs out. A Redis-style server listens while it loads and answers `-LOADING` meanwhile
 * (lab 4, and Redis itself), so a port that accepts is not yet a server the checks can use.
 *
 * @returns `undefined` once it serves (after calling `onReady` with its address), else why not.
 */
async function waitUntilListening(
  port: number,
  started: Launched,
  timeoutMs: number,
  onReady?: (addr: string) => void,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (started.ended() === undefined && Date.now() < deadline) {
    const host = await listeningHost(port);
    if (host !== undefined && !(await stillLoading(host, port))) {
      onReady?.(host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
      return undefined;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ended = started.ended();
  return ended === undefined
    ? `did not listen on port ${port} within ${timeoutMs / 1000} s`
    : `${ended} before it listened on port ${port}`;
}

/** How long {@link stillLoading} waits for an answer before taking silence for "not loading". */
const LOADING_PROBE_MS = 1_000;

/**
 * Whether the server answers an inline `PING` with `-LOADING`. Any other answer (`+PONG`, a
 * memcached `ERROR`, lab 3's plaintext refusal), a close, or silence means it is not loading: the
 * probe must not hold up a server that speaks another protocol.
 */
async function stillLoading(hostname: string, port: number): Promise<boolean> {
  let conn: Deno.Conn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    conn = await Deno.connect({ hostname, port });
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buffer = new Uint8Array(64);
    const silence = new Promise<null>((resolve) =>
      timer = setTimeout(() => resolve(null), LOADING_PROBE_MS)
    );
    const n = await Promise.race([conn.read(buffer), silence]);
    return n !== null && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("-LOADING");
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed by the server already
    }
  }
}

/**
 * Which loopback address accepts a connection on `port`, if any. Servers differ: Python's
 * `socket.create_server(("localhost", port))` may bind `::1` alone, so trying only 127.0.0.1
 * would call a running server dead.
 */
async function listeningHost(port: number): Promise<string | undefined> {
  for (const hostname of ["127.0.0.1", "::1"]) {
    try {
      const conn = await Deno.connect({ hostname, port });
      conn.close();
      return hostname;
    } catch {
      // not on this address (yet)
    }
  }
  return undefined;
}

/**
 * SIGTERM to the whole group, SIGKILL to it after a grace period. Signalling `-pid` reaches the
 * shell, the server and anything they started, which a signal to the child alone would not.
 */
async function killGroup(
  pid: number,
  exited: Promise<unknown>,
  first: "SIGTERM" | "SIGKILL" = "SIGTERM",
): Promise<void> {
  const signal = (name: Deno.Signal) => {
    try {
      Deno.kill(-pid, name);
    } catch {
      // the whole group is gone already
    }
  };
  signal(first);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    exited,
    new Promise<void>((resolve) => timer = setTimeout(resolve, STOP_GRACE_MS)),
  ]);
  clearTimeout(timer);
  // The shell may have exited while the server it started lingers: kill the group regardless.
  signal("SIGKILL");
  await exited;
}

/** A child's stdout and stderr, passed on as they arrive, read until told to stop. */
function collectOutput(
  child: Deno.ChildProcess,
  onOutput: (text: string) => void,
): { drain(): Promise<void> } {
  const decoder = new TextDecoder();
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const reading = Promise.all(readers.map(async (reader) => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        onOutput(decoder.decode(value, { stream: true }));
      }
    } catch {
      // cancelled by drain()
    }
  }));
  return {
    drain: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => timer = setTimeout(resolve, DRAIN_MS, "late"));
      if (await Promise.race([reading, late]) === "late") {
        await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
        await reading;
      }
      clearTimeout(timer);
    },
  };
}

/**
 * Says how a process ended, in words an instructor reads in a report.
 *
 * @param status The process's status.
 * @returns Such as `exited with status 1` or `was killed by SIGKILL`.
 */
export function describeStatus(status: Deno.CommandStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with status ${status.code}`;
}

/**
 * The last lines of a server's output, indented as a quote, or nothing if it printed nothing.
 *
 * @param output Everything it printed.
 * @param before What to put before the quote when there is one (such as a newline).
 * @param lines How many lines at most.
 * @returns The quote.
 */
export function tail(output: string, before = "", lines = 15): string {
  const kept = output.trimEnd().split("\n").filter((line, i, all) => line || i < all.length - 1);
  if (kept.length === 0 || (kept.length === 1 && kept[0] === "")) return "";
  return before + kept.slice(-lines).map((line) => `  | ${line}`).join("\n");
}
