/**
 * A server as an assembly of stages.
 *
 * Each lab's `server.ts` is a list: the previous lab's stages, then its own. A stage is one named
 * module with one job — listen, serve many clients, transactions, the secure channel, expiry, the
 * log — and it puts itself in place by registering what it adds: commands, a wrapper around the
 * command runner, a step before replies are written, a step at start or stop. Reading the list
 * answers "what does this lab add, and where does it run?":
 *
 * ```ts
 * export const lab2Stages = [
 *   ...lab1Stages,      // listen, lab 1's commands, serve one client
 *   serveMany,          // one task per client, with limits (replaces serve one client)
 *   lab2Commands,       // counters, MSET, KEYS, ...
 *   transactions,       // MULTI, EXEC, WATCH
 * ];
 * ```
 *
 * {@link runStages} installs them in order and then serves. A later stage may replace what an
 * earlier one put in place, as lab 2 replaces lab 1's one-client loop and lab 1's `SET`: the
 * command table works the same way, and the lesson of each lab is what it replaces.
 *
 * @module
 */

import { type ChangeCounter, Keyspace } from "../keyspace.ts";
import type { ServerCliOptions } from "./cli.ts";
import { type CommandSpec, CommandTable } from "./command_table.ts";
import type { ConnectionHooks, Execute } from "./hooks.ts";
import type { Peer } from "./peer.ts";
import { ServerState } from "./server_state.ts";
import type { Session } from "./session.ts";
import type { Transport } from "../transport.ts";

/**
 * One named piece of a server.
 *
 * @typeParam O The options of the lab whose command line turns it on.
 */
export interface Stage<O> {
  /** What the lessons call it: "serve many", "expiry", "the log". */
  readonly name: string;
  /** The module it lives in, for the lessons and for tools: `import.meta.url` of its file. */
  readonly module: string;
  /** Whether the options turn it on; always, if absent (lab 4's secure channel: `--secure`). */
  readonly when?: (options: O) => boolean;
  /**
   * The keyspace this stage needs the server to have, if it needs more than the plain one: one
   * that stores more about each key (lab 4's expiry times). A stage that only needs to hear of
   * changes (watches, a change count, a log) observes the keyspace instead (`db.observe()`). The
   * last stage that says wins. It makes each of the server's databases (`options.databases`, 1 if
   * absent), which share one change counter; every stage sees them as `assembly.server.databases`.
   */
  readonly keyspace?: (options: O, counter: ChangeCounter) => Keyspace;
  /**
   * The commands this stage adds, registered just before it is installed (a later one replaces an
   * earlier one of the same name, as lab 2's `SET` replaces lab 1's). Commands that need what
   * `install` builds (lab 3's `AUTH` needs its password) are registered there instead.
   */
  readonly commands?: readonly CommandSpec[];
  /**
   * Puts the stage in place. It may be async (lab 4 loads its data here); if it throws, the
   * server does not start, and the stop steps registered so far run. A stage that only adds
   * commands has none.
   */
  install?(assembly: Assembly<O>): void | Promise<void>;
}

/**
 * What the stages build together: the server's state and the hooks its loop calls. Each field
 * starts with lab 1's behaviour; a stage that changes it says so in its own module.
 *
 * @typeParam O The lab's options.
 */
