/**
 * A race on one thread: a command that awaits between its read and its write loses updates when
 * clients use it at the same time — and the lab's {@link Mutex} stops it.
 *
 * Lab 2's own `INCR` cannot lose an update. Its handler reads the counter, adds one and stores it
 * without a single `await`, and JavaScript never interrupts a function between two statements: the
 * event loop switches to another client's task only where the running code awaits. So from the
 * first line of `INCR` to its last, no other command runs. Python threads give no such promise —
 * the interpreter can switch threads between any two bytecodes — which is why the Python projects
 * this course is modelled on need `threading.Lock` around every use of the store.
 *
 * Real code does await in the middle, though: it asks another service before writing (a quota,
 * a price, a fraud check), it reads a file, it logs to disk. This module adds one such command to
 * a copy of lab 2's server:
 *
 * ```
 * SLOWINCR key    read the counter → await service.call() → write counter + 1
 * ```
 *
 * While one client's `SLOWINCR` is parked at that `await`, another client's `SLOWINCR` runs, reads
 * the same old value, and both write back the same new value: one increment is lost. Started with
 * `lock: true`, the handler holds the lab's `Mutex` from before the read until after the write, so
 * the second client's command waits for the first to finish.
 *
 * The server here is lab 2's, unchanged: its command table and `serveClient()` connection loop,
 * with one extra command and an accept loop that a test or the demo can stop. It speaks to real
 * TCP clients.
 *
 * @module
 */

import { RedisClient } from "../../../shared/client/client.ts";
import { noDelay } from "../../../shared/no_delay.ts";
import { ErrorReply, type Reply } from "../../../shared/resp/reply.ts";
import type { CommandSpec } from "../../../shared/server/command_table.ts";
import { formatAddr } from "../../01-single-client/connection.ts";
import { ServerState } from "../../../shared/server/server_state.ts";
import type { Session } from "../../../shared/server/session.ts";
import type { Transport } from "../../../shared/transport.ts";
import { serveClient } from "../connection.ts";
import { addInt64, parseInt64 } from "../integers.ts";
import { Mutex } from "../lock.ts";
import { lab2CommandTable } from "../server.ts";

/** The other service `SLOWINCR` consults between reading the counter and writing it. */
export interface SlowService {
  /**
   * Told the moment a request reaches the handler, before it waits for the lock: lets a test know
   * that a client's command is in the server, even while it queues for the lock.
   */
  arrived?(key: string): void;
  /** The slow call: a network round trip in real life, a gate the test controls in tests. */
  call(key: string): Promise<void>;
}

/**
 * A service that takes `ms` milliseconds to answer, like a call over the network.
 *
 * @param ms The delay; 0 still yields to the event loop (a timer, not a microtask).
 * @returns The service.
 */
export function delayService(ms: number): SlowService {
  return { call: () => new Promise((resolve) => setTimeout(resolve, ms)) };
}

/**
 * A service whose calls all wait until `expected` requests have arrived, then answer at once.
 *
 * That is how the tests build the losing interleaving on purpose instead of hoping for it.
 * Without the lock, every request reads the counter and then waits at the gate, so all of them
 * have read before any writes. With the lock, only the holder reaches the gate; the others have
 * arrived (and opened it) but wait for the lock, so each reads after the previous one wrote.
 */
export class ArrivalGate implements SlowService {
  readonly #expected: number;
  #arrivals = 0;
  #open: () => void = () => {};
  readonly #opened: Promise<void>;
  #watchers: { count: number; wake: () => void }[] = [];

  /**
   * Makes a gate that opens once enough requests wait at it.
   *
   * @param expected How many requests must arrive before any call returns.
   */
  constructor(expected: number) {
    this.#expected = expected;
    this.#opened = new Promise((resolve) => this.#open = resolve);
  }

  /** How many requests have arrived so far. */
  get arrivals(): number {
    return this.#arrivals;
  }

  /** Counts a request in, opening the gate when the last expected one arrives. */
  arrived(): void {
    this.#arrivals++;
    if (this.#arrivals >= this.#expected) this.#open();
    this.#watchers = this.#watchers.filter(({ count, wake }) => {
      if (this.#arrivals < count) return true;
      wake();
      return false;
    });
  }

  /** Resolves once the gate is open. */
  call(): Promise<void> {
    return this.#opened;
  }

