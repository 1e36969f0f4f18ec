/**
 * Lab 2's command line: lab 1's `--host` and `--port`, plus the limits a server with many clients
 * needs: `--maxclients`, `--timeout`, `--max-output-buffer`.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { listenPort, parseCommandLine, usageError, wholeNumber } from "../../shared/cli.ts";
import { parseYesNo } from "../../shared/server/protected_mode.ts";

/** Lab 2's server options. */
export interface Lab2Options {
  /** Interface to listen on. */
  host: string;
  /** Port to listen on; 0 asks the system for any free port. */
  port: number;
  /** Most clients connected at once; one more gets `-ERR max number of clients reached`. */
  maxclients: number;
  /** How many databases `SELECT` chooses from, numbered from 0 (Redis's `databases`). */
  databases: number;
  /** Close a client idle for this many seconds; 0 means never (Redis's `timeout`). */
  timeout: number;
  /** Most bytes of replies held for one client before it is disconnected. */
  maxOutputBuffer: number;
  /**
   * Largest bulk string, and so the longest value, in bytes (`--proto-max-bulk-len`, Redis's
   * `proto-max-bulk-len`); the decoder's default when absent.
   */
  protoMaxBulkLen?: number;
  /**
   * Redis's `protected-mode` (`--protected-mode yes|no`): without a password, only loopback
   * clients are served. On when absent.
   */
  protectedMode?: boolean;
}

/**
 * What a later lab adds to lab 2's command line. Lab 3 (the secure channel) and lab 4 (expiry and
 * persistence) serve through lab 2's server, so they take lab 2's flags as they are and add their
 * own, rather than copying this parser.
 */
export interface ServerArgsSpec {
  /** The task that runs the server, such as `deno task lab3`; shown in `--help` and errors. */
  usage: string;
  /** The paragraph at the top of `--help`. */
  description: string;
  /** More flags, as `node:util` `parseArgs` takes them. */
  options?: NonNullable<ParseArgsConfig["options"]>;
  /** Their lines for `--help`, aligned like lab 2's, each ending with a newline. */
  help?: string;
}

/** The values of a lab's own flags, as `parseArgs` returns them; the lab checks them. */
export type ExtraArgValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

const LAB2_SPEC: ServerArgsSpec = {
  usage: "deno task lab2",
  description: "Lab 2: a Redis-compatible cache server that serves many clients at once.",
};

function helpText(spec: ServerArgsSpec): string {
  return `Usage: ${spec.usage} [options]

${spec.description}

Options:
  --host HOST               interface to listen on (default 127.0.0.1)
  --port PORT               port to listen on; 0 picks any free port (default 6379)
  --maxclients N            most clients connected at once (default 10000)
  --databases N             how many databases SELECT chooses from, 0 to N-1 (default 16)
  --timeout SECONDS         close a client idle this long; 0 means never (default 0)
  --max-output-buffer SIZE  most bytes of replies held for one client, such as 1048576,
                            64kb, 32mb or 1gb; past it the client is disconnected, but one
                            reply bigger than this is still sent whole (default 256mb)
  --proto-max-bulk-len SIZE largest string a client may send or APPEND may make, at least
                            1mb (default 512mb, less the few bytes a JavaScript string lacks)
  --protected-mode yes|no   with no password, refuse clients that are not on the loopback
                            interface, as Redis does (default yes)
${spec.help ?? ""}  --help                    show this help

Prints "listening on HOST:PORT" when ready. Ctrl-C (SIGINT) or SIGTERM stops it cleanly.`;
}

/** Units as Redis's config file reads them: `1k` is 1000, `1kb` is 1024. */
const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1024,
  m: 1000 ** 2,
  mb: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1024 ** 3,
};

/**
 * Parses a size the way Redis's config does: a number with an optional unit.
 *
 * @param text Such as `1048576`, `64kb` or `32mb`.
 * @returns Bytes, or `null` if it is not a size.
 * @example
 * ```ts
 * parseSize("64kb"); // 65536
 * ```
 */
export function parseSize(text: string): number | null {
  const match = /^(\d+)([a-z]*)$/i.exec(text);
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) return null;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : null;
}

