/**
 * Lab 4's persistence wired together: {@link openPersistence} loads the data at start-up, then
 * serves `SAVE`, `BGSAVE`, `LASTSAVE`, `BGREWRITEAOF`, the log's writes and `INFO persistence`.
 * `mod.ts` explains the design and re-exports what the server uses.
 *
 * @module
 */

import { ChangeCount } from "./change_count.ts";
import { dirname, join, resolve } from "node:path";
import { resolveCommand } from "../../01-single-client/connection.ts";
import { dispatch, endTransaction } from "../../02-threaded/transaction.ts";
import { RespWriter } from "../../../shared/resp/encoder.ts";
import { err, ErrorReply, OK, type Reply, SimpleString } from "../../../shared/resp/reply.ts";
import type { CommandSpec } from "../../../shared/server/command_table.ts";
import type { ServerState } from "../../../shared/server/server_state.ts";
import type { ShutdownRequest } from "../../02-threaded/shutdown.ts";
import { ClientState, type Session } from "../../../shared/server/session.ts";
import { type Entry, type ExpiringKeyspace, sumOf, usedMemoryOf } from "../keyspace.ts";
import {
  AofError,
  AofReader,
  AppendOnlyLog,
  describeIoError,
  type FsyncPolicy,
  type WrapLogFile,
  writeCompact,
} from "./aof.ts";
import {
  fsyncDir,
  fsyncDirSync,
  readWholeFileSync,
  removeQuietly,
  removeStaleTempFiles,
  tempPath,
  writeAllSync,
} from "./files.ts";
import { LogManifest, MissingLogError } from "./manifest.ts";
import { type DatabaseChunk, DatabasesAtOnce } from "./point_in_time.ts";
import { loadSnapshotFile, SnapshotError, writeSnapshot, writeSnapshotSync } from "./snapshot.ts";

export type { FsyncPolicy };
export { AofError, MissingLogError, SnapshotError };

/** What the command line says about persistence. */
export interface PersistenceOptions {
  /** The data directory (`--dir`, default `./data`). */
  dir: string;
  /** The snapshot's file name in `dir` (`--dbfilename`, default `dump.rdb`, as in Redis). */
  dbfilename: string;
  /** `--save SECONDS CHANGES`, any number of times; empty means no automatic snapshots. */
  save: { seconds: number; changes: number }[];
  /** `--appendonly yes`. */
  appendonly: boolean;
  /** `--appendfsync`. */
  appendfsync: FsyncPolicy;
  /** The log's file name in `dir` (`--appendfilename`, default `appendonly.aof`). */
  appendfilename: string;
  /**
   * `--stop-writes-on-bgsave-error` (default yes): with save points set, refuse writes while the
   * last background save failed.
   */
  stopWritesOnBgsaveError?: boolean;
}

/** A running server's persistence. */
export interface Persistence {
  /** SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF: registered in the server's command table. */
  readonly commands: CommandSpec[];
  /**
   * Loads what is on disk, then opens the log and starts the save timer. It pauses every so
   * often, so that the server can answer its clients meanwhile (`-LOADING`, as Redis does).
   *
   * @throws {SnapshotError} If the snapshot is damaged; the file is left as it is.
   * @throws {AofError} If the log is damaged before its end; the file is left as it is.
   * @throws {MissingLogError} If the log's manifest is there and the log is not.
   */
  load(): Promise<void>;
  /** Whether {@link load} is still running: until it is done, most commands get `-LOADING`. */
  readonly loading: boolean;
  /**
   * Records a write that changed the keyspace, as the arguments of the command that replays it
   * (relative times already made absolute, the database it ran in). The write path (`writes.ts`)
   * is its one caller in the server, for RESP and memcached writes alike. `null` without a log
   * (`--appendonly no`, which `CONFIG SET` cannot change): then the write path skips the work of
   * deciding what to log.
   */
  readonly propagate: ((args: string[], db: number) => void) | null;
  /** Awaited before replies are written; with `appendfsync always`, until the log is on disk. */
  beforeWrite(): Promise<void> | undefined;
  /**
   * Redis's `-MISCONF` error while the server cannot persist (the log's last write or fsync
   * failed, or, with save points, the last background save did); `null` when writes may go on.
   */
  writeDenied(): ErrorReply | null;
  /**
   * Before the server stops, while clients are still served: fsync the log and write the final
   * snapshot (`request.save` and `request.force` are `SHUTDOWN`'s flags). `false` means something
   * could not be written and the server must keep running; the log says why.
   */
  shutdown(request?: ShutdownRequest): Promise<boolean>;
  /** After the clients are gone: stop the save timer, write the log's last bytes, close it. */
  close(): Promise<void>;
  /** Changes since the last snapshot (Redis's `server.dirty`, `rdb_changes_since_last_save`). */
  changesSinceSave(): number;
}