  /**
   * Resolves once `count` requests have arrived, so a test can send the next client's command
   * only after the previous one is known to be in the server.
   *
   * @param count How many arrivals to wait for.
   */
  whenArrived(count: number): Promise<void> {
    if (this.#arrivals >= count) return Promise.resolve();
    return new Promise((wake) => this.#watchers.push({ count, wake }));
  }
}

/**
 * Builds `SLOWINCR key`: `INCR` with an `await` between the read and the write.
 *
 * @param service What the command awaits in the middle.
 * @param mutex If given, held from before the read until after the write.
 * @returns The command, ready to register.
 */
export function slowIncrCommand(service: SlowService, mutex?: Mutex): CommandSpec {
  const readAwaitWrite = async ({ db }: Session, key: string): Promise<Reply> => {
    const current = db.get(key);
    const value = current === undefined ? 0 : parseInt64(current);
    if (value === null) return new ErrorReply("ERR value is not an integer or out of range");
    // The await that makes this racy: other clients' commands run while we are parked here,
    // and `value` may be stale by the time we come back.
    await service.call(key);
    const sum = addInt64(value, 1);
    if (sum === null) return new ErrorReply("ERR increment or decrement would overflow");
    db.update(key, String(sum));
    return sum;
  };
  return {
    name: "slowincr",
    arity: 2,
    // no-multi: its handler awaits, so EXEC could not run it without letting others in between.
    flags: ["write", "no-multi"],
    group: "string",
    summary: "Increments a counter, consulting a slow service between the read and the write",
    keys: { first: 1, last: 1, step: 1 },
    handler: (session, args) => {
      service.arrived?.(args[1]);
      // One lock for the whole keyspace, as the Python projects' `threading.Lock` is. A lock per
      // key would let different counters proceed in parallel; see README.md, "Going further".
      return mutex === undefined
        ? readAwaitWrite(session, args[1])
        : mutex.runExclusive(() => readAwaitWrite(session, args[1]));
    },
  };
}

/** Options for {@link startRaceServer}. */
export interface RaceServerOptions {
  /** Whether `SLOWINCR` holds the lab's Mutex across its read-await-write. */
  lock: boolean;
  /** What `SLOWINCR` awaits in the middle. */
  service: SlowService;
  /** Where log lines go; nowhere by default, to keep test and demo output clean. */
  log?: (line: string) => void;
}

/** A running race server. Use it with `await using` so it stops however the block ends. */
export interface RaceServer extends AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  readonly addr: string;
  /** The port it chose. */
  readonly port: number;
  /** The Mutex `SLOWINCR` takes, when started with `lock: true`. */
  readonly mutex: Mutex | undefined;
  /** Closes the listener and every connection, and waits for their tasks to end. */
  close(): Promise<void>;
}

/**
 * Starts lab 2's server with `SLOWINCR` added, in this process, on a free port of 127.0.0.1. In
 * this process so that a test can hand the command its {@link SlowService}.
 *
 * @param options With or without the lock, and the service the command awaits.
 * @returns The running server.
 */
export function startRaceServer(options: RaceServerOptions): RaceServer {
  const mutex = options.lock ? new Mutex() : undefined;
  const commands = lab2CommandTable().register(slowIncrCommand(options.service, mutex));
  const server = new ServerState({
    commands,
    log: options.log ?? (() => {}),
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  server.address = { host: listener.addr.hostname, port: listener.addr.port };
  const open = new Map<number, Transport>();
  const tasks = new Set<Promise<void>>();

  // Lab 2's accept loop in miniature: start each client's task, do not await it.
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = noDelay(await listener.accept());
      } catch {
        return; // the listener was closed
      }
      const peer = { remote: formatAddr(conn.remoteAddr), local: formatAddr(conn.localAddr) };
      const task = serveClient(server, conn, peer, { maxOutputBuffer: 64 * 1024 * 1024, open });
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })();

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      listener.close();
      await accepting;
      for (const transport of open.values()) {
        try {
          transport.close();
        } catch {
          // the client left in the meantime
        }
      }
      await Promise.allSettled(tasks);
    })();
    return closing;
  };
  return {
    addr: `127.0.0.1:${listener.addr.port}`,
    port: listener.addr.port,
    mutex,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** What one {@link runSocketRace} measured. */
export interface SocketRaceResult {
  /** Whether `SLOWINCR` held the lock. */
  lock: boolean;
  /** How many TCP clients. */
  clients: number;
  /** `SLOWINCR` commands per client, each sent after the previous reply. */
  requests: number;
  /** `clients × requests`: what the counter should read. */
  expected: number;
  /** What it does read. */
  got: number;
  /** `expected - got`. */
  lost: number;
  /** Wall-clock time for all the requests, in milliseconds. */
  ms: number;
}

/**
 * The demo: starts a race server, connects `clients` real TCP clients, and has each send
 * `requests` `SLOWINCR`s one after another, all clients at once.
 *
 * @param options With or without the lock, how many clients and requests, and how slow the
 *   service is.
 * @returns Expected and actual counts, and the time taken.
 */
export async function runSocketRace(
  options: { lock: boolean; clients: number; requests: number; delayMs: number },
): Promise<SocketRaceResult> {
  const { lock, clients, requests } = options;
  await using server = startRaceServer({ lock, service: delayService(options.delayMs) });
  const connections = await Promise.all(
    Array.from({ length: clients }, () => RedisClient.connect(server.addr)),
  );
  try {
    const start = performance.now();
    await Promise.all(connections.map(async (client) => {
      for (let i = 0; i < requests; i++) {
        const reply = await client.send("SLOWINCR", "counter");
        if (typeof reply !== "number") throw new Error(`SLOWINCR replied ${String(reply)}`);
      }
    }));
    const ms = performance.now() - start;
    const got = Number(await connections[0].send("GET", "counter"));
    const expected = clients * requests;
    return { lock, clients, requests, expected, got, lost: expected - got, ms };
  } finally {
    await Promise.all(connections.map((client) => client.close()));
  }
}