/**
 * Parses lab 2's arguments. Prints help and exits 0 for `--help`; prints the problem and exits 2 for
 * an unknown flag or a bad value.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @returns The options.
 */
export function parseLab2Args(argv: string[]): Lab2Options {
  return parseLab2ArgsWith(argv, LAB2_SPEC).options;
}

/**
 * Parses lab 2's arguments plus a later lab's own flags, with one `--help` listing them all.
 * Prints help and exits 0 for `--help`; prints the problem and exits 2 for an unknown flag or a
 * bad lab 2 value. The lab checks its own values, calling {@link usageError} for a bad one.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @param spec The lab's usage line, description, extra flags and their help.
 * @returns Lab 2's options, and the raw values of the extra flags.
 * @example
 * ```ts
 * const { options, extra } = parseLab2ArgsWith(Deno.args, {
 *   usage: "deno task lab3",
 *   description: "Lab 3: lab 2's server behind an encrypted channel.",
 *   options: { trace: { type: "boolean", default: false } },
 *   help: "  --trace                   show the bytes on the wire\n",
 * });
 * ```
 */
export function parseLab2ArgsWith(
  argv: string[],
  spec: ServerArgsSpec,
): { options: Lab2Options; extra: ExtraArgValues } {
  const { values } = parseCommandLine({ usage: spec.usage, help: helpText(spec) }, () =>
    parseArgs({
      args: argv,
      options: {
        ...spec.options,
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "6379" },
        maxclients: { type: "string", default: "10000" },
        databases: { type: "string", default: "16" },
        timeout: { type: "string", default: "0" },
        "max-output-buffer": { type: "string", default: "256mb" },
        "proto-max-bulk-len": { type: "string" },
        "protected-mode": { type: "string", default: "yes" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  const port = listenPort(values.port, spec.usage);
  const maxclients = wholeNumber(values.maxclients, 1, 1_000_000);
  if (maxclients === null) {
    usageError(
      `Invalid maxclients: "${values.maxclients}" is not a number from 1 to 1000000`,
      spec.usage,
    );
  }
  // Redis allows up to 2^31 - 1; each database here is an object made at start, so fewer.
  const databases = wholeNumber(values.databases, 1, 10_000);
  if (databases === null) {
    usageError(
      `Invalid databases: "${values.databases}" is not a number from 1 to 10000`,
      spec.usage,
    );
  }
  const timeout = wholeNumber(values.timeout, 0, 365 * 24 * 3600);
  if (timeout === null) {
    usageError(`Invalid timeout: "${values.timeout}" is not a number of seconds`, spec.usage);
  }
  const maxOutputBuffer = parseSize(values["max-output-buffer"]);
  if (maxOutputBuffer === null || maxOutputBuffer < 1) {
    usageError(
      `Invalid max-output-buffer: "${values["max-output-buffer"]}" is not a size`,
      spec.usage,
    );
  }
  const bulkText = values["proto-max-bulk-len"];
  const protoMaxBulkLen = bulkText === undefined ? undefined : parseSize(bulkText);
  // Redis's own floor for proto-max-bulk-len: any less and ordinary commands would not fit.
  if (protoMaxBulkLen === null || (protoMaxBulkLen !== undefined && protoMaxBulkLen < 1024 ** 2)) {
    usageError(
      `Invalid proto-max-bulk-len: "${bulkText}" is not a size of at least 1mb`,
      spec.usage,
    );
  }
  const protectedMode = parseYesNo(values["protected-mode"]);
  if (protectedMode === null) {
    usageError(
      `Invalid protected-mode: "${values["protected-mode"]}" is not yes or no`,
      spec.usage,
    );
  }
  const extra: ExtraArgValues = {};
  const all: ExtraArgValues = values;
  for (const name of Object.keys(spec.options ?? {})) extra[name] = all[name];
  return {
    options: {
      host: values.host,
      port,
      maxclients,
      databases,
      timeout,
      maxOutputBuffer,
      protoMaxBulkLen,
      protectedMode,
    },
    extra,
  };
}
