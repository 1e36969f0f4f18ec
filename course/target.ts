/**
 * The server a check runs against: one already running somewhere, a command the grader starts,
 * or a lab's server in this repository.
 *
 * @module
 */

import { freePort, startLabServer } from "../shared/testing/processes.ts";

/** A server under test, and how to let it go. */
export interface Target extends AsyncDisposable {
  /** `host:port`. */
  addr: string;
  /** What the server printed, for the report when it misbehaves (empty if we did not start it). */
  log(): string;
}

/** How long a started server has to accept connections. */
const START_TIMEOUT_MS = 30_000;

/**
 * A server somebody else runs.
 *
 * @param addr `host:port`.
 * @returns A target that does nothing when disposed.
 */
export function external(addr: string): Target {
  return { addr, log: () => "", [Symbol.asyncDispose]: () => Promise.resolve() };
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
  const server = await startLabServer(entry, options);
  return { addr: server.addr, log: server.log, [Symbol.asyncDispose]: server.stop };
}

/**
 * Starts a student's server in any language from a shell command. `{port}` in the command is
 * replaced with a free port; the server is ready when that port accepts a connection.
 *
 * @param command Such as `python3 server.py --port {port}`.
 * @returns The running server.
 * @throws {Error} If it exits or does not listen within 30 s.
 */
export async function commandServer(command: string): Promise<Target> {
  const port = freePort();
  // `exec` makes the shell become the server, so stopping the child stops the server itself.
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${command.replaceAll("{port}", String(port))}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const collecting = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // it exited in the meantime
      }
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 3000);
      await status;
      clearTimeout(timer);
    }
    await collecting;
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!exited && Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return { addr: `127.0.0.1:${port}`, log: () => output, [Symbol.asyncDispose]: stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await stop();
  throw new Error(
    `The server never listened on port ${port}${
      exited ? " (it exited)" : ""
    }: ${command}\n${output}`,
  );
}
