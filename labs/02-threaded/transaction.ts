/**
 * Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, with Redis's semantics.
 *
 * `MULTI` starts queueing: every later command is checked (does it exist? right arity?) and
 * answered `+QUEUED` instead of being run. `EXEC` runs the whole queue in one go and replies with an
 * array of the replies. Because `EXEC` runs the queue without an `await`, no other client's command
 * can land in the middle: that is the isolation Redis promises, and on a single-threaded event
 * loop it costs nothing.
 *
 * `WATCH` adds optimistic locking: if any watched key was modified by anyone (this client
 * included) between `WATCH` and `EXEC`, `EXEC` runs nothing and replies with the null array `*-1`.
 * The client reads again and retries. The keyspace does the noticing, and tells a table of
 * watches that observes it; see `watches.ts`.
 *
 * ```
 * WATCH balance        +OK
 * GET balance          $2 10
 * MULTI                +OK
 * SET balance 9        +QUEUED
 * EXEC                 *1 +OK      or *-1 if someone changed balance since WATCH
 * ```
 *
 * @module
 */

import { ErrorReply, NULL_ARRAY, OK, type Reply, SimpleString } from "../../shared/resp/reply.ts";
import type { CommandSpec } from "../../shared/server/command_table.ts";
import { execute, resolveCommand } from "../01-single-client/connection.ts";
import type { Keyspace } from "../../shared/keyspace.ts";
import type { ClientState, Session } from "../../shared/server/session.ts";
import type { Stage } from "../../shared/server/stage.ts";
import { selectDatabase } from "./databases.ts";
import { type Watcher, Watches } from "./watches.ts";

const QUEUED = new SimpleString("QUEUED");
const NOT_IN_MULTI = new ErrorReply("ERR Command not allowed inside a transaction");
const RESET = new SimpleString("RESET");

/** One client's transaction state. */
export class Transaction implements Watcher {
  /** The queued commands while inside `MULTI`; `null` outside it. */
  queue: string[][] | null = null;
  /** A queued command was refused (unknown, wrong arity): `EXEC` must abort. */
  failed = false;
  /** A watched key was modified since `WATCH`: `EXEC` must reply `*-1`. Set by the keyspace. */
  dirty = false;
  /**
   * The keys this client watches, by the table of watches of their database: `WATCH k` in
   * database 1 watches database 1's `k`, whatever the client selects before `EXEC`.
   */
  readonly watched = new Map<Watches, Set<string>>();
}

/**
 * Each client's transaction, kept beside the client rather than in the shared `ClientState`:
 * transactions are lab 2's concept, and a `WeakMap` lets a departed client's entry go with it.
 */
const byClient = new WeakMap<ClientState, Transaction>();

/**
 * How many clients have a transaction in {@link byClient}: those still connected that have sent a
 * transaction command (`MULTI`, `WATCH`, ...). While there are none, no command can be one to queue,
 * and {@link dispatch} and {@link inMulti} skip the `WeakMap` lookup, which a pipelined `SET`
 * measured (`bench/README.md`).
 */
let clientsWithTransaction = 0;

function transactionOf(client: ClientState): Transaction {
  let tx = byClient.get(client);
  if (tx === undefined) {
    byClient.set(client, tx = new Transaction());
    clientsWithTransaction++;
  }
  return tx;
}

/**
 * Each database's table of watches, kept beside the database for the same reason. It starts
 * observing the database at the first `WATCH` of one of its keys.
 */
const byDatabase = new WeakMap<Keyspace, Watches>();

/**
 * The table of watches of a database, made on first use.
 *
 * @param db One of the server's databases.
 * @returns Its table; a later lab adjusts it (lab 4 sets {@link Watches.settle}).
 */
export function watchesOf(db: Keyspace): Watches {
  let watches = byDatabase.get(db);
  if (watches === undefined) byDatabase.set(db, watches = new Watches(db));
  return watches;
}

function unwatchAll(tx: Transaction): void {
  for (const [watches, keys] of tx.watched) {
    for (const key of keys) watches.unwatch(key, tx);
  }
  tx.watched.clear();
  tx.dirty = false;
}

/** Leaves `MULTI` and forgets every watch: after EXEC, DISCARD, or an aborted EXEC. */
function reset(tx: Transaction): void {
  tx.queue = null;
  tx.failed = false;
  unwatchAll(tx);
}

