/**
 * The command-line client every lab ships as `client.ts`: `redis-cli`'s everyday behaviour, on
 * top of this course's own client library.
 *
 * ```
 * deno task lab1:client                      an interactive prompt
 * deno task lab1:client SET name Alice       one command, then exit
 * printf 'SET a 1\nGET a\n' | deno task lab1:client
 *                                            every piped line, then exit
 * ```
 *
 * A lab's `client.ts` is one call to {@link runClientCli}; lab 3 adds its own flags (`options`)
 * and passes its own `connect`, which reads them and runs its handshake before the first command.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { utf8ToByteString } from "../resp/bytes.ts";
import { ErrorReply, type Protocol } from "../resp/reply.ts";
import { RedisClient } from "./client.ts";
import type { OutputMode } from "./output.ts";
import { runInteractive, runPiped } from "./repl.ts";
import { CommandRunner, type Endpoint } from "./runner.ts";

export type { ConnectFunction, Endpoint } from "./runner.ts";

/** The values of a lab's own flags, as `parseArgs` returns them. */
export type ClientArgValues = Readonly<
  Record<string, string | boolean | (string | boolean)[] | undefined>
>;

/** Describes a lab's client for its `--help`, and how it connects. */
export interface ClientCliSpec {
  /** The task that runs it, such as `deno task lab1:client`. */
  usage: string;
  /** One paragraph on what this client is; a generic one by default. */
  description?: string;
  /**
   * Opens a connection; plain TCP (`RedisClient.connect`) by default. It receives the values of
   * the lab's own {@link options}.
   */
  connect?: (endpoint: Endpoint, values: ClientArgValues) => Promise<RedisClient>;
  /** The lab's own flags, as `node:util` `parseArgs` takes them, beside `-h`, `-p`, `--raw`... */
  options?: NonNullable<ParseArgsConfig["options"]>;
  /** Their lines for `--help`, aligned like the others, each ending with a newline. */
  optionsHelp?: string;
  /**
   * Checks the values of the lab's own flags before anything connects; throws a `TypeError` for a
   * bad one, which ends the client with exit code 2 like any other bad flag.
   */
  checkOptions?: (values: ClientArgValues) => void;
  /**
   * Picks out connection failures that must end the client at once with exit code 1, instead of
   * leaving it at a `not connected>` prompt to try again (lab 3: a server key that changed).
   */
  isFatal?: (error: unknown) => boolean;
}

/** What the command line asked for. */
interface ClientCliOptions extends Endpoint {
  mode: OutputMode;
  /** The protocol to ask for: with 3, every connection starts with `HELLO 3`, as `redis-cli -3`. */
  protocol: Protocol;
  /** The command to run once, as byte strings; empty for the prompt or piped input. */
  command: string[];
  help: boolean;
  /** The values of the lab's own flags. */
  extra: ClientArgValues;
}

const OPTIONS = {
  host: { type: "string", short: "h", default: "127.0.0.1" },
  port: { type: "string", short: "p", default: "6379" },
  raw: { type: "boolean" },
  "no-raw": { type: "boolean" },
  json: { type: "boolean" },
  resp2: { type: "boolean", short: "2" },
  resp3: { type: "boolean", short: "3" },
  help: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

function helpText(spec: ClientCliSpec): string {
  const description = spec.description ??
    "A command-line client for Redis-compatible servers, in the manner of redis-cli.";
  return `Usage: ${spec.usage} [options] [command [arg ...]]

${description}

With a command, runs it, prints the reply and exits. Without one, starts an interactive prompt;
with commands piped to stdin, runs them one per line instead.

Options:
  -h, --host HOST   server host (default 127.0.0.1)
  -p, --port PORT   server port (default 6379)
  --raw             print bare values, one per line (the default when stdout is not a terminal)
  --no-raw          print like redis-cli at a terminal, even into a pipe
  --json            print one JSON object per command
  -2, -3            speak RESP2 (the default) or RESP3: after connecting, send HELLO 3
${spec.optionsHelp ?? ""}  --help            show this help

Options end at the first word that is not one, so "SET -h x" sends "-h" as an argument.
Typed lines are split like redis-cli splits them: SET "a key" 'a value'.
History is kept in ~/.cachelab_history; set CACHELAB_HISTFILE to move it, or to "" to turn it off.

Examples:
  ${spec.usage} SET name Alice
  ${spec.usage} --json GET name
  printf 'SET a 1\\nGET a\\n' | ${spec.usage}`;
}

/**
 * Parses the options that come before the command.
 *
 * `parseArgs` has no "stop at the first positional" switch, so it runs twice: first leniently,
 * with tokens, to find where the command starts (it knows that `-p 6379` is an option and its
 * value, and that `--` ends the options); then strictly, on the options alone, to reject unknown
 * flags.
 *
 * @throws {TypeError} For an unknown option or a bad port.
 */
function parseClientArgs(
  argv: readonly string[],
  extraOptions: NonNullable<ParseArgsConfig["options"]> = {},
): ClientCliOptions {
  const options = { ...extraOptions, ...OPTIONS };
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const end = tokens.find((t) => t.kind === "positional" || t.kind === "option-terminator");
  const optionArgs = end === undefined ? [...argv] : argv.slice(0, end.index);
  const commandStart = end === undefined
    ? argv.length
    : end.index + (end.kind === "positional" ? 0 : 1);

  const parsed = parseArgs({ args: optionArgs, options, strict: true, tokens: true });
  const { values } = parsed;
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) {
    throw new TypeError(`Invalid port: "${values.port}" is not a number from 1 to 65535`);
  }

  // As in redis-cli, the last of --raw, --no-raw and --json wins.
  let mode: OutputMode = Deno.stdout.isTerminal() ? "tty" : "raw";
  for (const token of parsed.tokens) {
    if (token.kind !== "option") continue;
    if (token.name === "raw") mode = "raw";
    else if (token.name === "no-raw") mode = "tty";
    else if (token.name === "json") mode = "json";
  }
  // As in redis-cli, the last of -2 and -3 wins.
  let protocol: Protocol = 2;
  for (const token of parsed.tokens) {
    if (token.kind === "option" && token.name === "resp2") protocol = 2;
    if (token.kind === "option" && token.name === "resp3") protocol = 3;
  }

  return {
    host: values.host,
    port,
    mode,
    protocol,
    // Words from the shell are text; the server gets their UTF-8 bytes.
    command: argv.slice(commandStart).map(utf8ToByteString),
    help: values.help === true,
    extra: Object.fromEntries(
      Object.keys(extraOptions).map((name) => [name, (values as ClientArgValues)[name]]),
    ),
  };
}

