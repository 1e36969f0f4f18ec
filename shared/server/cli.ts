/**
 * Command-line options and process lifecycle shared by every lab's `server.ts`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { listenPort, parseCommandLine } from "../cli.ts";

/** Options every server accepts. */
export interface ServerCliOptions {
  /** Interface to listen on. */
  host: string;
  /** Port to listen on; 0 asks the system for any free port. */
  port: number;
  /** How many databases `SELECT` chooses from (Redis's `databases`); 1 when absent. */
  databases?: number;
}

/** Describes a server for its `--help`. */
export interface ServerCliSpec {
  /** The task that runs it, such as `deno task lab1`. */
  usage: string;
  /** One paragraph on what this server is. */
  description: string;
}

/**
 * Parses `--host`, `--port` and `--help`. Prints help and exits 0 for `--help`; prints the problem
 * and exits 2 for an unknown flag or a bad port, as command-line tools conventionally do.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @param spec What to print for `--help`.
 * @returns The options.
 */
export function parseServerArgs(argv: string[], spec: ServerCliSpec): ServerCliOptions {
  const help = `Usage: ${spec.usage} [options]

${spec.description}

Options:
  --host HOST   interface to listen on (default 127.0.0.1)
  --port PORT   port to listen on; 0 picks any free port (default 6379)
  --help        show this help

Prints "listening on HOST:PORT" when ready. Ctrl-C (SIGINT) or SIGTERM stops it cleanly.`;
  const { values } = parseCommandLine({ usage: spec.usage, help }, () =>
    parseArgs({
      args: argv,
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "6379" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  return { host: values.host, port: listenPort(values.port, spec.usage) };
}

/**
 * Calls `stop` once on the first SIGINT or SIGTERM, then removes the handlers so that a second
 * Ctrl-C kills the process the ordinary way if shutting down ever hangs.
 *
 * @param log Writes the "shutting down" line.
 * @param stop Closes the listener and the connections.
 * @returns A function that removes the handlers, for a server that stops some other way (a test
 *   running it in its own process closes the listener); calling it again does nothing.
 */
export function onShutdownSignal(log: (line: string) => void, stop: () => void): () => void {
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const [i, s] of signals.entries()) Deno.removeSignalListener(s, handlers[i]);
  };
  const handlers = signals.map((signal) => () => {
    remove();
    log(`Received ${signal}, shutting down`);
    stop();
  });
  for (const [i, s] of signals.entries()) Deno.addSignalListener(s, handlers[i]);
  return remove;
}