/**
 * Forgets a client's transaction and watches; the connection calls it when the client leaves, so
 * the keyspace does not keep marking a gone client dirty, and its entry leaves {@link byClient}.
 *
 * @param session The departing client's session.
 */
export function endTransaction(session: Session): void {
  const tx = byClient.get(session.client);
  if (tx === undefined) return;
  reset(tx);
  byClient.delete(session.client);
  clientsWithTransaction--;
}

/**
 * Whether a client is inside `MULTI`, its commands being queued.
 *
 * @param session The client.
 * @returns `true` between `MULTI` and `EXEC` or `DISCARD`.
 */
export function inMulti(session: Session): boolean {
  if (clientsWithTransaction === 0) return false;
  return (byClient.get(session.client)?.queue ?? null) !== null;
}

/**
 * The commands a client has queued since `MULTI`, for a check that must look at all of them
 * before `EXEC` runs any (lab 4: is one of them refused when memory is full?).
 *
 * @param session The client.
 * @returns The queue; empty outside `MULTI`.
 */
export function queuedCommands(session: Session): readonly string[][] {
  return byClient.get(session.client)?.queue ?? [];
}

/**
 * Refuses a command while queueing, for a reason a later lab decides (lab 4: memory is full):
 * the client gets `reply`, and `EXEC` will abort the transaction, as Redis's `flagTransaction()`.
 *
 * @param session The client, inside `MULTI`.
 * @param reply The error to answer.
 * @returns `reply`.
 */
export function refuseQueued(session: Session, reply: ErrorReply): ErrorReply {
  const tx = transactionOf(session.client);
  if (tx.queue !== null) tx.failed = true;
  return reply;
}

/**
 * Discards a transaction at `EXEC` for a reason found only then (lab 4: memory is full now),
 * with Redis's `-EXECABORT Transaction discarded because of: <reason>`.
 *
 * @param session The client, inside `MULTI`.
 * @param reason The error that stops it, such as the OOM error.
 * @returns The reply for `EXEC`.
 */
export function abortExec(session: Session, reason: ErrorReply): ErrorReply {
  reset(transactionOf(session.client));
  return new ErrorReply(`EXECABORT Transaction discarded because of: ${reason.message}`);
}

/** Commands that run at once even inside MULTI: those that control the transaction itself. */
const RUN_IMMEDIATELY = new Set(["multi", "exec", "discard", "watch", "quit", "reset"]);

/**
 * Runs one command for a client, or queues it if the client is inside `MULTI`. The connection calls
 * this instead of `execute()`.
 *
 * @param session The client and server.
 * @param args The command and its arguments.
 * @returns The reply (`+QUEUED` for a queued command), or a promise of it.
 */
export function dispatch(session: Session, args: string[]): Reply | Promise<Reply> {
  // The hot path: not in a transaction, so this is exactly lab 1's execute().
  if (clientsWithTransaction === 0) return execute(session, args);
  const tx = byClient.get(session.client);
  if (tx === undefined || tx.queue === null) return execute(session, args);

  const { server, client } = session;
  const spec = resolveCommand(server.commands, args);
  if (spec instanceof ErrorReply) {
    // A command that cannot even be queued poisons the transaction: EXEC will abort it, so the
    // client never runs half of what it meant to run.
    server.stats.commandsProcessed++;
    server.commandStats.reject(server.commands, args);
    client.lastInteraction = Date.now();
    tx.failed = true;
    return spec;
  }
  if (RUN_IMMEDIATELY.has(spec.name)) return execute(session, args);
  if (spec.flags.includes("no-multi")) {
    // A handler that awaits would let other clients run in the middle of EXEC, so, as Redis does
    // for its own NO_MULTI commands, refuse it now and abort the transaction.
    tx.failed = true;
    server.commandStats.of(spec).rejected++;
    return NOT_IN_MULTI;
  }
  client.lastInteraction = Date.now();
  tx.queue.push(args);
  return QUEUED;
}

