/**
 * Everything about a running server that outlives a single connection: the keyspace, the command
 * table, the connected clients, configuration, statistics.
 *
 * It also declares the types that refer back to the server: {@link Session}, what a handler
 * receives, and {@link CommandSpec}, how a command and its handler are described. Labs import them
 * from `session.ts` and `command_table.ts`, which re-export them.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { Keyspace } from "../keyspace.ts";
import { type DecoderLimits, withDefaults } from "../resp/limits.ts";
import { CommandStats } from "./command_stats.ts";
import { ConfigRegistry } from "./config.ts";
import { InfoRegistry } from "./info.ts";
import type { ClientState } from "./client_state.ts";
import type { Reply } from "../resp/reply.ts";

/** The version this server reports as `redis_version`: the Redis whose replies it reproduces. */
export const REDIS_COMPAT_VERSION = "7.0.0";

/** This project's own version. */
export const CACHELAB_VERSION = "0.1.0";

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

/** The context every command handler receives. */
export interface Session {
  /**
   * The database the command reads and writes: the one the client chose with `SELECT`
   * (`client.database` is its number), database 0 until then.
   */
  db: Keyspace;
  /** The client that sent the command. */
  readonly client: ClientState;
  /** The server: its configuration, statistics, other clients. */
  readonly server: ServerState;
  /**
   * The switch for Redis's tighter limits before `AUTH`, on the decoder the client's commands come
   * from (absent when they do not come from a socket). Only the switch, not the decoder: what runs
   * a command should not depend on how the bytes before it were held.
   */
  readonly requestLimits?: RequestLimits;
}

/**
 * What a command may change about how its client's next commands are decoded: whether Redis's
 * limits for a client that has not authenticated apply (lab 2's `RequestDecoder.unauthenticated`).
 */
export interface RequestLimits {
  /** While `true`, arrays and bulk strings are held to the pre-`AUTH` limits. */
  unauthenticated: boolean;
}

/**
 * What the server needs of its command table; `CommandTable` in `command_table.ts` is the
 * implementation. Declared here, with {@link Session} and {@link CommandSpec}, because the three
 * refer to each other: a handler receives a session, the session points at the server, and the
 * server holds the table of handlers. Keeping them in one module keeps the import graph acyclic.
 */
export interface CommandRegistry {
  /**
   * Adds a command, or replaces one of the same name.
   *
   * @param spec The command.
   * @returns The registry, for chaining.
   */
  register(spec: CommandSpec): this;
  /**
   * Registers several commands.
   *
   * @param specs The commands.
   * @returns The registry, for chaining.
   */
  registerAll(specs: Iterable<CommandSpec>): this;
  /**
   * Finds a command by name, in any case.
   *
   * @param name The name as a client spelt it.
   * @returns The command, or `undefined`.
   */
  get(name: string): CommandSpec | undefined;
  /** Every registered command, each once, in registration order. */
  [Symbol.iterator](): IterableIterator<CommandSpec>;
}

/** Counters an operator reads in `INFO stats`. */
export interface ServerStats {
  /** Connections accepted since start. */
  connectionsReceived: number;
  /** Commands run since start. */
  commandsProcessed: number;
  /** Connections refused because the server was full. */
  rejectedConnections: number;
}

/** Options for {@link ServerState}. */
export interface ServerStateOptions {
  /** The commands this server understands. */
  commands: CommandRegistry;
  /**
   * The databases, numbered from 0; all of one class, sharing one change counter (see
   * `Keyspace`'s constructor). One new empty keyspace by default.
   */
  databases?: readonly Keyspace[];
  /** Protocol limits; Redis's defaults if omitted. */
  limits?: Partial<DecoderLimits>;
  /** Where log lines go; stderr by default. */
  log?: (message: string) => void;
}

/** One running server's shared state. */
export class ServerState {
  /** The commands this server understands. */
  readonly commands: CommandRegistry;
  /** The databases `SELECT` chooses from, numbered from 0 (Redis's `databases`). */
  readonly databases: readonly Keyspace[];
  /** Database 0, where every client starts. */
  readonly db: Keyspace;
  /** Protocol limits every connection's decoder enforces. */
  readonly limits: DecoderLimits;
  /** Connected clients by id. */
  readonly clients = new Map<number, ClientState>();
  /** Parameters for `CONFIG GET`. */
  readonly config = new ConfigRegistry();
  /** Sections for `INFO`. */
  readonly info = new InfoRegistry();
  /** Counters for `INFO stats`. */
  readonly stats: ServerStats = {
    connectionsReceived: 0,
    commandsProcessed: 0,
    rejectedConnections: 0,
  };
  /** Per-command and per-error counters for `INFO commandstats` and `INFO errorstats`. */
  readonly commandStats = new CommandStats();
  /** When the server started, in milliseconds since the epoch. */
  readonly startedAt: number = Date.now();
  /** The address the server listens on, once it does. */
  address: { host: string; port: number } = { host: "", port: 0 };
  /** Writes one line to the server's log. */
  readonly log: (message: string) => void;
  #nextClientId = 1;
  #statResets: (() => void)[] = [];

