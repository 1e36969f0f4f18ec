/**
 * The command-line conventions every program of the course keeps, servers and tools alike:
 * `--help` prints the help and exits 0; a flag that does not parse, or a value that makes no sense,
 * prints what is wrong and how to get the help, and exits 2, as command-line tools conventionally
 * do (so a script can tell "you called me wrong" from "I failed", which is exit 1).
 *
 * ```ts
 * const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
 *   parseArgs({
 *     args: Deno.args,
 *     options: { port: { type: "string", default: "6380" }, help: { type: "boolean" } },
 *     strict: true,
 *   }));
 * if (!/^\d+$/.test(values.port)) usageError(`Invalid port: "${values.port}"`, USAGE);
 * ```
 *
 * @module
 */

/** What a program's `--help` and its usage errors say. */
export interface CommandLineSpec {
  /** How the program is run, such as `deno task lab2:race`: the errors tell the user to add `--help`. */
  usage: string;
  /** The whole `--help` text. */
  help: string;
}

/**
 * Prints `message` and how to get the help, then exits 2.
 *
 * @param message What is wrong, such as `Invalid port: "http" is not a number from 0 to 65535`.
 * @param usage How the program is run, such as `deno task lab1`.
 * @returns Never: the process exits.
 */
export function usageError(message: string, usage: string): never {
  console.error(`${message}\nRun "${usage} --help" for usage.`);
  Deno.exit(2);
}

/**
 * Runs `parse` (a `parseArgs` call from `node:util`, with a `help` flag among its options) and
 * applies the conventions: a command line it refuses is a usage error, exit 2; `--help` prints the
 * help, exit 0. The program checks its own values afterwards, calling {@link usageError} for a bad
 * one.
 *
 * @param spec The usage line and the help text.
 * @param parse Parses the arguments; it throws for an unknown flag or a missing value.
 * @returns What `parse` returned, when the program is to run.
 */
export function parseCommandLine<Parsed extends { values: { help?: boolean } }>(
  spec: CommandLineSpec,
  parse: () => Parsed,
): Parsed {
  let parsed: Parsed;
  try {
    parsed = parse();
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error), spec.usage);
  }
  if (parsed.values.help) {
    console.log(spec.help);
    Deno.exit(0);
  }
  return parsed;
}

/**
 * Reads a whole number in `[min, max]` from a flag's text.
 *
 * @param text Such as `"6379"`.
 * @param min The smallest value allowed.
 * @param max The largest value allowed.
 * @returns The number, or `null` if the text is not one in range (signs, decimals, spaces refused).
 * @example
 * ```ts
 * wholeNumber("6379", 0, 65535); // 6379
 * wholeNumber("-1", 0, 65535); // null
 * ```
 */
export function wholeNumber(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

/**
 * Reads the port a program listens on, or exits 2 saying why it is not one.
 *
 * @param text The flag's value; `0` asks the system for any free port.
 * @param usage How the program is run, for the error.
 * @returns The port.
 */
export function listenPort(text: string, usage: string): number {
  return wholeNumber(text, 0, 65535) ??
    usageError(`Invalid port: "${text}" is not a number from 0 to 65535`, usage);
}

/**
 * Parses `host:port` or `[ipv6]:port`.
 *
 * @param text Such as `127.0.0.1:6379`.
 * @returns The host and port, or `null` if it is not an address with a port from 1 to 65535.
 * @example
 * ```ts
 * parseHostPort("[::1]:6379"); // { host: "::1", port: 6379 }
 * ```
 */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const colon = text.lastIndexOf(":");
  if (colon <= 0) return null;
  const host = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = wholeNumber(text.slice(colon + 1), 1, 65535);
  return host === "" || port === null ? null : { host, port };
}