/** What tests may change; the server never passes these. */
export interface PersistenceTuning {
  /** The file layer the log writes through (a test injects faults or counts fsyncs). */
  wrapLogFile?: WrapLogFile;
  /** What a fatal log error does (the server logs it and exits; a test records it). */
  fatal?: (message: string) => void;
  /** Keys per chunk of `BGSAVE` and `BGREWRITEAOF` (a test makes it tiny to catch them midway). */
  chunkKeys?: number;
}

/**
 * Redis's refusal while background saves fail, word for word: clients and operators look for it.
 * It names Redis because clients' documentation and search results do.
 */
const BGSAVE_MISCONF = new ErrorReply(
  "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to " +
    "disk. Commands that may modify the data set are disabled, because this instance is " +
    "configured to report errors during writes if RDB snapshotting fails " +
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the " +
    "RDB error.",
);

/** Keys per chunk of a background job: about half a megabyte of small keys between two yields. */
const CHUNK_KEYS = 8192;
/** After a failed automatic `BGSAVE`, wait this long before the next try (Redis: 5 s). */
const BGSAVE_RETRY_DELAY_MS = 5000;
/** How often the save points are checked. */
const CRON_MS = 100;
/**
 * Loading runs this long between two turns of the event loop, where clients are answered: short
 * enough that a client waits no longer for its `-LOADING`, long enough that the pauses cost
 * nothing measurable.
 */
const LOADING_SLICE_MS = 50;

/**
 * Sets persistence up without loading anything yet: its commands, `CONFIG` parameters and
 * `INFO persistence` are there at once, and {@link Persistence.load} loads what is on disk.
 *
 * @param server The server (its command table replays the log).
 * @param databases The databases to load into, numbered from 0.
 * @param options From the command line.
 * @param tuning For tests only.
 * @returns Persistence, not loaded yet.
 */
export function createPersistence(
  server: ServerState,
  databases: readonly ExpiringKeyspace[],
  options: PersistenceOptions,
  tuning: PersistenceTuning = {},
): Persistence {
  const engine = new PersistenceEngine(server, databases, options, tuning);
  return {
    commands: engine.commands(),
    load: () => engine.start(),
    get loading() {
      return engine.loading;
    },
    propagate: options.appendonly ? (args, db) => engine.propagate(args, db) : null,
    beforeWrite: () => engine.beforeWrite(),
    writeDenied: () => engine.writeDenied(),
    shutdown: (request) => engine.shutdown(request),
    close: () => engine.close(),
    changesSinceSave: () => engine.changesSinceSave,
  };
}

/**
 * Sets persistence up and loads what is on disk: {@link createPersistence}, then its `load()`.
 *
 * @param server The server (its command table replays the log).
 * @param databases The databases to load into, numbered from 0.
 * @param options From the command line.
 * @param tuning For tests only.
 * @returns The running persistence.
 * @throws {SnapshotError} If the snapshot is damaged; the file is left as it is.
 * @throws {AofError} If the log is damaged before its end; the file is left as it is.
 * @throws {MissingLogError} If the log's manifest is there and the log is not.
 */
export async function openPersistence(
  server: ServerState,
  databases: readonly ExpiringKeyspace[],
  options: PersistenceOptions,
  tuning: PersistenceTuning = {},
): Promise<Persistence> {
  const persistence = createPersistence(server, databases, options, tuning);
  await persistence.load();
  return persistence;
}

type JobStatus = "ok" | "err";

/** Thrown by a load that the server was told to stop in the middle of. */
export class LoadingStopped extends Error {
  /** Says so. */
  constructor() {
    super("Stopped while loading");
    this.name = "LoadingStopped";
  }
}

