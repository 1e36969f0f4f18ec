/**
 * The write path: what happens around every command that has the `write` flag.
 *
 * The command table is data, so lab 4 does not touch a single command to add eviction and logging.
 * It wraps the handler of every command flagged `write`:
 *
 * ```
 * before:  persistence failing?  -MISCONF (PING too, as Redis answers it, so health checks see it)
 *          over --maxmemory?  evict by the policy; still over and the command adds data?  -OOM
 *          (neither inside EXEC: a transaction is checked whole, before it runs; see
 *          transaction_gate.ts)
 * run:     the command's own handler, unchanged
 * after:   with a log (--appendonly yes): did it change the keyspace?  log it, with relative
 *          times made absolute (propagate.ts)
 * ```
 *
 * Wrapping the handlers, rather than the dispatcher that calls them, means a command queued in
 * `MULTI` and run by `EXEC` goes through the same path: `EXEC` calls each queued command's handler.
 * `EXEC` is wrapped too, so that the writes of a transaction reach the log between `MULTI` and
 * `EXEC`, as Redis logs them: a log cut off in the middle of a transaction (the machine lost power
 * during the write) is then cut before it, since the reader treats an unfinished `MULTI` as a torn
 * tail, and a restart never applies half a transaction.
 *
 * **One write path, two protocols.** The memcached port has no command table to wrap, so it calls
 * the same steps itself (`server.ts` wires them): {@link WritePath.writeDenied} and
 * {@link WritePath.makeRoom} before a write, {@link WritePath.propagate} after. `propagate` is the
 * one way into the log: a RESP command (rewritten by `propagate.ts` where a relative time or a
 * float must not be replayed as sent), a key the keyspace removed by itself, and each memcached
 * write, as the RESP commands that replay it (`memcache/store.ts`). The log encodes what it is
 * given, so nothing it holds depends on which protocol, or which bytes, a write came by.
 *
 * "Did it change the keyspace" is Redis's test too: the keyspace counts every change it announces
 * (`Keyspace.changes`; Redis compares `server.dirty`), and a command is propagated only if the
 * count moved. `SET k v NX` on an existing key, `DEL` of a missing key, `EXPIRE` of a missing key:
 * nothing changed, nothing logged. Keys the keyspace removes by
 * itself — expired on access, or evicted — are logged as `DEL key` the moment they go, as Redis
 * writes them to its AOF, and do not count as the command's own change.
 *
 * @module
 */

import type { ErrorReply, Reply } from "../../shared/resp/reply.ts";
import type {
  CommandHandler,
  CommandSpec,
  CommandTable,
} from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";
import { refusedWhenFull } from "./commands.ts";
import { type Evictor, OOM_ERROR } from "./eviction.ts";
import type { ExpiringKeyspace } from "./keyspace.ts";
import { type KeyState, type LogRewrite, logRewriteFor } from "./propagate.ts";

/** Where the write path sends what it logs, with the database it ran in: persistence's `propagate`. */
export type Propagate = (args: string[], db: number) => void;

/** What the write path needs of persistence: where writes go, and whether they may happen. */
export interface WriteSink {
  /** Receives each write to log; `null` when nothing is logged (`--appendonly no`). */
  propagate: Propagate | null;
  /** `-MISCONF` while the server cannot persist (see `persistence/persistence.ts`), else `null`. */
  writeDenied(): ErrorReply | null;
}

/**
 * Eviction before each write and logging after it, for a server's databases.
 *
 * @example
 * ```ts
 * const writes = new WritePath(databases, evictor);
 * writes.wrap(table);              // before the log is replayed: replayed writes are not re-logged
 * const persistence = await openPersistence(server, databases, options);
 * writes.start(persistence);
 * ```
 */
export class WritePath {
  /** Database 0: its change count is every database's (they share one counter). */
  #db: ExpiringKeyspace;
  #evictor: Evictor | null;
  /** Keys the databases removed by themselves (expired, evicted), each logged as a `DEL`. */
  #removals = 0;
  /** Set by {@link start}: until then the server is loading its data. */
  #started = false;
  /** Where writes are logged; `null` before {@link start}, and with no log at all. */
  #propagate: Propagate | null = null;
  #writeDenied: () => ErrorReply | null = () => null;
  #wrapped = new WeakSet<CommandSpec>();
  /** What a rewrite reads about a key, by database number; made once, not once per write. */
  #stateOf: ((key: string) => KeyState)[];
  /** What INCRBYFLOAT's rewrite reads: the value as stored, without touching its LRU place. */
  #valueOf: ((key: string) => string | undefined)[];
  /**
   * Inside `EXEC`: "open" until its first write is logged, then "logged" (`MULTI` is in the log
   * and `EXEC` must follow). A transaction that wrote nothing logs nothing, as in Redis.
   */
  #transaction: "none" | "open" | "logged" = "none";
  /** The database of the last write logged: `EXEC` goes in it, with no `SELECT` of its own. */
  #lastDb = 0;

