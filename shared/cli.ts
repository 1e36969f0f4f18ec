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