export class Assembly<O> implements ConnectionHooks {
  /** The server's shared state: command table, keyspace, config, INFO. */
  readonly server: ServerState;
  /** The server's command table, for stages that register commands. */
  readonly commands: CommandTable;
  /** The lab's options, from its command line. */
  readonly options: O;
  /** Opens the listener (lab 3 with `--tls-cert`: a TLS listener). */
  listen: () => Deno.Listener;
  /**
   * The loop that serves clients on the listener until the server stops: lab 1 one client at a
   * time, lab 2 many. Set by a "serve" stage.
   */
  serve: ((listener: Deno.Listener) => Promise<void>) | undefined;
  /** Runs one command (lab 2: queued inside MULTI; lab 3: refused before AUTH). */
  execute: Execute | undefined;
  /** Turns an accepted connection into the transport commands run over (lab 3: a handshake). */
  upgrade: ((conn: Deno.Conn, peer: Peer) => Promise<Transport>) | undefined;
  /** Awaited before a batch's replies are written (lab 4: until its writes are logged). */
  beforeWrite: (() => Promise<void> | undefined) | undefined;
  /** A client's own reply limit, or `undefined` for the server's (lab 3: before AUTH). */
  outputLimit: ((session: Session) => number | undefined) | undefined;
  /** Called as each client starts, before its first command (lab 3: limits until AUTH). */
  onConnect: ((session: Session) => void) | undefined;
  /**
   * Whether clients must authenticate (lab 3's `--requirepass`): without a password, protected
   * mode turns away clients that are not on the loopback interface.
   */
  hasPassword: (() => boolean) | undefined;
  /** More lines for {@link ready} to print (lab 4: where the memcached port listens). */
  readonly readyLines: (() => string)[] = [];
  /**
   * Awaited in order once the listener is open, before the server says it is ready (lab 4 loads
   * its data here, and answers `-LOADING` meanwhile, as Redis does). If one throws, the server
   * does not start: `Cannot start: <why>`, exit code 1.
   */
  readonly load: (() => Promise<void> | void)[] = [];
  /** Called once the server is ready, loaded and listening (lab 4: active expiry). */
  readonly onServing: (() => void)[] = [];
  /** Awaited after the last client has gone, in reverse order of registration. */
  readonly #stopSteps: (() => Promise<void> | void)[] = [];
  readonly #parts = new Map<Part<unknown>, unknown>();
  /** Set once {@link stop} has begun: a load still running then gives up quietly. */
  #stopping = false;

  /**
   * Starts an assembly with an empty command table filled by the stages.
   *
   * @param server The server's state.
   * @param commands Its command table.
   * @param options The lab's options.
   */
  constructor(server: ServerState, commands: CommandTable, options: O & ServerCliOptions) {
    this.server = server;
    this.commands = commands;
    this.options = options;
    this.listen = () => Deno.listen({ hostname: options.host, port: options.port });
    this.serve = undefined;
    this.execute = undefined;
    this.upgrade = undefined;
    this.beforeWrite = undefined;
    this.outputLimit = undefined;
    this.onConnect = undefined;
    this.hasPassword = undefined;
  }

  /**
   * What the serve stage calls once the listener is open: runs the {@link load} steps while
   * clients are served, then tells whoever started the server that it is ready.
   *
   * @param address Where the server listens.
   */
  listening(address: { host: string; port: number }): void {
    void this.#loadThenReady(address);
  }

  async #loadThenReady(address: { host: string; port: number }): Promise<void> {
    try {
      for (const step of this.load) await step();
    } catch (error) {
      // Told to stop while loading: the stop steps have run, and that is not a failure.
      if (this.#stopping) return;
      await this.stop();
      cannotStart(error);
    }
    if (this.#stopping) return;
    this.ready(address);
    for (const start of this.onServing) start();
  }

  /**
   * Tells whoever started the server that it is ready: `listening on HOST:PORT` on stdout, the
   * line tools and tests wait for, then any lines stages added. Like Redis's "Ready to accept
   * connections", it comes once the data is loaded, though the listener opened before.
   *
   * @param address Where the server listens.
   */
  ready(address: { host: string; port: number }): void {
    console.log(`listening on ${address.host}:${address.port}`);
    for (const line of this.readyLines) console.log(line());
  }

  /**
   * Wraps the command runner: `wrap` receives the runner so far and returns the new one. Later
   * stages wrap outside earlier ones.
   *
   * @param wrap Builds the new runner from the old.
   */
  wrapExecute(wrap: (run: Execute) => Execute): void {
    const run = this.execute;
    if (run === undefined) throw new TypeError("No command runner to wrap: install a serve stage");
    this.execute = wrap(run);
  }

  /**
   * Registers a step to run after the last client has gone: close a file, stop a timer.
   *
   * @param step The step; they run in reverse order of registration.
   */
  onStop(step: () => Promise<void> | void): void {
    this.#stopSteps.push(step);
  }

  /**
   * Runs every stop step, last registered first. A step that fails is logged and the rest run.
   *
   * @returns `false` if a step failed.
   */
  async stop(): Promise<boolean> {
    this.#stopping = true;
    let ok = true;
    for (const step of this.#stopSteps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.error(error instanceof Error ? error.message : String(error));
        ok = false;
      }
    }
    return ok;
  }

  /**
   * Makes something a stage built available to later stages (lab 4's evictor, for the write
   * path and the memcached port).
   *
   * @param part Which part.
   * @param value The part itself.
   */
  provide<T>(part: Part<T>, value: T): void {
    this.#parts.set(part, value);
  }