/**
 * Asks a new connection for RESP3 (`HELLO 3`), as `redis-cli -3` does; a server that refuses
 * (`-NOPROTO`) fails the connection with its answer, rather than leaving the user in RESP2
 * unawares.
 */
async function helloThree(connecting: Promise<RedisClient>): Promise<RedisClient> {
  const client = await connecting;
  const reply = await client.send("HELLO", "3");
  if (reply instanceof ErrorReply) {
    await client.close();
    throw new Error(`HELLO 3 refused: ${reply.message}`);
  }
  return client;
}

/** Writes all of `bytes` to standard output before returning, so output is never interleaved. */
function writeStdout(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

/**
 * Runs the command-line client and returns its exit code.
 *
 * Exit codes follow `redis-cli`: 0 when the command ran, even if its reply is an error (the error
 * is printed; scripts that care can use `--json` and look for `"error"`), 1 when the server could
 * not be reached, 2 for a command line that does not parse. With piped input, 1 means at least
 * one command could not be sent. (`redis-cli` says 0 there; a script deserves to know.)
 *
 * @param argv The arguments, usually `Deno.args`.
 * @param spec The usage line for `--help`, and optionally how to connect.
 * @returns The exit code.
 * @example
 * ```ts
 * Deno.exit(await runClientCli(Deno.args, { usage: "deno task lab1:client" }));
 * ```
 */
export async function runClientCli(argv: readonly string[], spec: ClientCliSpec): Promise<number> {
  let options: ClientCliOptions;
  try {
    options = parseClientArgs(argv, spec.options);
    spec.checkOptions?.(options.extra);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${message}\nRun "${spec.usage} --help" for usage.`);
    return 2;
  }
  if (options.help) {
    console.log(helpText(spec));
    return 0;
  }

  const connectWith = spec.connect;
  const open = connectWith
    ? (endpoint: Endpoint) => connectWith(endpoint, options.extra)
    : (endpoint: Endpoint) => RedisClient.connect(endpoint);
  await using runner = new CommandRunner({
    host: options.host,
    port: options.port,
    connect: options.protocol === 3 ? (endpoint) => helloThree(open(endpoint)) : open,
    fatal: spec.isFatal,
    mode: options.mode,
    write: writeStdout,
    warn: (line) => console.error(line),
  });
  try {
    if (options.command.length > 0) {
      await runner.run(options.command);
    } else if (Deno.stdin.isTerminal()) {
      await runInteractive(runner);
      return 0;
    } else {
      await runPiped(runner, Deno.stdin.readable);
    }
  } catch (error) {
    // Whoever read our output has gone (`... | head -1`). There is nobody left to tell, so stop
    // quietly, as redis-cli does when SIGPIPE ends it.
    if (error instanceof Deno.errors.BrokenPipe) return 0;
    // A refusal that retrying cannot fix; the runner has already said why.
    if (spec.isFatal?.(error)) return 1;
    throw error;
  }
  return runner.failed > 0 ? 1 : 0;
}
