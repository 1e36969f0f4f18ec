/**
 * The command table: every command the server knows, described as data.
 *
 * A command is a name, an arity, some flags and a handler. The table, not the handler, checks that
 * the command exists and has the right number of arguments, so every command answers those
 * mistakes with the same words Redis uses. A lab adds commands by registering them; lab 4 reads the
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

import { cString, ErrorReply, type Reply } from "../resp/reply.ts";
import type { Session } from "./session.ts";

/** What a command does, as Redis labels it (`COMMAND INFO` reports these). */
export type CommandFlag =
  | "write"
  | "readonly"
  | "fast"
  | "admin"
  | "noauth"
  | "loading"
  | "stale"
  | "noscript"
  // Adds data, so it is refused when memory is full (lab 4's maxmemory), as in Redis.
  | "denyoom"
  // Cannot be queued in MULTI: Redis refuses it there (SAVE, SHUTDOWN), or its handler may await,
  // which would break EXEC's isolation.
  | "no-multi";

/**
 * A command handler. It receives the session (the client and the server it talks to) and the
 * arguments as byte strings, `args[0]` being the command name as the client spelt it.
 *
 * Most handlers return their reply at once. One that must wait for something returns a promise,
 * and the connection waits for it before running the next command of that client.
 */
export type CommandHandler = (session: Session, args: string[]) => Reply | Promise<Reply>;

/** Where the keys are in a command's arguments, as `COMMAND INFO` reports: first, last, step. */
export interface KeyPositions {
  /** Index of the first key argument (1 for `GET key`). */
  first: number;
  /** Index of the last key argument; -1 means "the last argument". */
  last: number;
  /** Distance between keys (2 for `MSET k v k v`). */
  step: number;
}

/** One argument as `COMMAND DOCS` describes it; `redis-cli` builds its hints from these. */
export interface ArgumentDoc {
  /** What the hint shows, such as `key` or `message`. */
  name: string;
  /** Redis's argument type; `oneof` and `block` group the nested `arguments`. */
  type:
    | "key"
    | "string"
    | "integer"
    | "double"
    | "pattern"
    | "unix-time"
    | "pure-token"
    | "oneof"
    | "block";
  /** A literal word that introduces the argument, such as `EX` in `SET key value EX seconds`. */
  token?: string;
  /** `optional` shows it in brackets; `multiple` as `key [key ...]`. */
  flags?: readonly ("optional" | "multiple" | "multiple_token")[];
  /** The alternatives of a `oneof`, or the parts of a `block`. */
  arguments?: readonly ArgumentDoc[];
}

/** A command, described as data. */
export interface CommandSpec {
  /** The name in lower case, as Redis reports it. */
  name: string;
  /** Redis's arity: positive for exactly that many words, negative for at least that many. */
  arity: number;
  /** What kind of command it is. */
  flags: readonly CommandFlag[];
  /** One line for `COMMAND DOCS` and the REPL's help. */
  summary: string;
  /** The group `COMMAND DOCS` files it under (`string`, `connection`, `server`, `generic`...). */
  group: string;
  /** The arguments after the name, for `COMMAND DOCS`. */
  arguments?: readonly ArgumentDoc[];
  /** Which arguments are keys; omitted for commands without keys. */
  keys?: KeyPositions;
  /** The code that runs it. A container command such as `CLIENT` has subcommands instead. */
  handler?: CommandHandler;
  /** For a container command: its subcommands, each with `name` like `client|setname`. */
  subcommands?: readonly CommandSpec[];
}

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

function arityOk(arity: number, argc: number): boolean {
  return arity > 0 ? argc === arity : argc >= -arity;
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
 * table.resolve(["PING"]); // the ping spec
 * ```
 */
export class CommandTable {
  #commands = new Map<string, CommandSpec>();

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
    return this.#commands.get(name) ?? this.#commands.get(name.toLowerCase());
  }

  /** Every registered command, each once, in registration order. */
  *[Symbol.iterator](): IterableIterator<CommandSpec> {
    for (const [key, spec] of this.#commands) if (key === spec.name) yield spec;
  }

  /**
   * Finds the command a request names and checks its arity, as Redis does before running anything.
   *
   * @param args The request: command name and arguments.
   * @returns The command to run, or the error reply to send instead.
   */
  resolve(args: readonly string[]): CommandSpec | ErrorReply {
    let spec = this.get(args[0]);
    if (spec === undefined) return unknownCommand(args);
    if (spec.subcommands && args.length >= 2) {
      const wanted = `${spec.name}|${args[1].toLowerCase()}`;
      const sub = spec.subcommands.find((s) => s.name === wanted);
      if (sub === undefined) {
        return new ErrorReply(
          `ERR unknown subcommand '${cString(args[1], 128)}'. Try ${args[0].toUpperCase()} HELP.`,
        );
      }
      spec = sub;
    }
    if (!arityOk(spec.arity, args.length)) return wrongArity(spec.name);
    return spec;
  }
}