/** `EXEC`: run the queue, unless it was poisoned or a watched key changed. */
// exercise step 6: run the queued commands and reply with an array of their replies
function exec(session: Session, args: string[]): Reply {
  const tx = transactionOf(session.client);
  // EXEC's arity is -1 in our table so that this handler can answer a wrong arity the way Redis 7
  // does for EXEC alone: as an aborted transaction, discarding any queue.
  if (args.length !== 1) {
    reset(tx);
    return new ErrorReply(
      "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command",
    );
  }
  if (tx.queue === null) return new ErrorReply("ERR EXEC without MULTI");
  for (const [watches, keys] of tx.watched) {
    for (const key of keys) watches.settle(key);
  }
  const { queue, failed, dirty } = tx;
  // Like Redis, stop watching before running anything: the queue's own writes must not count.
  reset(tx);
  if (failed) {
    return new ErrorReply("EXECABORT Transaction discarded because of previous errors.");
  }
  if (dirty) return NULL_ARRAY;
  const replies: Reply[] = [];
  for (const command of queue) {
    const reply = execute(session, command);
    // Isolation holds only if nothing in the queue awaits. A handler that may await must carry
    // the `no-multi` flag, so it is refused while queueing (see dispatch()). Reaching this branch
    // means a command lacks the flag: the reply says so, though its handler has already started.
    if (reply instanceof Promise) {
      replies.push(new ErrorReply(`ERR '${command[0]}' cannot run inside a transaction`));
    } else {
      replies.push(reply);
    }
  }
  return replies;
}

/** The transaction commands. */
export const transactionCommands: readonly CommandSpec[] = [
  {
    name: "multi",
    arity: 1,
    flags: ["fast", "loading"],
    group: "transactions",
    summary: "Starts a transaction",
    // exercise step 6: start queueing this client's commands
    handler: ({ client }) => {
      const tx = transactionOf(client);
      if (tx.queue !== null) return new ErrorReply("ERR MULTI calls can not be nested");
      tx.queue = [];
      return OK;
    },
  },
  {
    name: "exec",
    arity: -1,
    flags: ["loading"],
    group: "transactions",
    summary: "Runs every queued command of the transaction",
    handler: exec,
  },
  {
    // Redis 6.2's way to hand a pooled connection to its next user in a known state.
    name: "reset",
    arity: 1,
    flags: ["noauth", "noscript", "loading", "stale", "fast"],
    group: "connection",
    summary: "Resets the connection: leaves MULTI, unwatches, database 0, RESP2, no name",
    // What Redis's clearClientConnectionState() clears that this server has. Lab 3's
    // authentication is not undone here: Redis would return the client to the default user.
    handler: (session) => {
      const tx = byClient.get(session.client);
      if (tx !== undefined) reset(tx);
      session.client.protocol = 2;
      session.client.name = "";
      selectDatabase(session, 0);
      // Replies come back on (CLIENT REPLY OFF ends), but a SKIP already counting down for this
      // very command still drops RESET's reply: Redis clears the one flag and not the other.
      if (session.client.repliesToDrop === Infinity) session.client.repliesToDrop = 0;
      return RESET;
    },
  },
  {
    name: "discard",
    arity: 1,
    flags: ["fast", "loading"],
    group: "transactions",
    summary: "Discards the transaction",
    // exercise step 6: drop the queue and leave MULTI
    handler: (session) => {
      const tx = transactionOf(session.client);
      if (tx.queue === null) return new ErrorReply("ERR DISCARD without MULTI");
      reset(tx);
      return OK;
    },
  },
  {
    name: "watch",
    arity: -2,
    flags: ["fast", "loading"],
    group: "transactions",
    summary: "Makes the next EXEC fail if any of these keys is modified meanwhile",
    keys: { first: 1, last: -1, step: 1 },
    // exercise step 7: watch each key for changes until EXEC
    handler: (session, args) => {
      const tx = transactionOf(session.client);
      if (tx.queue !== null) return new ErrorReply("ERR WATCH inside MULTI is not allowed");
      const watches = watchesOf(session.db);
      let keys = tx.watched.get(watches);
      if (keys === undefined) tx.watched.set(watches, keys = new Set());
      for (let i = 1; i < args.length; i++) {
        keys.add(args[i]);
        watches.watch(args[i], tx);
      }
      return OK;
    },
  },
  {
    name: "unwatch",
    arity: 1,
    flags: ["fast", "loading"],
    group: "transactions",
    summary: "Forgets every watched key",
    handler: (session) => {
      const tx = byClient.get(session.client);
      if (tx !== undefined) unwatchAll(tx);
      return OK;
    },
  },
];

/**
 * The stage: a table of watches observing the keyspace, MULTI/EXEC/DISCARD/WATCH/UNWATCH, and
 * every command run through {@link dispatch}, which queues it while its client is inside `MULTI`.
 */
export const transactions: Stage<unknown> = {
  name: "transactions",
  module: import.meta.url,
  commands: transactionCommands,
  install(assembly) {
    assembly.execute = dispatch;
  },
};
