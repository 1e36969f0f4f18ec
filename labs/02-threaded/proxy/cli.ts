/**
 * The proxy's command line: where to listen, where the upstream is, the cache's bounds, and lab 2's
 * limits (the proxy runs on lab 2's server loop, so it has them all).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseHostPort, usageError, wholeNumber } from "../../../shared/cli.ts";
import { utf8ToByteString } from "../../../shared/resp/bytes.ts";
import { parseYesNo } from "../../../shared/server/protected_mode.ts";
import { type Lab2Options, parseSize } from "../cli.ts";
import { whyNeverForwarded } from "./routing.ts";

/** The proxy's options. */
export interface ProxyCliOptions extends Omit<Lab2Options, "databases"> {
  /** The server the proxy forwards to. */
  upstream: { host: string; port: number };
  /** Most `GET` answers cached. */
  maxEntries: number;
  /** Most bytes of cached keys and values. */
  maxBytes: number;
  /** A cached answer older than this is not served: the longest a bypassing write stays unseen. */
  maxAgeMs: number;
  /** How long connecting upstream, or waiting with no reply at all, may take. */
  upstreamTimeoutMs: number;
  /** Commands forwarded besides the default allow-list (`--allow-commands`), in lower case. */
  allowCommands?: readonly string[];
  /** The password the proxy's own clients must give with `AUTH`, as a byte string. */
  requirepass?: string;
  /** Sent with `AUTH` on every new upstream connection, as a byte string. */
  upstreamPassword?: string;
  /** The user for that `AUTH` (Redis 6 ACLs); `AUTH password` alone when absent. */
  upstreamUser?: string;
}

/** Environment variables that may hold the passwords, so they stay out of `ps`. */
export const PROXY_PASSWORD_ENV = {
  requirepass: "CACHELAB_PROXY_REQUIREPASS",
  upstreamPassword: "CACHELAB_UPSTREAM_PASSWORD",
} as const;

const USAGE = "deno task lab2:proxy";

/** Listens one port above Redis's 6379, so it can sit in front of a server on the default port. */
const DEFAULT_PORT = 6380;

const HELP = `Usage: ${USAGE} [options]

Lab 2's caching proxy: speaks RESP to clients and to an upstream Redis-compatible server, answers
repeated GETs from its own cache, invalidates the keys of writes that pass through it, and makes
one upstream request for many concurrent misses on one key.

Options:
  --upstream HOST:PORT        the server to forward to (default 127.0.0.1:6379)
  --host HOST                 interface to listen on (default 127.0.0.1)
  --port PORT                 port to listen on; 0 picks any free port (default ${DEFAULT_PORT})
  --max-entries N             most GET answers cached (default 10000)
  --max-bytes SIZE            most bytes of cached keys and values, such as 1048576, 64kb or
                              32mb (default 64mb)
  --max-age-ms MS             never serve a cached answer older than this; a write that does not
                              pass through the proxy stays unseen at most this long (default 10000)
  --upstream-timeout-ms MS    fail a connect, or requests left with no reply, after this long
                              (default 5000)
  --upstream-password PASS    send AUTH PASS on every upstream connection (or set
                              ${PROXY_PASSWORD_ENV.upstreamPassword}: a flag is visible in ps)
  --upstream-user NAME        send AUTH NAME PASS instead, for a Redis 6+ ACL user
  --requirepass PASS          the proxy's own clients must send AUTH PASS first (or set
                              ${PROXY_PASSWORD_ENV.requirepass})
  --allow-commands A,B        also forward these commands (such as flushdb,flushall); only
                              data commands are forwarded by default, so that nobody reaches
                              the upstream's admin commands through the proxy
  --protected-mode yes|no     with no --requirepass, refuse clients not on the loopback
                              interface, as Redis does (default yes)
  --maxclients N              most clients connected at once (default 10000)
  --timeout SECONDS           close a client idle this long; 0 means never (default 0)
  --max-output-buffer SIZE    most bytes of replies held for one client (default 256mb)
  --help                      show this help

Prints "listening on HOST:PORT" when ready. Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
"INFO proxy" reports hits, misses and upstream calls.`;

/** What the arguments asked for: options to run with, the help text, or a problem. */
export type ProxyArgsResult =
  | { kind: "options"; options: ProxyCliOptions }
  | { kind: "help"; text: string }
  | { kind: "error"; message: string };

/**
 * Parses the proxy's arguments without exiting, so tests can check every answer.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @returns The options, the help text for `--help`, or what is wrong.
 */
