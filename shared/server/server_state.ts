/**
 * Everything about a running server that outlives a single connection: the keyspace, the command
 * table, the connected clients, configuration, statistics.
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { Keyspace } from "../keyspace.ts";
import { type DecoderLimits, withDefaults } from "../resp/limits.ts";
import type { CommandTable } from "./command_table.ts";
import { ConfigRegistry } from "./config.ts";
import { InfoRegistry } from "./info.ts";
import type { ClientState } from "./session.ts";

/** The version this server reports as `redis_version`: the Redis whose replies it reproduces. */
export const REDIS_COMPAT_VERSION = "7.0.0";

/** This project's own version. */
export const CACHELAB_VERSION = "0.1.0";

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
  commands: CommandTable;
  /** The keyspace; a new empty one by default. */
  db?: Keyspace;
  /** Protocol limits; Redis's defaults if omitted. */
  limits?: Partial<DecoderLimits>;
  /** Where log lines go; stderr by default. */
  log?: (message: string) => void;
}

/** One running server's shared state. */
export class ServerState {
  /** The commands this server understands. */
  readonly commands: CommandTable;
  /** The keyspace. */
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
  /** When the server started, in milliseconds since the epoch. */
  readonly startedAt = Date.now();
  /** The address the server listens on, once it does. */
  address: { host: string; port: number } = { host: "", port: 0 };
  /** Writes one line to the server's log. */
  readonly log: (message: string) => void;
  #nextClientId = 1;
  #statResets: (() => void)[] = [];

  /**
   * Creates the state of a server that has not started listening yet.
   *
   * @param options The commands, and optionally keyspace, limits and logger.
   */
  constructor(options: ServerStateOptions) {
    this.commands = options.commands;
    this.db = options.db ?? new Keyspace();
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
      .define("databases", () => "1")
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
      .define(
        "Keyspace",
        () => this.db.size > 0 ? [["db0", `keys=${this.db.size},expires=0,avg_ttl=0`]] : [],
      );
  }
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
