/**
 * Runs what the user typed: split a line into arguments, send the command, print the reply.
 *
 * One-shot mode, piped input and the interactive prompt all go through a {@link CommandRunner},
 * so a command behaves the same in each. It also owns the connection and, like `redis-cli`, keeps
 * going when the server goes away: the prompt turns into `not connected> ` and the next command
 * tries to connect again, so a student can restart the server without restarting the client.
 *
 * @module
 */

import { byteStringToBytes, utf8ToBytes } from "../resp/bytes.ts";
import { ErrorReply, type Reply } from "../resp/reply.ts";
import { splitArgs } from "../resp/split_args.ts";
import type { RedisClient } from "./client.ts";
import { type OutputMode, renderReply } from "./output.ts";

/** Where to connect; both parts are known by the time the command line has been parsed. */
export interface Endpoint {
  /** Host name or IP address, as the user gave it. */
  host: string;
  /** TCP port. */
  port: number;
}

/**
 * Opens a connection for the command-line client. The default is `RedisClient.connect`; lab 3
 * passes one that runs its handshake first.
 */
export type ConnectFunction = (endpoint: Endpoint) => Promise<RedisClient>;

/** What a {@link CommandRunner} needs. */
export interface RunnerOptions extends Endpoint {
  /** Opens the connection. */
  connect: ConnectFunction;
  /** How replies are printed. */
  mode: OutputMode;
  /** Writes bytes to standard output. */
  write(bytes: Uint8Array): void;
  /** Writes one line of diagnostics to standard error. */
  warn(line: string): void;
  /**
   * Picks out connection failures that must not be retried (lab 3: a server key that changed).
   * {@link CommandRunner.connect} prints them like any other, then throws them instead of
   * returning `false`.
   */
  fatal?: (error: unknown) => boolean;
}

/**
 * Turns a network error into the short reason `redis-cli` shows: Deno's messages end with the
 * operating system's error number, `Connection refused (os error 111)`, which tells a user nothing.
 */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ \(os error \d+\)$/, "");
}

/**
 * Runs commands for the command-line client and prints their replies.
 *
 * @example
 * ```ts
 * await using runner = new CommandRunner({
 *   host: "127.0.0.1",
 *   port: 6379,
 *   connect: (endpoint) => RedisClient.connect(endpoint),
 *   mode: "tty",
 *   write: (bytes) => Deno.stdout.writeSync(bytes),
 *   warn: (line) => console.error(line),
 * });
 * await runner.runLine("SET greeting hello"); // prints OK
 * ```
 */
export class CommandRunner implements AsyncDisposable {
  #options: RunnerOptions;
  #client: RedisClient | undefined;
  #failed = 0;
  #errorReplies = 0;
  #interrupted = false;

  /**
   * Creates a runner; it connects when {@link connect} or the first command asks it to.
   *
   * @param options Where to connect and where to print.
   */
  constructor(options: RunnerOptions) {
    this.#options = options;
  }

  /** The prompt, exactly as `redis-cli` shows it: `127.0.0.1:6379> ` or `not connected> `. */
  get prompt(): string {
    const { host, port } = this.#options;
    return this.#client && !this.#client.closed ? `${host}:${port}> ` : "not connected> ";
  }

  /** How many commands could not be run because there was no connection or it broke. */
  get failed(): number {
    return this.#failed;
  }

  /** How many commands got an error reply. */
  get errorReplies(): number {
    return this.#errorReplies;
  }

  /**
   * Connects, unless a live connection is already open. On failure, prints why, as `redis-cli`
   * does: `Could not connect to Redis at 127.0.0.1:6379: Connection refused`.
   *
   * @returns `true` if connected.
   * @throws The connection error itself, if `fatal` says it is one.
   */
  async connect(): Promise<boolean> {
    if (this.#client && !this.#client.closed) return true;
    // A connection the server has closed since the last command is simply replaced.
    await this.#client?.close();
    this.#client = undefined;
    const { host, port } = this.#options;
    try {
      this.#client = await this.#options.connect({ host, port });
      return true;
    } catch (error) {
      this.#options.warn(`Could not connect to Redis at ${host}:${port}: ${reason(error)}`);
      if (this.#options.fatal?.(error)) throw error;
      return false;
    }
  }

  /**
   * Runs one typed line: splits it as `redis-cli` does, then runs it. A blank line does nothing;
   * unbalanced quotes print `Invalid argument(s)` and send nothing.
   *
   * @param line The line as a byte string (use `utf8ToByteString` on text from a terminal).
   * @returns `false` when the line was `quit` or `exit`, which leave the client without sending
   *   anything; `true` otherwise.
   */
  async runLine(line: string): Promise<boolean> {
    const args = splitArgs(line);
    if (args === null) {
      // JSON output must stay one object per line, so there the complaint goes to stderr.
      if (this.#options.mode === "json") this.#options.warn("Invalid argument(s)");
      else this.#options.write(utf8ToBytes("Invalid argument(s)\n"));
      return true;
    }
    if (args.length === 0) return true;
    const name = args[0].toLowerCase();
    if (name === "quit" || name === "exit") return false;
    await this.run(args);
    return true;
  }

  /**
   * Sends one command, connecting first if need be, and prints its reply.
   *
   * A command whose connection breaks is not sent again: it may have run already (think of
   * `INCR`), so the user decides. The next command reconnects.
   *
   * @param args The command and its arguments, as byte strings.
   */
  async run(args: readonly string[]): Promise<void> {
    if (!await this.connect() || this.#client === undefined) {
      this.#failed++;
      return;
    }
    const client = this.#client;
    let reply: Reply;
    try {
      reply = await client.send(...args.map(byteStringToBytes));
    } catch (error) {
      this.#failed++;
      if (!this.#interrupted) this.#options.warn(`Error: ${reason(error)}`);
      await client.close();
      return;
    }
    if (reply instanceof ErrorReply) this.#errorReplies++;
    this.#options.write(renderReply(this.#options.mode, args, reply));
  }

  /**
   * Abandons the command in flight (Ctrl-C at the prompt): closes the connection, which rejects
   * the command quietly instead of leaving the user waiting on a server that does not answer.
   */
  interrupt(): void {
    this.#interrupted = true;
    this.#client?.close();
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#client?.close();
    this.#client = undefined;
  }

  /** Closes the connection at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