  /**
   * Something an earlier stage provided.
   *
   * @param part Which part.
   * @returns It, or `undefined` if no stage in this assembly provides it.
   */
  find<T>(part: Part<T>): T | undefined {
    return this.#parts.get(part) as T | undefined;
  }

  /**
   * Something an earlier stage must have provided.
   *
   * @param part Which part.
   * @returns It.
   */
  need<T>(part: Part<T>): T {
    const value = this.find(part);
    if (value === undefined) {
      throw new TypeError(`The ${part.name} stage must come earlier in this lab's list`);
    }
    return value;
  }
}

/**
 * A name for something one stage builds and later stages use, typed so `need` returns it.
 *
 * @typeParam T What it is.
 */
export class Part<T> {
  /** Only here to tie the type parameter to the object. */
  declare readonly type: T;

  /**
   * Names a part.
   *
   * @param name The stage that provides it, for the error when it is missing.
   */
  constructor(readonly name: string) {}
}

/**
 * A stage that only adds commands: the shape of most of a lab's first stages.
 *
 * @param name What the lesson calls it.
 * @param module `import.meta.url` of the module that defines the commands.
 * @param commands The commands, registered in order (a later one replaces an earlier one of the
 *   same name, as lab 2's `SET` replaces lab 1's).
 * @returns The stage.
 */
export function commandStage<O>(
  name: string,
  module: string,
  commands: readonly CommandSpec[],
): Stage<O> {
  return { name, module, commands };
}

/**
 * The commands a lab's stages add, in a table of their own, without a server: for tools that run
 * commands themselves (the caching proxy, the race demo, benchmarks, tests).
 *
 * @param stages A lab's list; every stage counts, whatever its `when`.
 * @returns The table.
 */
export function commandTableOf<O>(stages: readonly Stage<O>[]): CommandTable {
  const table = new CommandTable();
  for (const stage of stages) table.registerAll(stage.commands ?? []);
  return table;
}

/**
 * The stages the options turn on, in order.
 *
 * @param stages A lab's list.
 * @param options Its options.
 * @returns The ones that run.
 */
function activeStages<O>(stages: readonly Stage<O>[], options: O): Stage<O>[] {
  return stages.filter((stage) => stage.when?.(options) ?? true);
}

/**
 * Builds a server from its stages: the keyspace the last stage asks for, an empty command table,
 * then each stage installed in order.
 *
 * @param stages The lab's list.
 * @param options The lab's options.
 * @returns The assembly, ready to serve.
 */
export async function assemble<O extends ServerCliOptions>(
  stages: readonly Stage<O>[],
  options: O,
): Promise<Assembly<O>> {
  const active = activeStages(stages, options);
  const keyspace = active.findLast((stage) => stage.keyspace !== undefined)?.keyspace;
  const commands = new CommandTable();
  const make = keyspace ?? ((_options: O, counter: ChangeCounter) => new Keyspace(counter));
  const counter: ChangeCounter = { changes: 0 };
  const databases = Array.from({ length: options.databases ?? 1 }, () => make(options, counter));
  const server = new ServerState({ commands, databases });
  const assembly = new Assembly(server, commands, options);
  try {
    for (const stage of active) {
      commands.registerAll(stage.commands ?? []);
      await stage.install?.(assembly);
    }
  } catch (error) {
    await assembly.stop();
    throw error;
  }
  return assembly;
}

/**
 * Runs a lab's server: assembles its stages, listens, serves until it is told to stop, then runs
 * the stop steps. A stage that cannot start (a corrupt snapshot, a missing certificate, a port in
 * use) ends the process with `Cannot start: <why>` and exit code 1.
 *
 * @param stages The lab's list.
 * @param options The lab's options.
 */
export async function runStages<O extends ServerCliOptions>(
  stages: readonly Stage<O>[],
  options: O,
): Promise<void> {
  let assembly: Assembly<O>;
  let listener: Deno.Listener;
  try {
    assembly = await assemble(stages, options);
  } catch (error) {
    cannotStart(error);
  }
  const serve = assembly.serve;
  if (serve === undefined) throw new TypeError("No serve stage in this lab's list");
  try {
    listener = assembly.listen();
  } catch (error) {
    await assembly.stop();
    cannotStart(error);
  }
  await serve(listener);
  if (!await assembly.stop()) Deno.exit(1);
}

function cannotStart(error: unknown): never {
  console.error(`Cannot start: ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}