  /**
   * Prepares the path. Until {@link start}, nothing is evicted or logged: the server is loading its
   * data, and Redis too loads everything before it evicts anything.
   *
   * @param databases The server's databases, numbered from 0.
   * @param evictor Keeps the data under `--maxmemory`; `null` for no limit.
   */
  constructor(databases: readonly ExpiringKeyspace[], evictor: Evictor | null) {
    this.#db = databases[0];
    this.#evictor = evictor;
    this.#stateOf = databases.map((db) => (key) => ({
      exists: db.has(key),
      expiresAt: db.expiresAt(key),
    }));
    this.#valueOf = databases.map((db) => (key) => db.peek(key)?.value);
    databases.forEach((db, index) =>
      db.observe({
        removed: (key) => {
          this.#removals++;
          this.propagate(["DEL", key], index);
        },
      })
    );
  }

  /**
   * Starts evicting, logging, and refusing writes while persistence fails.
   *
   * @param sink Persistence: where writes are logged, and whether they may happen.
   */
  start(sink: WriteSink): void {
    this.#started = true;
    this.#propagate = sink.propagate;
    this.#writeDenied = () => sink.writeDenied();
  }

  /**
   * Why writes are refused right now: `-MISCONF` while persistence fails, else `null`. Every
   * `write` command asks it before it runs; the memcached port asks it too, and answers
   * `SERVER_ERROR` with the same text.
   *
   * @returns The error to answer, or `null`.
   */
  writeDenied(): ErrorReply | null {
    return this.#writeDenied();
  }

  /**
   * Evicts by the policy until the data is under `--maxmemory`, before a write. Every `write`
   * command calls it before it runs; the memcached port before it stores an item.
   *
   * @returns `false` if the data is still over the limit and nothing more may go: a write that
   *   adds data must be refused (`-OOM`, or memcached's `SERVER_ERROR out of memory`).
   */
  makeRoom(): boolean {
    return this.#evictor === null || this.#evictor.performEvictions();
  }

  /**
   * Wraps every `write` command of a table that is not wrapped yet. Call it again after
   * registering more commands.
   *
   * @param table The server's command table.
   */
  wrap(table: CommandTable): void {
    for (const spec of table) {
      if (spec.handler === undefined || this.#wrapped.has(spec)) continue;
      let handler: CommandHandler;
      if (spec.name === "exec") handler = this.#aroundExec(spec.handler);
      else if (spec.flags.includes("write")) handler = this.#around(spec, spec.handler);
      else if (spec.name === "ping") handler = this.#refusedWhileFailing(spec.handler);
      else continue;
      const wrapped: CommandSpec = { ...spec, handler };
      this.#wrapped.add(wrapped);
      table.register(wrapped);
    }
  }

  /**
   * `EXEC`: its queue's writes are logged between `MULTI` and `EXEC`. `EXEC` runs its whole queue
   * before it returns, without awaiting (lab 2 refuses a command that could await inside a
   * transaction), so every write of the transaction is logged before the `finally` below.
   */
  #aroundExec(handler: CommandHandler): CommandHandler {
    return (session: Session, args: string[]): Reply | Promise<Reply> => {
      if (!this.#started) return handler(session, args); // still loading
      // Marked even with no log: the writes inside are not checked one by one (see below).
      this.#transaction = "open";
      try {
        return handler(session, args);
      } finally {
        this.#endTransaction();
      }
    };
  }

  /** Closes the transaction in the log: `EXEC`, if its `MULTI` went there. */
  #endTransaction(): void {
    if (this.#transaction === "logged") this.#propagate?.(["EXEC"], this.#lastDb);
    this.#transaction = "none";
  }

  /** PING: refused with `-MISCONF` too, as in Redis, so that a health check notices. */
  #refusedWhileFailing(handler: CommandHandler): CommandHandler {
    return (session: Session, args: string[]): Reply | Promise<Reply> =>
      this.#writeDenied() ?? handler(session, args);
  }

  #around(spec: CommandSpec, handler: CommandHandler): CommandHandler {
    const mayBeDenied = refusedWhenFull(spec);
    const rewrite = logRewriteFor(spec.name);
    return (session: Session, args: string[]): Reply | Promise<Reply> => {
      const db = this.#db;
      if (!this.#started) return handler(session, args); // still loading
      // Inside EXEC, no check: Redis checks once, before EXEC runs its queue, and never refuses
      // half a transaction (transaction_gate.ts does that check for lab 4).
      if (this.#transaction === "none") {
        const denied = this.#writeDenied();
        if (denied !== null) return denied;
        if (!this.makeRoom() && mayBeDenied) return OOM_ERROR;
      }
      // No log: nothing more to do (persistence counts the change for its save points itself).
      if (this.#propagate === null) return handler(session, args);
      const before = db.changes;
      const removed = this.#removals;
      const reply = handler(session, args);
      if (reply instanceof Promise) {
        return reply.then((r) => {
          this.#logIfChanged(session, args, rewrite, before, removed);
          return r;
        });
      }
      this.#logIfChanged(session, args, rewrite, before, removed);
      return reply;
    };
  }

  /** Logs a command that changed a database, its relative times made absolute. */
  #logIfChanged(
    session: Session,
    args: string[],
    rewrite: LogRewrite | null,
    changesBefore: number,
    removedBefore: number,
  ): void {
    // Each removal by a database counted as one change and was logged already, as DEL.
    const removed = this.#removals - removedBefore;
    if (this.#db.changes - changesBefore - removed <= 0) return;
    const { database } = session.client;
    const logged = rewrite === null
      ? args
      : rewrite(args, this.#stateOf[database], this.#valueOf[database]);
    this.propagate(logged, database);
  }

  /**
   * Sends one write to the log: the one way in, for RESP commands, keys the keyspace removed, and
   * the memcached port alike. Inside `EXEC`, the transaction's first write opens it with `MULTI`.
   * Before {@link start} (while the server loads its data) nothing is logged.
   *
   * @param args The command that replays the write, with absolute times, as byte strings. The
   *   log keeps the array until its next write, so it must not be changed afterwards.
   * @param db The database it ran in.
   * @example
   * ```ts
   * writes.propagate(["SET", "k", "v", "PXAT", "1767225610000"], 0);
   * ```
   */
  propagate(args: string[], db: number): void {
    const propagate = this.#propagate;
    if (propagate === null) return;
    if (this.#transaction === "open") {
      propagate(["MULTI"], db);
      this.#transaction = "logged";
    }
    propagate(args, db);
    this.#lastDb = db;
  }
}
