/**
 * The command table: every command the server knows, described as data.
 *
 * A command is a name, an arity, some flags and a handler. The server, not the handler, checks that
 * the command exists and has the right number of arguments (`resolveCommand` in lab 1's
 * `connection.ts`, with the errors below), so every command answers those mistakes with the same
 * words Redis uses. A lab adds commands by registering them; lab 4 reads the
 * `write` flag to decide which commands go into its append-only log.
 *
 * Arity follows Redis's convention and counts the command name itself:
 *
 * ```
 * GET key          arity  2   exactly two words
 * SET key value    arity -3   at least three words
 * ```
 *
 * @module
 */

import { cString, ErrorReply } from "../resp/reply.ts";
import type {
  ArgumentDoc,
  CommandFlag,
  CommandHandler,
  CommandRegistry,
  CommandSpec,
  KeyPositions,
} from "./server_state.ts";

// The types a command is described with live beside the server state that holds the table (a
// handler's session points at the server, whose table holds the handler); this module is where
// the labs import them from.
export type {
  ArgumentDoc,
  CommandFlag,
  CommandHandler,
  CommandRegistry,
  CommandSpec,
  KeyPositions,
};

/**
 * Redis 7's reply to a command it does not know, quoting up to 128 bytes of its arguments.
 *
 * @param args The command as received.
 * @returns `-ERR unknown command 'foo', with args beginning with: 'a' 'b' `
 */
export function unknownCommand(args: readonly string[]): ErrorReply {
  let quoted = "";
  for (let i = 1; i < args.length && quoted.length < 128; i++) {
    quoted += `'${cString(args[i], 128 - quoted.length)}' `;
  }
  return new ErrorReply(
    `ERR unknown command '${cString(args[0], 128)}', with args beginning with: ${quoted}`,
  );
}

/**
 * Redis 7's reply to a command with the wrong number of arguments.
 *
 * @param name The command's full name, such as `get` or `client|setname`.
 * @returns `-ERR wrong number of arguments for 'get' command`
 */
export function wrongArity(name: string): ErrorReply {
  return new ErrorReply(`ERR wrong number of arguments for '${name}' command`);
}

/**
 * The set of commands a server understands, looked up case-insensitively.
 *
 * @example
 * ```ts
 * const table = new CommandTable().register({
 *   name: "ping", arity: -1, flags: ["fast"], group: "connection", summary: "Ping the server",
 *   handler: () => PONG,
 * });
 * table.get("ping"); // the ping spec
 * ```
 */
export class CommandTable implements CommandRegistry {
  #commands = new Map<string, CommandSpec>();
  // The name last looked up and what it found: a pipeline sends the same command many times in a
  // row, and lab 2's decoder hands back the same string for the same name, so one comparison
  // spares the map's lookup. Forgotten whenever the table changes.
  #lastName: string | null = null;
  #lastSpec: CommandSpec | undefined = undefined;

  /**
   * Adds a command, or replaces one of the same name (a later lab redefining `SET` with more
   * options does this).
   *
   * @param spec The command.
   * @returns The table, for chaining.
   */
  register(spec: CommandSpec): this {
    if (spec.name !== spec.name.toLowerCase()) {
      throw new TypeError(`Cannot register command: name "${spec.name}" is not lower case`);
    }
    if (!spec.handler && !spec.subcommands?.length) {
      throw new TypeError(`Cannot register command: "${spec.name}" has no handler`);
    }
    this.#lastName = null;
    this.#commands.set(spec.name, spec);
    // Clients mostly send upper case; keeping that spelling too saves a toLowerCase() per command.
    this.#commands.set(spec.name.toUpperCase(), spec);
    return this;
  }

  /**
   * Registers several commands.
   *
   * @param specs The commands.
   * @returns The table, for chaining.
   */
  registerAll(specs: Iterable<CommandSpec>): this {
    for (const spec of specs) this.register(spec);
    return this;
  }

  /**
   * Finds a command by name, in any case.
   *
   * @param name The name as a client spelt it.
   * @returns The command, or `undefined`.
   */
  get(name: string): CommandSpec | undefined {
    if (name === this.#lastName) return this.#lastSpec;
    const spec = this.#commands.get(name) ?? this.#commands.get(name.toLowerCase());
    this.#lastName = name;
    this.#lastSpec = spec;
    return spec;
  }

  /** Every registered command, each once, in registration order. */
  *[Symbol.iterator](): IterableIterator<CommandSpec> {
    for (const [key, spec] of this.#commands) if (key === spec.name) yield spec;
  }
}