  /**
   * Creates the state of a server that has not started listening yet.
   *
   * @param options The commands, and optionally databases, limits and logger.
   */
  constructor(options: ServerStateOptions) {
    this.commands = options.commands;
    this.databases = options.databases?.length ? options.databases : [new Keyspace()];
    this.db = this.databases[0];
    // CONFIG GET and APPEND read these too: they must be what the decoder enforces.
    this.limits = withDefaults(options.limits);
    this.log = options.log ?? logToStderr;
    this.#defineBasics();
  }

  /**
   * Zeroes the counters `INFO stats` reports (`CONFIG RESETSTAT`), here and in every part that
   * registered its own with {@link onResetStats}.
   */
  resetStats(): void {
    this.stats.connectionsReceived = 0;
    this.stats.commandsProcessed = 0;
    this.stats.rejectedConnections = 0;
    this.commandStats.reset();
    for (const reset of this.#statResets) reset();
  }

  /**
   * Registers more counters for {@link resetStats} to zero (lab 4's expired and evicted keys).
   *
   * @param reset Zeroes them.
   */
  onResetStats(reset: () => void): void {
    this.#statResets.push(reset);
  }

  /**
   * Closes another client's connection (`CLIENT KILL`). The server loop that owns the connections
   * sets this; until one does, no client can be killed.
   *
   * @returns Whether a connection with that id was open.
   */
  killClient: (id: number) => boolean = () => false;

  /** Hands out client ids: 1, 2, 3... never reused while the server runs. */
  nextClientId(): number {
    return this.#nextClientId++;
  }

  #defineBasics(): void {
    const seconds = () => Math.floor((Date.now() - this.startedAt) / 1000);
    this.config
      .define("bind", () => this.address.host)
      .define("port", () => String(this.address.port))
      .define("save", () => "")
      .define("appendonly", () => "no")
      .define("databases", () => String(this.databases.length))
      // No memory limit until lab 4 adds one (and redefines these): Redis's defaults, which
      // clients such as redis-benchmark read to decide what to warn about.
      .define("maxmemory", () => "0")
      .define("maxmemory-policy", () => "noeviction")
      .define("proto-max-bulk-len", () => String(this.limits.maxBulkLength));
    this.info
      .define("Server", () => [
        ["redis_version", REDIS_COMPAT_VERSION],
        ["cachelab_version", CACHELAB_VERSION],
        ["redis_mode", "standalone"],
        ["os", `${Deno.build.os} ${Deno.build.arch}`],
        ["arch_bits", 64],
        ["runtime", `deno ${Deno.version.deno}`],
        ["process_id", Deno.pid],
        ["tcp_port", this.address.port],
        ["uptime_in_seconds", seconds()],
        ["uptime_in_days", Math.floor(seconds() / 86400)],
      ])
      .define("Clients", () => [["connected_clients", this.clients.size]])
      .define("Memory", () => {
        const m = Deno.memoryUsage();
        return [
          ["used_memory", m.heapUsed + m.external],
          ["used_memory_rss", m.rss],
        ];
      })
      .define("Persistence", () => [["loading", 0]])
      .define("Stats", () => [
        ["total_connections_received", this.stats.connectionsReceived],
        ["total_commands_processed", this.stats.commandsProcessed],
        ["rejected_connections", this.stats.rejectedConnections],
        ["total_error_replies", this.commandStats.totalErrorReplies],
      ])
      .define("Replication", () => [["role", "master"], ["connected_slaves", 0]])
      .define("CPU", () => {
        // The whole process's CPU time in seconds, as Redis reports it: a benchmark reads it
        // before and after a run to learn what each request cost, whatever else the machine did.
        const { user, system } = cpuUsage();
        return [
          ["used_cpu_sys", (system / 1e6).toFixed(6)],
          ["used_cpu_user", (user / 1e6).toFixed(6)],
        ];
      })
      .define("Commandstats", () => {
        // Asking is what turns timing on: until then no command pays for a clock (see CommandStats).
        this.commandStats.timing = true;
        return this.commandStats.commandFields();
      }, { inDefault: false })
      .define("Errorstats", () => this.commandStats.errorFields())
      .define("Keyspace", () => keyspaceLines(this.databases, () => "expires=0,avg_ttl=0"));
  }
}

/**
 * `INFO keyspace`: a line for each database that has keys, as Redis writes
 * `db0:keys=2,expires=1,avg_ttl=9000`.
 *
 * @param databases The server's databases.
 * @param expiry What the line says of expiry times for a database, given it and its number; a
 *   lab with none says 0.
 * @returns The section's fields.
 */
export function keyspaceLines<K extends Keyspace>(
  databases: readonly K[],
  expiry: (db: K, index: number) => string,
): [string, string][] {
  const lines: [string, string][] = [];
  databases.forEach((db, i) => {
    if (db.size > 0) lines.push([`db${i}`, `keys=${db.size},${expiry(db, i)}`]);
  });
  return lines;
}

/**
 * The default log: one line on stderr with a timestamp, as Redis writes
 * `12:M 22 Nov 2026 07:05:24.123 * Ready to accept connections`.
 *
 * @param message The line.
 */
export function logToStderr(message: string): void {
  console.error(`${new Date().toISOString()} ${message}`);
}