/** The state behind {@link Persistence}: files, jobs in progress, and what INFO reports. */
class PersistenceEngine {
  readonly #server: ServerState;
  readonly #databases: readonly ExpiringKeyspace[];
  readonly #options: PersistenceOptions;
  readonly #tuning: PersistenceTuning;
  readonly #snapshotPath: string;
  readonly #aofPath: string;
  /** Changes since the last snapshot: an observer of the databases, registered here. */
  readonly #changes = new ChangeCount();
  #aof: AppendOnlyLog | null = null;
  #loading = true;
  /** Set by {@link close}: a load in progress gives up. */
  #closed = false;
  /** When loading started, in milliseconds since the epoch (`loading_start_time`). */
  #loadingSince = Date.now();
  /** The share of the data loaded so far, 0 to 1 (`loading_loaded_perc`). */
  #loadedShare = 0;
  /** When loading last let the event loop run. */
  #lastPause = performance.now();
  #cron: ReturnType<typeof setInterval> | undefined;
  /** When the last snapshot was saved (or the server started), in ms since the epoch. */
  #lastSave = Date.now();
  #lastBgsaveTry = 0;
  #bgsave: { job: Promise<void>; view: DatabasesAtOnce; started: number } | null = null;
  #rewrite: { job: Promise<void>; started: number } | null = null;
  #bgsaveScheduled = false;
  #rewriteScheduled = false;
  #stats = {
    saves: 0,
    lastBgsaveStatus: "ok" as JobStatus,
    lastBgsaveSeconds: -1,
    rewrites: 0,
    lastRewriteStatus: "ok" as JobStatus,
    lastRewriteSeconds: -1,
  };

  constructor(
    server: ServerState,
    databases: readonly ExpiringKeyspace[],
    options: PersistenceOptions,
    tuning: PersistenceTuning,
  ) {
    this.#server = server;
    this.#databases = databases;
    for (const db of databases) this.#changes.count(db);
    // A copy: CONFIG SET changes the save points and the fsync policy here, not in the caller's.
    this.#options = { ...options, save: [...options.save] };
    this.#tuning = tuning;
    this.#snapshotPath = join(options.dir, options.dbfilename);
    this.#aofPath = join(options.dir, options.appendfilename);
    // CONFIG and INFO answer while the data loads, as Redis's do.
    this.#register();
  }

  /** Whether the data is still being loaded. */
  get loading(): boolean {
    return this.#loading;
  }

  /** Changes since the last snapshot. */
  get changesSinceSave(): number {
    return this.#changes.value;
  }

  get #log(): (line: string) => void {
    return this.#server.log;
  }

  /**
   * Creates the data directory, removes what a crashed run left in it, loads what is on disk,
   * opens the log, starts the save timer.
   */
  async start(): Promise<void> {
    this.#loadingSince = Date.now();
    Deno.mkdirSync(this.#options.dir, { recursive: true });
    removeStaleTempFiles(this.#options.dir, this.#log);
    const started = performance.now();
    const aofExists = exists(this.#aofPath);
    const manifest = new LogManifest(this.#options.dir, this.#options.appendfilename);
    if (this.#options.appendonly) manifest.check(aofExists);
    // Nothing expires until everything is loaded (see the keyspace's `loading`).
    this.#setLoading(true);
    try {
      if (this.#options.appendonly && aofExists) {
        if (exists(this.#snapshotPath)) {
          this.#log(
            `Loading the append only file only; ${this.#snapshotPath} is ignored (AOF wins)`,
          );
        }
        await this.#replay();
      } else {
        await this.#loadSnapshot();
        if (this.#options.appendonly) this.#createLog();
      }
    } finally {
      this.#setLoading(false);
    }
    if (this.#options.appendonly) manifest.record();
    const seconds = ((performance.now() - started) / 1000).toFixed(3);
    const keys = sumOf(this.#databases, (db) => db.size);
    this.#log(`DB loaded from disk: ${keys} keys in ${seconds} seconds`);
    // What was just loaded is on disk already: no changes since the last save.
    this.#changes.value = 0;
    this.#loading = false;
    if (this.#options.appendonly) {
      this.#aof = await AppendOnlyLog.open(this.#aofPath, {
        policy: this.#options.appendfsync,
        wrap: this.#tuning.wrapLogFile,
        fatal: this.#tuning.fatal,
        log: this.#log,
      });
    }
    this.#scheduleSavePoints();
  }

  /**
   * A pause in loading: every {@link LOADING_SLICE_MS} of work, the event loop runs once, and
   * clients get their answers (`-LOADING` for most commands).
   *
   * @param done The share of the work done, 0 to 1, for `INFO persistence`.
   */
  async #pause(done: number): Promise<void> {
    this.#loadedShare = done;
    const now = performance.now();
    if (now - this.#lastPause < LOADING_SLICE_MS) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#lastPause = performance.now();
    // Told to stop meanwhile (a signal, SHUTDOWN): the rest is not loaded, and nothing is saved.
    if (this.#closed) throw new LoadingStopped();
  }

  #setLoading(loading: boolean): void {
    for (const db of this.#databases) db.loading = loading;
  }

  /** Checks the save points every tick while there are any (none: no timer at all). */
  #scheduleSavePoints(): void {
    if (this.#options.save.length > 0 && this.#cron === undefined) {
      this.#cron = setInterval(() => this.#checkSavePoints(), CRON_MS);
    } else if (this.#options.save.length === 0 && this.#cron !== undefined) {
      clearInterval(this.#cron);
      this.#cron = undefined;
    }
  }

  propagate(args: string[], db: number): void {
    // While the log is replayed, its own commands must not be logged again.
    if (this.#loading) return;
    this.#aof?.append(args, db);
  }

  beforeWrite(): Promise<void> | undefined {
    return this.#aof?.beforeWrite();
  }

  writeDenied(): ErrorReply | null {
    if (
      this.#stats.lastBgsaveStatus === "err" && this.#options.save.length > 0 &&
      this.#options.stopWritesOnBgsaveError !== false
    ) {
      return BGSAVE_MISCONF;
    }
    const failure = this.#aof?.failure ?? null;
    if (failure === null) return null;
    return new ErrorReply(`MISCONF Errors writing to the AOF file: ${describeIoError(failure)}`);
  }

  /**
   * Redis's `finishShutdown()`: what must be on disk before the server may exit. Nothing is
   * closed here, so after a failure everything goes on as before: the log stays open, the save
   * points keep firing, and a later shutdown tries again.
   */
  async shutdown(request: ShutdownRequest = {}): Promise<boolean> {
    if (this.#loading) {
      // Half the data is not the data: Redis never saves on a shutdown while it loads.
      this.#log("Stopping while loading: nothing is saved, the files on disk stay as they are.");
      return true;
    }
    // Let a background job finish rather than leave a half-written temporary file behind.
    await this.#bgsave?.job;
    await this.#rewrite?.job;
    const force = request.force === true;
    const aof = this.#aof;
    if (aof !== null) {
      this.#log("Calling fsync() on the AOF file.");
      try {
        // Throws if the last bytes cannot be written or fsynced (see aof.ts).
        await aof.sync();
      } catch (error) {
        this.#log(`Fail to fsync the AOF file: ${describeIoError(error)}.`);
        // Redis 7 only warns here. We refuse: with the log on, the log is the data's only copy.
        if (!force) return this.#cannotExit("Error trying to fsync the AOF, can't exit.");
        this.#log("Error trying to fsync the AOF. Exit anyway.");
      }
    }
    // Like Redis, a server configured to save snapshots saves one on the way out.
    const save = request.save === "save" ||
      (request.save !== "nosave" && this.#options.save.length > 0);
    if (save) {
      this.#log("Saving the final snapshot before exiting.");
      try {
        this.#saveNow();
      } catch (error) {
        this.#log(`Failed saving the snapshot ${this.#snapshotPath}: ${error}`);
        if (!force) return this.#cannotExit("Error trying to save the DB, can't exit.");
        this.#log("Error trying to save the DB. Exit anyway.");
      }
    }
    return true;
  }

  #cannotExit(line: string): false {
    this.#log(line);
    return false;
  }

  async close(): Promise<void> {
    // A load still running stops at its next pause (see #pause).
    this.#closed = true;
    clearInterval(this.#cron);
    this.#bgsaveScheduled = this.#rewriteScheduled = false;
    // A save point may have started a job since shutdown(): let it finish, as there.
    await this.#bgsave?.job;
    await this.#rewrite?.job;
    if (this.#aof !== null) {
      const aof = this.#aof;
      this.#aof = null;
      await aof.close();
      this.#log("Append only file fsynced and closed");
    }
  }

  commands(): CommandSpec[] {
    return [
      {
        name: "save",
        arity: 1,
        // no-multi: as in Redis, a transaction may not block every client while it writes a file.
        flags: ["admin", "noscript", "no-multi"],
        group: "server",
        summary: "Synchronously saves the database(s) to disk",
        handler: () => this.#save(),
      },
      {
        name: "bgsave",
        arity: -1,
        flags: ["admin", "noscript"],
        group: "server",
        summary: "Asynchronously saves the database(s) to disk",
        arguments: [{
          name: "schedule",
          type: "pure-token",
          token: "SCHEDULE",
          flags: ["optional"],
        }],
        handler: (_session, args) => this.#bgsaveCommand(args),
      },
      {
        name: "lastsave",
        arity: 1,
        flags: ["fast", "loading", "stale"],
        group: "server",
        summary: "Returns the Unix timestamp of the last successful save to disk",
        handler: () => Math.floor(this.#lastSave / 1000),
      },
      {
        name: "bgrewriteaof",
        arity: 1,
        flags: ["admin", "noscript"],
        group: "server",
        summary: "Asynchronously rewrites the append-only file to disk",
        handler: () => this.#bgrewriteaofCommand(),
      },
    ];
  }

  // ---- loading ----

  async #loadSnapshot(): Promise<void> {
    const databases = this.#databases;
    const result = await loadSnapshotFile(this.#snapshotPath, {
      databases: databases.length,
      load: (entry, db) => databases[db].load(entry),
      log: this.#log,
      pause: ({ phase, done }) => this.#pause(phase === "loading" ? done : 0),
    });
    if (result === null) {
      // Earlier versions of this course wrote `dump.cdb` in a format of their own; say so rather
      // than start empty without a word.
      const old = join(this.#options.dir, "dump.cdb");
      if (exists(old)) {
        this.#log(
          `No ${this.#snapshotPath}, but ${old} is there: that is the snapshot format of an ` +
            `earlier version of this course, which is not loaded`,
        );
      }
      return;
    }
    this.#log(
      `Snapshot loaded: ${result.loaded} keys` +
        (result.expired > 0 ? `, ${result.expired} already expired and skipped` : "") +
        ` (RDB version ${result.version}, redis-ver ${result.writtenBy ?? "not given"})`,
    );
  }

  /**
   * Replays the log through the command table, as Redis does with a "fake client": each command
   * runs exactly as if a client had sent it, so the log needs no code of its own per command.
   */
  async #replay(): Promise<void> {
    const path = this.#aofPath;
    const bytes = readWholeFileSync(path);
    this.#log(`Replaying the append only file ${path} (${bytes.length} bytes)`);
    const client = new ClientState(0, "aof", "", Date.now());
    const session: Session = { db: this.#databases[0], client, server: this.#server };
    const reader = new AofReader(bytes);
    // exercise step 13: run each command through dispatch() in the log's session, pausing now and then
    let lastReport = performance.now();
    let errors = 0;
    for (let command = reader.next(); command !== null; command = reader.next()) {
      const spec = resolveCommand(this.#server.commands, command.args);
      if (spec instanceof ErrorReply) throw new AofError(path, command.offset, spec.message);
      let reply: Reply = dispatch(session, command.args);
      if (reply instanceof Promise) reply = await reply;
      if (reply instanceof ErrorReply && errors++ < 10) {
        this.#log(`Command at byte offset ${command.offset} of ${path} failed: ${reply.message}`);
      }
      if ((reader.commands & 0x3ff) === 0) {
        if (performance.now() - lastReport >= 1000) {
          lastReport = performance.now();
          const share = Math.floor(command.end / bytes.length * 100);
          this.#log(`Replaying: ${share}% done, ${reader.commands} commands so far`);
        }
        await this.#pause(command.end / bytes.length);
      }
    }
    // exercise starter: while (reader.next() !== null);
    endTransaction(session);
    const end = reader.end;
    if (end?.kind === "corrupt") throw new AofError(path, end.offset, end.detail);
    // exercise step 14: a torn end is no corruption: warn, cut the file back to validUpTo, fsync it
    if (end?.kind === "torn") {
      // A crash in the middle of a write leaves half a command at the end. Nobody was told that
      // command succeeded (its reply waits for the write), so it is safe to drop.
      this.#log(
        `!!! Warning: ${path} ends with ${end.detail} at byte offset ${end.validUpTo}; ` +
          `cutting the last ${bytes.length - end.validUpTo} bytes off`,
      );
      const file = Deno.openSync(path, { write: true });
      try {
        file.truncateSync(end.validUpTo);
        file.syncSync();
      } finally {
        file.close();
      }
    }
    // exercise starter: if (end?.kind === "torn") throw new AofError(path, end.validUpTo, end.detail);
    this.#log(`Append only file replayed: ${reader.commands} commands`);
  }

  /** `--appendonly yes` with no log yet: start the log with the keys already loaded. */
  #createLog(): void {
    const temp = tempPath(this.#options.dir, "rewriteaof", "aof");
    const file = Deno.openSync(temp, { write: true, create: true, truncate: true });
    try {
      const out = new RespWriter();
      let keys = 0;
      for (const [i, db] of this.#databases.entries()) {
        if (db.size > 0) out.bulkArray(["SELECT", String(i)]);
        for (const entry of db.entries()) {
          this.#encodeEntry(out, entry);
          keys++;
          if (out.length > 1024 * 1024) writeAllSync(file, out.take());
        }
      }
      writeAllSync(file, out.take());
      file.syncDataSync();
      file.close();
      Deno.renameSync(temp, this.#aofPath);
      fsyncDirSync(this.#options.dir);
      this.#log(`Append only file ${this.#aofPath} created with ${keys} keys`);
    } catch (error) {
      try {
        file.close();
      } catch {
        // Already closed.
      }
      removeQuietly(temp);
      throw error;
    }
  }

  // ---- snapshots ----

  #save(): Reply {
    if (this.#bgsave !== null) return err("Background save already in progress");
    try {
      this.#saveNow();
      return OK;
    } catch (error) {
      this.#log(`Failed saving the snapshot ${this.#snapshotPath}: ${error}`);
      // Redis answers a failed SAVE with a bare "-ERR"; the log says why.
      return new ErrorReply("ERR");
    }
  }

  /** Writes the snapshot synchronously; nothing else runs until it is on disk. */
  #saveNow(): void {
    const databases = this.#databases;
    const dirtyBefore = this.#changes.value;
    const started = performance.now();
    const all = databases.map((db, i) => ({ db: i, entries: db.entries() }));
    const { keys, bytes } = writeSnapshotSync(this.#snapshotPath, all, {
      createdAt: databases[0].clock.now(),
      tempPath: tempPath(this.#options.dir, "snapshot", "rdb"),
      sizes: databases.map((db) => ({ keys: db.size, expiring: db.expiringCount })),
      usedMemory: usedMemoryOf(databases),
    });
    this.#changes.value = Math.max(0, this.#changes.value - dirtyBefore);
    this.#lastSave = Date.now();
    this.#stats.saves++;
    // As in Redis, a snapshot saved in the foreground also ends a `-MISCONF` from a failed BGSAVE.
    this.#stats.lastBgsaveStatus = "ok";
    const ms = (performance.now() - started).toFixed(0);
    this.#log(`DB saved on disk: ${keys} keys, ${bytes} bytes in ${ms} ms`);
  }

  #bgsaveCommand(args: string[]): Reply {
    if (args.length > 2 || (args.length === 2 && args[1].toLowerCase() !== "schedule")) {
      return err("syntax error");
    }
    if (this.#bgsave !== null) return err("Background save already in progress");
    if (this.#rewrite !== null) {
      if (args.length === 2) {
        this.#bgsaveScheduled = true;
        return new SimpleString("Background saving scheduled");
      }
      return err(
        "Another child process is active (AOF?): can't BGSAVE right now. " +
          "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
      );
    }
    this.#startBgsave();
    return new SimpleString("Background saving started");
  }

  /** Starts a `BGSAVE`: freeze the keyspace now, write it out between other clients' commands. */
  #startBgsave(): void {
    const view = new DatabasesAtOnce(this.#databases);
    // Counted at the view's moment, like Redis's counts at the moment of its fork.
    const sizes = view.sizes;
    const usedMemory = usedMemoryOf(this.#databases);
    const dirtyBefore = this.#changes.value;
    const started = Date.now();
    this.#lastBgsaveTry = started;
    this.#log(`Background saving started (${view.size} keys)`);
    const job = writeSnapshot(
      this.#snapshotPath,
      view.chunks(this.#tuning.chunkKeys ?? CHUNK_KEYS),
      {
        createdAt: view.at,
        tempPath: tempPath(this.#options.dir, "bgsave", "rdb"),
        sizes,
        usedMemory,
      },
    ).then(
      ({ keys, bytes }) => {
        this.#changes.value = Math.max(0, this.#changes.value - dirtyBefore);
        this.#lastSave = Date.now();
        this.#stats.saves++;
        this.#stats.lastBgsaveStatus = "ok";
        this.#log(`Background saving terminated with success: ${keys} keys, ${bytes} bytes`);
      },
      (error) => {
        view.close();
        this.#stats.lastBgsaveStatus = "err";
        this.#log(`Background saving error: ${error}`);
      },
    ).finally(() => {
      this.#stats.lastBgsaveSeconds = Math.round((Date.now() - started) / 1000);
      this.#bgsave = null;
      if (this.#rewriteScheduled) {
        this.#rewriteScheduled = false;
        this.#startRewrite();
      }
    });
    this.#bgsave = { job, view, started };
  }

  /** Redis's save points: `--save 60 1000` saves when 1000 changes are 60 seconds old. */
  #checkSavePoints(): void {
    if (this.#bgsave !== null || this.#rewrite !== null) return;
    const now = Date.now();
    const dirty = this.#changes.value;
    for (const { seconds, changes } of this.#options.save) {
      if (dirty < changes || now - this.#lastSave < seconds * 1000) continue;
      // After a failure, retry only now and then rather than on every tick.
      if (
        this.#stats.lastBgsaveStatus === "err" && now - this.#lastBgsaveTry < BGSAVE_RETRY_DELAY_MS
      ) {
        continue;
      }
      this.#log(`${changes} changes in ${seconds} seconds. Saving...`);
      this.#startBgsave();
      return;
    }
  }

  // ---- log rewriting ----

  #bgrewriteaofCommand(): Reply {
    if (this.#rewrite !== null) {
      return err("Background append only file rewriting already in progress");
    }
    if (this.#bgsave !== null) {
      this.#rewriteScheduled = true;
      return new SimpleString("Background append only file rewriting scheduled");
    }
    this.#startRewrite();
    return new SimpleString("Background append only file rewriting started");
  }

  #startRewrite(): void {
    const started = Date.now();
    const chunkKeys = this.#tuning.chunkKeys ?? CHUNK_KEYS;
    const temp = tempPath(this.#options.dir, "rewriteaof", "aof");
    const start = () => new DatabasesAtOnce(this.#databases).chunks(chunkKeys);
    const encode = (out: RespWriter, entry: Entry) => this.#encodeEntry(out, entry);
    this.#log("Background append only file rewriting started");
    const job = this.#aof !== null
      ? this.#aof.rewrite(start, { tempPath: temp, encode })
      : rewriteWithoutLog(this.#aofPath, start(), { tempPath: temp, encode });
    this.#rewrite = {
      started,
      job: job.then(
        (keys) => {
          this.#stats.rewrites++;
          this.#stats.lastRewriteStatus = "ok";
          this.#log(`Background AOF rewrite finished successfully: ${keys} keys`);
        },
        (error) => {
          this.#stats.lastRewriteStatus = "err";
          this.#log(`Background AOF rewrite failed: ${error}`);
        },
      ).finally(() => {
        this.#stats.lastRewriteSeconds = Math.round((Date.now() - started) / 1000);
        this.#rewrite = null;
        if (this.#bgsaveScheduled) {
          this.#bgsaveScheduled = false;
          this.#startBgsave();
        }
      }),
    };
  }

  /**
   * The commands that recreate one key: `SET key value`, with `PXAT` for its expiry. Memcached's
   * flags, which no Redis command sets, use the log command the memcache module registers.
   */
  #encodeEntry(out: RespWriter, entry: Entry): void {
    // exercise step 15: one SET per key, with PXAT and its expiry when it has one
    if (entry.expiresAt === null) out.bulkArray(["SET", entry.key, entry.value]);
    else out.bulkArray(["SET", entry.key, entry.value, "PXAT", String(entry.expiresAt)]);
    // exercise starter: out.bulkArray(["SET", entry.key, entry.value]);
    if (entry.flags !== 0) {
      const args = flagsCommand(this.#server, entry);
      if (args !== null) out.bulkArray(args);
    }
  }

  // ---- CONFIG and INFO ----

  #register(): void {
    const options = this.#options;
    const dir = resolve(options.dir);
    this.#server.config
      .define(
        "save",
        () => options.save.map((p) => `${p.seconds} ${p.changes}`).join(" "),
        (value) => {
          const points = parseSavePoints(value);
          if (points === null) return "Invalid save parameters";
          options.save = points;
          this.#scheduleSavePoints();
          return null;
        },
      )
      .define(
        "appendonly",
        () => options.appendonly ? "yes" : "no",
        // Redis turns the log on by opening a new one and rewriting the whole dataset into it
        // in the background, and off by closing it; a restart must then trust the right file.
        // This server decides which file to load from its command line alone, so a log switched
        // on or off at runtime would be loaded, or ignored, wrongly after a restart. Refused,
        // with the way to do it instead.
        (value) => {
          const on = parseYesNo(value);
          if (on === null) return "argument must be 'yes' or 'no'";
          if (on === options.appendonly) return null;
          return `Cannot turn the append only file ${on ? "on" : "off"} while the server ` +
            `runs; restart it with --appendonly ${on ? "yes" : "no"}`;
        },
      )
      .define("appendfsync", () => options.appendfsync, (value) => {
        const policy = FSYNC_POLICIES.find((p) => p === value.toLowerCase());
        if (policy === undefined) {
          return `argument(s) must be one of the following: ${FSYNC_POLICIES.join(", ")}`;
        }
        options.appendfsync = policy;
        if (this.#aof !== null) this.#aof.policy = policy;
        return null;
      })
      .define("appendfilename", () => options.appendfilename)
      .define("dir", () => dir)
      .define("dbfilename", () => options.dbfilename)
      .define(
        "stop-writes-on-bgsave-error",
        () => options.stopWritesOnBgsaveError === false ? "no" : "yes",
      );
    this.#server.info.extend("Persistence", () => this.#info());
  }

  /** Redis's fields about a load in progress; none once loaded. */
  #loadingInfo(now: number): [string, string | number][] {
    if (!this.#loading) return [];
    const elapsed = (now - this.#loadingSince) / 1000;
    const done = this.#loadedShare;
    return [
      ["loading_start_time", Math.floor(this.#loadingSince / 1000)],
      ["loading_loaded_perc", (done * 100).toFixed(2)],
      ["loading_eta_seconds", done > 0 ? Math.round(elapsed / done - elapsed) : 1],
    ];
  }

  #info(): [string, string | number][] {
    const now = Date.now();
    const bgsave = this.#bgsave;
    const rewrite = this.#rewrite;
    const aof = this.#aof;
    const stats = this.#stats;
    return [
      ["loading", this.#loading ? 1 : 0],
      ["async_loading", 0],
      ...this.#loadingInfo(now),
      ["current_save_keys_processed", bgsave?.view.done ?? 0],
      ["current_save_keys_total", bgsave?.view.size ?? 0],
      // Ours, not Redis's: the keys copied by copy-on-write during the current BGSAVE.
      ["current_cow_keys", bgsave?.view.copies ?? 0],
      ["rdb_changes_since_last_save", this.#changes.value],
      ["rdb_bgsave_in_progress", bgsave !== null ? 1 : 0],
      ["rdb_last_save_time", Math.floor(this.#lastSave / 1000)],
      ["rdb_last_bgsave_status", stats.lastBgsaveStatus],
      ["rdb_last_bgsave_time_sec", stats.lastBgsaveSeconds],
      ["rdb_current_bgsave_time_sec", bgsave ? Math.round((now - bgsave.started) / 1000) : -1],
      ["rdb_saves", stats.saves],
      ["aof_enabled", this.#options.appendonly ? 1 : 0],
      ["aof_rewrite_in_progress", rewrite !== null ? 1 : 0],
      ["aof_rewrite_scheduled", this.#rewriteScheduled ? 1 : 0],
      ["aof_last_rewrite_time_sec", stats.lastRewriteSeconds],
      ["aof_current_rewrite_time_sec", rewrite ? Math.round((now - rewrite.started) / 1000) : -1],
      ["aof_last_bgrewrite_status", stats.lastRewriteStatus],
      ["aof_rewrites", stats.rewrites],
      ["aof_last_write_status", (aof?.failure ?? null) !== null ? "err" : "ok"],
      ...(aof !== null ? [["aof_pending_fsync_bytes", aof.unsynced] as [string, number]] : []),
    ];
  }
}

/** The fsync policies, in the order Redis lists them in its error. */
const FSYNC_POLICIES: readonly FsyncPolicy[] = ["everysec", "always", "no"];

/**
 * `CONFIG SET save` as Redis parses it: pairs of seconds (at least 1) and changes (at least 0),
 * separated by spaces; the empty string for none.
 *
 * @returns The save points, or `null` if Redis would answer `Invalid save parameters`.
 */
function parseSavePoints(value: string): { seconds: number; changes: number }[] | null {
  const words = value.split(" ").filter((w) => w !== "");
  if (words.length % 2 === 1) return null;
  const points: { seconds: number; changes: number }[] = [];
  for (let i = 0; i < words.length; i += 2) {
    // Redis's strtoll() with nothing after the number: an optional sign and digits.
    if (!/^[+-]?[0-9]+$/.test(words[i]) || !/^[+-]?[0-9]+$/.test(words[i + 1])) return null;
    const seconds = Number(words[i]);
    const changes = Number(words[i + 1]);
    if (seconds < 1 || changes < 0) return null;
    points.push({ seconds, changes });
  }
  return points;
}

/** Redis's boolean config values, in any case. */
function parseYesNo(value: string): boolean | null {
  const word = value.toLowerCase();
  return word === "yes" ? true : word === "no" ? false : null;
}

/** `BGREWRITEAOF` with the log off, as Redis allows: write a compact log file all the same. */
async function rewriteWithoutLog(
  path: string,
  chunks: Iterable<DatabaseChunk>,
  options: { tempPath: string; encode: (out: RespWriter, entry: Entry) => void },
): Promise<number> {
  const file = await Deno.open(options.tempPath, { write: true, create: true, truncate: true });
  try {
    const keys = await writeCompact(file, chunks, options.encode);
    await file.syncData();
    file.close();
    await Deno.rename(options.tempPath, path);
    await fsyncDir(dirname(path));
    return keys;
  } catch (error) {
    try {
      file.close();
    } catch {
      // Already closed.
    }
    removeQuietly(options.tempPath);
    throw error;
  }
}

/**
 * The log command that gives a key its memcached flags, if the memcache module registered one.
 * It is looked up by name so that this module does not depend on the memcache module.
 */
function flagsCommand(server: ServerState, entry: Entry): string[] | null {
  return server.commands.get(FLAGS_COMMAND) !== undefined
    ? [FLAGS_COMMAND, entry.key, String(entry.flags)]
    : null;
}

/** The memcache module's log command for flags: `MCFLAGS key flags` (see `memcache/`). */
const FLAGS_COMMAND = "MCFLAGS";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