export function readProxyArgs(
  argv: string[],
  env: (name: string) => string | undefined = readEnv,
): ProxyArgsResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        upstream: { type: "string", default: "127.0.0.1:6379" },
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: String(DEFAULT_PORT) },
        "max-entries": { type: "string", default: "10000" },
        "max-bytes": { type: "string", default: "64mb" },
        "max-age-ms": { type: "string", default: "10000" },
        "upstream-timeout-ms": { type: "string", default: "5000" },
        maxclients: { type: "string", default: "10000" },
        timeout: { type: "string", default: "0" },
        "max-output-buffer": { type: "string", default: "256mb" },
        "upstream-password": { type: "string" },
        "upstream-user": { type: "string" },
        requirepass: { type: "string" },
        "allow-commands": { type: "string", default: "" },
        "protected-mode": { type: "string", default: "yes" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { kind: "error", message: error instanceof Error ? error.message : String(error) };
  }
  if (values.help) return { kind: "help", text: HELP };
  const bad = (message: string): ProxyArgsResult => ({ kind: "error", message });

  const upstream = parseHostPort(values.upstream);
  if (upstream === null) {
    return bad(
      `Invalid upstream: "${values.upstream}" is not HOST:PORT with a port from 1 to 65535`,
    );
  }
  const port = wholeNumber(values.port, 0, 65535);
  if (port === null) return bad(`Invalid port: "${values.port}" is not a number from 0 to 65535`);
  // A proxy forwarding to itself would forward each request to itself forever.
  if (port === upstream.port && values.host === upstream.host) {
    return bad(`Invalid upstream: "${values.upstream}" is the proxy's own address`);
  }
  const maxEntries = wholeNumber(values["max-entries"], 0, 100_000_000);
  if (maxEntries === null) {
    return bad(
      `Invalid max-entries: "${values["max-entries"]}" is not a number from 0 to 100000000`,
    );
  }
  const maxBytes = parseSize(values["max-bytes"]);
  if (maxBytes === null) return bad(`Invalid max-bytes: "${values["max-bytes"]}" is not a size`);
  const maxAgeMs = wholeNumber(values["max-age-ms"], 1, 365 * 24 * 3600 * 1000);
  if (maxAgeMs === null) {
    return bad(`Invalid max-age-ms: "${values["max-age-ms"]}" is not a number of milliseconds ≥ 1`);
  }
  const upstreamTimeoutMs = wholeNumber(values["upstream-timeout-ms"], 1, 3600 * 1000);
  if (upstreamTimeoutMs === null) {
    return bad(
      `Invalid upstream-timeout-ms: "${values["upstream-timeout-ms"]}" is not a number of ` +
        `milliseconds from 1 to 3600000`,
    );
  }
  const maxclients = wholeNumber(values.maxclients, 1, 1_000_000);
  if (maxclients === null) {
    return bad(`Invalid maxclients: "${values.maxclients}" is not a number from 1 to 1000000`);
  }
  const timeout = wholeNumber(values.timeout, 0, 365 * 24 * 3600);
  if (timeout === null) {
    return bad(`Invalid timeout: "${values.timeout}" is not a number of seconds`);
  }
  const maxOutputBuffer = parseSize(values["max-output-buffer"]);
  if (maxOutputBuffer === null || maxOutputBuffer < 1) {
    return bad(`Invalid max-output-buffer: "${values["max-output-buffer"]}" is not a size`);
  }
  const allowCommands = values["allow-commands"].split(",").map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  for (const name of allowCommands) {
    const why = whyNeverForwarded(name);
    if (why !== undefined) return bad(`Cannot forward '${name}': ${why}`);
  }
  const protectedMode = parseYesNo(values["protected-mode"]);
  if (protectedMode === null) {
    return bad(`Invalid protected-mode: "${values["protected-mode"]}" is not yes or no`);
  }
  const passwords: { requirepass?: string; upstreamPassword?: string } = {};
  for (
    const [key, flag] of [["requirepass", "requirepass"], [
      "upstreamPassword",
      "upstream-password",
    ]] as const
  ) {
    const given = values[flag];
    const fromEnv = env(PROXY_PASSWORD_ENV[key]);
    if (given !== undefined && fromEnv !== undefined) {
      return bad(`Give the ${flag} one way: --${flag} or ${PROXY_PASSWORD_ENV[key]}`);
    }
    const password = given ?? fromEnv;
    if (password === "") return bad(`Invalid ${flag}: the password is empty`);
    // Typed as text; sent and compared as the UTF-8 bytes clients send.
    if (password !== undefined) passwords[key] = utf8ToByteString(password);
  }
  const upstreamUser = values["upstream-user"];
  if (upstreamUser !== undefined && passwords.upstreamPassword === undefined) {
    return bad("--upstream-user needs --upstream-password");
  }
  return {
    kind: "options",
    options: {
      host: values.host,
      port,
      upstream,
      maxEntries,
      maxBytes,
      maxAgeMs,
      upstreamTimeoutMs,
      maxclients,
      timeout,
      maxOutputBuffer,
      allowCommands,
      requirepass: passwords.requirepass,
      upstreamPassword: passwords.upstreamPassword,
      upstreamUser: upstreamUser === undefined ? undefined : utf8ToByteString(upstreamUser),
      protectedMode,
    },
  };
}

/**
 * Reads an environment variable if the process may, without a permission prompt:
 * `deno task lab2:proxy` grants only the two password variables.
 */
function readEnv(name: string): string | undefined {
  const { state } = Deno.permissions.querySync({ name: "env", variable: name });
  return state === "granted" ? Deno.env.get(name) : undefined;
}

/**
 * Parses the proxy's arguments. Prints help and exits 0 for `--help`; prints the problem and exits
 * 2 for an unknown flag or a bad value.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @returns The options.
 */
export function parseProxyArgs(argv: string[]): ProxyCliOptions {
  const result = readProxyArgs(argv);
  if (result.kind === "help") {
    console.log(result.text);
    Deno.exit(0);
  }
  if (result.kind === "error") usageError(result.message, USAGE);
  return result.options;
}
