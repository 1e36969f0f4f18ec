/**
 * The append-only log (AOF): every write command, in the order it ran, as the RESP a client would
 * send. Replaying the file from the start rebuilds the keyspace.
 *
 * ```
 * *3\r\n$3\r\nSET\r\n$4\r\nname\r\n$5\r\nAlice\r\n
 * *5\r\n$3\r\nSET\r\n$7\r\nsession\r\n$3\r\nabc\r\n$4\r\nPXAT\r\n$13\r\n1795334197000\r\n
 * ```
 *
 * A relative time (`EX 10`) is logged as an absolute one (`PXAT ...`): replayed tomorrow, "ten
 * seconds from now" would mean something else.
 *
 * ## Writing: one buffer, three fsync policies
 *
 * `append()` queues the command's arguments; just before the write, the turn's queued commands are
 * encoded into one buffer in memory (a `RespWriter`) in one go. That is all a write command pays.
 * Before the replies go out, the buffer goes to the file with one `write()` for every client
 * served in that turn of the event loop (as Redis writes its AOF buffer once per turn of its own
 * loop, before it sends any reply). `write()` puts the bytes in the kernel's page cache: they
 * survive the server crashing (`kill -9`), not the machine losing power. Surviving that needs
 * `fsync()`, which waits for the disk and costs from tens of microseconds to many milliseconds.
 * The `appendfsync` policy says when to pay it:
 *
 * - `always`: before any reply goes out, everything logged so far is written *and* fsynced. An
 *   acknowledged write is on disk.
 * - `everysec`: written before the replies, fsynced once a second in the background. A power cut
 *   loses at most about a second; a crash of the server alone loses nothing.
 * - `no`: written before the replies, fsynced whenever the kernel likes (Linux: within ~30 s).
 *
 * ## Group commit
 *
 * With `always`, fifty clients each waiting for their own fsync would queue fifty fsyncs, one
 * after the other. But one fsync makes durable *everything* written before it. So the log runs one
 * fsync at a time, and every client that arrives while it runs waits for the next one, which then
 * covers all of them at once. Under load, each fsync carries a whole crowd of writes; databases
 * call this group commit. The disk sets the pace, not the number of clients.
 *
 * ## When the disk says no
 *
 * A `write()` can fail (`EIO`), or write only part of what it was given and then fail (`ENOSPC`:
 * the disk is full). An `fsync()` can fail too. What must never happen is the classic bug: the
 * half-written bytes stay in the file, the rest is dropped, and appending carries on after them.
 * The file then holds a broken command in its middle, and every write made after it is lost the
 * next time the server starts. So, as Redis's `flushAppendOnlyFile()` does:
 *
 * - a partial write is cut back off (`ftruncate` to the last good size), and the unwritten bytes
 *   stay in memory, to be written again, in order, before anything newer;
 * - until a write succeeds again, the log reports its error (`failure`), and the server refuses
 *   write commands with `-MISCONF Errors writing to the AOF file: No space left on device`, but
 *   keeps serving reads; the log retries once a second, and says when the error is solved;
 * - with `everysec` and `no`, the replies of the writes that could not be written wait for the
 *   retry, so even a `kill -9` while the disk is full loses nothing a client was told is done;
 * - with `always`, a failed write or fsync ends the server, as it ends Redis: those changes are
 *   already in memory, may already have been read by other clients whose replies wait with
 *   them, and cannot be rolled back. Nothing was acknowledged, the file ends on whole commands,
 *   and a restart brings back exactly what was acknowledged. (Retrying an `fsync()` that failed is
 *   not safe either: Linux may have dropped the dirty pages and report the next one as a success.)
 *
 * Every byte goes to the file through a {@link LogFile}, which a test replaces with one that fails
 * on command (see `fault_injection.ts`): a full disk is tested without filling a disk.
 *
 * ## Rewriting (`BGREWRITEAOF`)
 *
 * The log only grows: a counter incremented a million times is a million lines for one key. A
 * rewrite writes a new, compact log — one `SET` per live key, from a point-in-time view of the
 * keyspace — while clients keep writing. Their writes keep going to the old log (it stays complete
 * if the rewrite fails or the server crashes) *and* to a rewrite buffer. When the compact part is
 * done, the buffer is appended after it, the new file is fsynced and renamed over the old one in
 * one step, and the directory is fsynced. Every write made during the rewrite is in the new log.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { dirname } from "node:path";
import { Mutex } from "../../02-threaded/lock.ts";
import { RespWriter } from "../../../shared/resp/encoder.ts";
import { ProtocolError } from "../../../shared/resp/errors.ts";
import { RequestDecoder } from "../../02-threaded/request_decoder.ts";
import type { Entry } from "../keyspace.ts";
import type { DatabaseChunk } from "./point_in_time.ts";
import { fsyncDir, removeQuietly, writeAll, writeAllSync } from "./files.ts";

/** `--appendfsync`: when the log is fsynced. */
export type FsyncPolicy = "always" | "everysec" | "no";

/**
 * What the log needs of its file. A `Deno.FsFile` is one; a test wraps one in a file that fails on
 * command.
 */
export interface LogFile {
  /** Writes some of `bytes`, possibly fewer than all; throws on an error. */
  writeSync(bytes: Uint8Array): number;
  /** Cuts the file to `length` bytes. */
  truncateSync(length: number): void;
  /** Waits until the written bytes are on the device (`fdatasync()`). */
  syncData(): Promise<void>;
  /** Closes the file. */
  close(): void;
}

/** Turns an open file into the {@link LogFile} the log writes through (a test injects faults). */
export type WrapLogFile = (file: Deno.FsFile) => LogFile;

/** Options for {@link AppendOnlyLog}. */
export interface LogOptions {
  /** When to fsync. */
  policy: FsyncPolicy;
  /** Writes a line to the server's log. */
  log?: (line: string) => void;
  /** The file layer; the real file by default. */
  wrap?: WrapLogFile;
  /**
   * Called when, under `always`, a write or an fsync fails: the server cannot go on (see the
   * module's notes). The server logs the message and exits; a test records it.
   */
  fatal?: (message: string) => void;
}

/** The text of an error as `strerror()` gives it: `No space left on device`. */
export function describeIoError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ \(os error \d+\)$/, "");
}

/** Replies waiting until the log has reached `target`: written, or on disk with `always`. */
interface Waiter {
  target: number;
  resolve: () => void;
}

/**
 * The open log file and its write buffer.
 *
 * Positions are counted in bytes appended since the log was opened (`appended`, `written`,
 * `synced`), not file offsets, so they stay meaningful when a rewrite swaps the file underneath.
 *
 * @example
 * ```ts
 * const log = await AppendOnlyLog.open("data/appendonly.aof", { policy: "always" });
 * log.append(["SET", "k", "v"]);
 * await log.beforeWrite(); // now on disk
 * await log.close();
 * ```
 */
export class AppendOnlyLog {
  /** The log's path. */
  readonly path: string;
  /**
   * The fsync policy; `CONFIG SET appendfsync` changes it while the server runs. Each decision
   * reads it afresh, so a change takes effect at the next reply: clients already waiting for an
   * fsync under `always` are still woken by the group commit, and what `everysec` or `no` wrote
   * but did not fsync is covered by the first `always` fsync after the switch.
   */
  policy: FsyncPolicy;
  /** How many fsyncs of the log have completed (tests check group commit with it). */
  fsyncs = 0;

  #file: LogFile;
  #wrap: WrapLogFile;
  #log: (line: string) => void;
  #fatal: (message: string) => void;
  /** The file's length up to the last whole write: where a partial write is cut back to. */
  #size: number;
  /**
   * Commands appended since the last write, not encoded yet. They are encoded in one go just
   * before the write (see {@link append}); until then each is only a reference to its arguments.
   */
  #queued: (readonly string[])[] = [];
  /**
   * The database the log's last command ran in, as a replay will see it: a command for another
   * one is preceded by `SELECT`. Unknown (-1) in a file just opened, whose replay may end in any
   * database, and in a file being rewritten, whose compact part ends in any.
   */
  #selected = -1;
  /** The encoded commands not written yet. */
  #pending = new RespWriter();
  /** Bytes a failed write left unwritten: written again before anything in `#pending`. */
  #unwritten: Uint8Array | null = null;
  /** Why the last write failed; `null` once one succeeds. */
  #writeError: unknown = null;
  /** Why the last fsync failed; `null` once one succeeds. */
  #syncError: unknown = null;
  #appended = 0;
  #written = 0;
  #synced = 0;
  /** `always`: replies waiting for an fsync. */
  #waiters: Waiter[] = [];
  /** `everysec` and `no`: replies waiting for a write that failed to be retried. */
  #writeWaiters: Waiter[] = [];
  #committing = false;
  /** Another copy of every command appended while a rewrite runs; `null` otherwise. */
  #rewriteBuffer: RespWriter | null = null;
  /** Fsyncs and the file swap at the end of a rewrite take turns. */
  #diskLock = new Mutex();
  #timer: ReturnType<typeof setInterval> | undefined;
  #backgroundSync: Promise<void> | undefined;
  #flushed: Promise<void> | undefined;

  private constructor(path: string, file: Deno.FsFile, size: number, options: LogOptions) {
    this.path = path;
    this.policy = options.policy;
    this.#wrap = options.wrap ?? ((file) => file);
    this.#file = this.#wrap(file);
    this.#size = size;
    this.#log = options.log ?? (() => {});
    this.#fatal = options.fatal ?? ((message) => {
      this.#log(message);
      Deno.exit(1);
    });
    // One timer for every policy: it writes what no reply has flushed (a command logged by a
    // background job, a write that failed), and with everysec it is the once-a-second fsync.
    this.#timer = setInterval(() => this.#tick(), 1000);
  }

  /**
   * Opens a log for appending, creating it if needed.
   *
   * @param path The file.
   * @param options The fsync policy, and optionally a logger, a file layer and a fatal handler.
   * @returns The open log.
   */
  static async open(path: string, options: LogOptions): Promise<AppendOnlyLog> {
    const file = await Deno.open(path, { append: true, create: true });
    const { size } = await file.stat();
    return new AppendOnlyLog(path, file, size, options);
  }

  /** Whether a rewrite is collecting writes. */
  get rewriting(): boolean {
    return this.#rewriteBuffer !== null;
  }

  /** Bytes appended and not yet known to be on disk. */
  get unsynced(): number {
    this.#encodeQueued();
    return this.#appended - this.#synced;
  }

  /**
   * Why the log cannot be trusted to keep new writes right now: the last write or the last fsync
   * failed, and no later one has succeeded. `null` when all is well. While it is set the server
   * refuses write commands (`-MISCONF`), and `INFO` says `aof_last_write_status:err`.
   */
  get failure(): unknown {
    return this.#writeError ?? this.#syncError;
  }

  /**
   * Logs one write command: queues its arguments, to be encoded with the rest of the turn's
   * commands just before the write.
   *
   * The log is always encoded from the arguments, never copied from the bytes a client sent: the
   * arguments are what every write has, whichever protocol it came by (RESP, inline, memcached)
   * and whether or not it was rewritten, so there is one encoding and nothing to keep in step with
   * the network decoder. Encoding the turn's commands one after the other in one loop keeps the
   * encoder's code and branch history warm (`bench/README.md` has the measurements).
   *
   * @param args The command and its arguments, as byte strings. The log may keep the array until
   *   the write, so it must not be changed afterwards (no handler changes its arguments).
   * @param db The database it ran in; a `SELECT` goes first if the log's last command ran in
   *   another one, as Redis writes its AOF.
   */
  append(args: readonly string[], db = 0): void {
    // exercise step 13: queue the command, after a SELECT of its database if the last one ran in another
    if (db !== this.#selected) {
      this.#queued.push(["SELECT", String(db)]);
      this.#selected = db;
    }
    this.#queued.push(args);
    // exercise starter: this.#queued.push(args);
  }

  /**
   * Called before replies are sent, so that no client hears "OK" for a write the file has not
   * got. With `everysec` and `no`, the promise resolves once the buffer is written (one write
   * for all the clients served in this turn of the event loop; if it fails, once a retry
   * succeeds); with `always`, once everything appended so far is also fsynced (one fsync for every
   * client waiting: group commit).
   *
   * @returns `undefined` when the replies may go at once, or a promise to await first.
   */
  beforeWrite(): Promise<void> | undefined {
    if (this.policy !== "always") {
      // exercise step 13: write the turn's commands before any reply: one #flush() for all of its clients
      if (this.#queued.length === 0 && this.#pending.length === 0) return undefined;
      // One write for every connection whose batch ran in this turn of the event loop: the flush
      // is queued behind their batches, and each of them waits for it before replying
      // (`bench/README.md`: writing at once instead, one write per batch, was much slower).
      return this.#flushed ??= new Promise<void>((resolve) => {
        queueMicrotask(() => {
          this.#flushed = undefined;
          this.#flush();
          this.#wait(this.#writeWaiters, this.#written, this.#appended, resolve);
        });
      });
      // exercise starter: return undefined;
    }
    // exercise step 13: with always, wait until all appended is fsynced; one #commit() runs for every waiter
    // The target is a byte position, so this batch's commands are encoded now, not at the write.
    this.#encodeQueued();
    const target = this.#appended;
    if (target <= this.#synced) return undefined;
    const done = new Promise<void>((resolve) => {
      this.#waiters.push({ target, resolve });
    });
    if (!this.#committing) void this.#commit();
    return done;
    // exercise starter: return undefined;
  }

  /**
   * Writes and fsyncs everything appended so far, whatever the policy (shutdown, tests).
   *
   * @throws The write's or the fsync's error, if either fails.
   */
  async sync(): Promise<void> {
    await this.#writeAndSync();
    const failure = this.failure;
    if (failure !== null) throw failure;
  }

  /**
   * Flushes and fsyncs, then closes the file and stops the timer. If the flush or the fsync fails,
   * the file is closed all the same and the error is thrown. Whether the server may exit is
   * decided before, by a {@link sync} that succeeds (see `mod.ts`'s `shutdown()`).
   */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#backgroundSync;
    try {
      await this.sync();
    } finally {
      this.#file.close();
    }
  }

  /**
   * Rewrites the log compactly while writes continue (`BGREWRITEAOF`).
   *
   * @param start Called at once, before any await: freezes the keyspace and returns its keys in
   *   chunks. Writes after this moment are collected for the new log.
   * @param options The temporary file to write, and how to turn a key into commands.
   * @returns How many keys the compact part holds.
   */
  async rewrite(
    start: () => Iterable<DatabaseChunk>,
    options: { tempPath: string; encode: (out: RespWriter, entry: Entry) => void },
  ): Promise<number> {
    // The freeze and the start of collecting happen in one synchronous step, so every write is
    // either in the frozen view or in the rewrite buffer, never in neither and never in both.
    // Commands queued so far ran before the freeze: they go to the old log only.
    this.#encodeQueued();
    this.#rewriteBuffer = new RespWriter();
    // The buffer follows the compact part, which may end in any database: its first command
    // selects its own.
    this.#selected = -1;
    const chunks = start();
    let temp: Deno.FsFile | undefined;
    let swapped = false;
    try {
      temp = await Deno.open(options.tempPath, { write: true, create: true, truncate: true });
      const keys = await writeCompact(temp, chunks, options.encode);
      // Catch up with the writes made meanwhile, while clients may still be adding to them.
      for (let round = 0; round < 10 && this.#rewriteBuffer.length > 64 * 1024; round++) {
        await writeAll(temp, this.#takeRewriteBuffer());
      }
      const file = temp;
      await this.#diskLock.runExclusive(async () => {
        await writeAll(file, this.#takeRewriteBuffer());
        await file.syncData();
        // From here to the rename, nothing awaits: no command can run, none can be missed.
        writeAllSync(file, this.#takeRewriteBuffer());
        Deno.renameSync(options.tempPath, this.path);
        swapped = true;
        const old = this.#file;
        this.#file = this.#wrap(file);
        this.#size = file.statSync().size;
        this.#rewriteBuffer = null;
        // The unwritten commands, those of a failed write included, are in the new file already:
        // they ran before the freeze, or they are in the rewrite buffer.
        this.#pending.take();
        this.#unwritten = null;
        this.#written = this.#appended;
        this.#release(this.#writeWaiters, this.#written);
        this.#writeSucceeded();
        old.close();
        // Until the new file and its name are durable, an fsync of it proves nothing, so the
        // lock is held (no `always` client is acknowledged) until both are.
        const covered = this.#written;
        const synced = await this.#syncFile();
        await fsyncDir(dirname(this.path));
        if (!synced) throw this.failure;
        this.#markSynced(covered);
      });
      return keys;
    } catch (error) {
      this.#rewriteBuffer = null;
      if (!swapped) {
        try {
          temp?.close();
        } catch {
          // Already closed.
        }
        removeQuietly(options.tempPath);
      }
      throw error;
    }
  }

  #takeRewriteBuffer(): Uint8Array {
    this.#encodeQueued();
    const full = this.#rewriteBuffer;
    if (full === null) return new Uint8Array(0);
    // A fresh buffer for the writes that arrive while this one is being written out.
    this.#rewriteBuffer = new RespWriter();
    return full.take();
  }

  /** Encodes the queued commands, into the rewrite buffer too while a rewrite runs. */
  #encodeQueued(): void {
    const queued = this.#queued;
    const count = queued.length;
    if (count === 0) return;
    const pending = this.#pending;
    for (let i = 0; i < count; i++) this.#appended += pending.bulkArray(queued[i]);
    // exercise step 15: while a rewrite runs (#rewriteBuffer is set), encode the commands there too
    const rewriteBuffer = this.#rewriteBuffer;
    if (rewriteBuffer !== null) {
      for (let i = 0; i < count; i++) {
        rewriteBuffer.bulkArray(queued[i]);
      }
    }
    queued.length = 0;
    // exercise starter: queued.length = 0;
  }

  /**
   * Writes what is waiting to the file: one system call for every command since the last flush,
   * after the bytes of a write that failed, if any.
   */
  #flush(): void {
    this.#encodeQueued();
    if (this.#unwritten !== null) {
      const left = this.#writeOut(this.#unwritten);
      if (left !== null) {
        // Still failing: what was logged since joins the queue of bytes to retry, in order.
        this.#unwritten = this.#pending.length === 0 ? left : concat(left, this.#pending.take());
        this.#pending.shrink();
        return;
      }
      this.#unwritten = null;
    }
    if (this.#pending.length > 0) {
      const left = this.#writeOut(this.#pending.take());
      // The writer's buffer is reused for the next commands, so what is left is copied out.
      if (left !== null) this.#unwritten = left.slice();
      this.#pending.shrink();
    }
    if (this.#unwritten === null) this.#writeSucceeded();
  }

  /**
   * Writes bytes at the end of the file. On an error, a part already written is cut back off, so
   * the file always ends on a whole command.
   *
   * @returns `null` if every byte was written, else the bytes that were not (a view of `bytes`).
   */
  #writeOut(bytes: Uint8Array): Uint8Array | null {
    let done = 0;
    try {
      while (done < bytes.length) {
        const n = this.#file.writeSync(bytes.subarray(done));
        if (n <= 0) throw new Error("Short write: the file took no bytes");
        done += n;
      }
    } catch (error) {
      const partial = done;
      done = this.#cutBack(partial);
      this.#advance(done);
      this.#writeFailed(error, partial);
      return bytes.subarray(done);
    }
    this.#advance(done);
    return null;
  }

  #advance(bytes: number): void {
    this.#size += bytes;
    this.#written += bytes;
    if (this.#writeWaiters.length > 0) this.#release(this.#writeWaiters, this.#written);
  }

  /**
   * Removes the part of a failed write that reached the file.
   *
   * @returns How many of its bytes are still in the file: 0, unless the truncate failed too.
   */
  #cutBack(partial: number): number {
    if (partial === 0) return 0;
    try {
      this.#file.truncateSync(this.#size);
      return 0;
    } catch (error) {
      // The bytes stay, and the rest of the command follows them on the next try.
      this.#log(
        `Could not remove a short write from the append only file ${this.path} ` +
          `(ftruncate: ${describeIoError(error)}); keeping its ${partial} bytes`,
      );
      return partial;
    }
  }

  #writeFailed(error: unknown, partial: number): void {
    const first = this.#writeError === null;
    this.#writeError = error;
    if (this.policy === "always") {
      this.#fatal(
        "Can't recover from AOF write error when the AOF fsync policy is 'always': " +
          `${describeIoError(error)}. Exiting...`,
      );
      return;
    }
    // Once per error, not once per retry: a full disk would otherwise fill the log too.
    if (first) {
      this.#log(
        `Error writing to the append only file ${this.path}: ${describeIoError(error)}` +
          (partial > 0 ? ` (after ${partial} bytes)` : "") +
          "; write commands are refused until a retry succeeds",
      );
    }
  }

  #writeSucceeded(): void {
    if (this.#writeError === null) return;
    this.#writeError = null;
    this.#log("AOF write error looks solved, the server can write again");
  }

  /** The group-commit loop: one write and one fsync per round, for every client waiting. */
  async #commit(): Promise<void> {
    this.#committing = true;
    try {
      while (this.#waiters.length > 0 && this.failure === null) {
        await this.#writeAndSync();
      }
    } finally {
      this.#committing = false;
    }
  }

  /** Resolves `resolve` once `reached` is at `target`: now, or when a later write gets there. */
  #wait(waiters: Waiter[], reached: number, target: number, resolve: () => void): void {
    if (reached >= target) resolve();
    else waiters.push({ target, resolve });
  }

  /** Wakes the waiters whose target has been reached; targets only grow, so from the front. */
  #release(waiters: Waiter[], reached: number): void {
    let n = 0;
    while (n < waiters.length && waiters[n].target <= reached) waiters[n++].resolve();
    if (n > 0) waiters.splice(0, n);
  }

  #markSynced(covered: number): void {
    if (covered > this.#synced) this.#synced = covered;
    this.#release(this.#waiters, this.#synced);
  }

  /** Fsyncs the file, recording a failure (fatal under `always`) instead of throwing it. */
  async #syncFile(): Promise<boolean> {
    try {
      await this.#file.syncData();
    } catch (error) {
      const first = this.#syncError === null;
      this.#syncError = error;
      if (this.policy === "always") {
        this.#fatal(
          "Can't persist AOF for fsync error when the AOF fsync policy is 'always': " +
            `${describeIoError(error)}. Exiting...`,
        );
      } else if (first) {
        this.#log(
          `Error fsyncing the append only file ${this.path}: ${describeIoError(error)}; ` +
            "write commands are refused until an fsync succeeds",
        );
      }
      return false;
    }
    this.fsyncs++;
    if (this.#syncError !== null) {
      this.#syncError = null;
      this.#log("AOF fsync error looks solved, the server can write again");
    }
    return true;
  }

  #tick(): void {
    this.#flush();
    // exercise step 13: with everysec, start one background #writeAndSync() when written bytes wait for it
    if (this.policy !== "everysec" || this.#backgroundSync !== undefined) return;
    if (this.#written <= this.#synced && this.#syncError === null) return;
    // In the background: no client waits for it. Redis hands it to a thread for the same reason.
    this.#backgroundSync = this.#writeAndSync().finally(() => this.#backgroundSync = undefined);
    // exercise starter: return;
  }

  /**
   * Under the disk lock (a rewrite may be swapping files): writes what is pending, fsyncs, and
   * wakes every client whose write that covered. A failure is recorded, not thrown.
   */
  #writeAndSync(): Promise<void> {
    return this.#diskLock.runExclusive(async () => {
      this.#flush();
      if (this.#writeError !== null) return;
      const covered = this.#written;
      if (await this.#syncFile()) this.#markSynced(covered);
    });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Writes a compact log of the given keys to an open file, a chunk at a time, each database's
 * after a `SELECT` of it.
 *
 * @param file Open for writing.
 * @param chunks The keys, each chunk from one database, a database's chunks together.
 * @param encode Turns a key into its commands.
 * @returns How many keys were written.
 */
export async function writeCompact(
  file: Deno.FsFile,
  chunks: Iterable<DatabaseChunk>,
  encode: (out: RespWriter, entry: Entry) => void,
): Promise<number> {
  const out = new RespWriter();
  let keys = 0;
  let selected = -1;
  for (const { db, entries } of chunks) {
    if (db !== selected) out.bulkArray(["SELECT", String(db)]);
    selected = db;
    for (const entry of entries) encode(out, entry);
    keys += entries.length;
    await writeAll(file, out.take());
    out.shrink();
  }
  return keys;
}

/** A log that cannot be replayed: bytes that are not a command, before the end of the file. */
export class AofError extends Error {
  /**
   * Describes what is wrong with a log file.
   *
   * @param file The file's path.
   * @param offset The first bad byte.
   * @param detail What is wrong.
   */
  constructor(readonly file: string, readonly offset: number, readonly detail: string) {
    super(
      `Bad file format reading the append only file ${file} at byte offset ${offset}: ${detail}. ` +
        `The file was left untouched; inspect it with "deno task lab4:check-aof ${file}"`,
    );
    this.name = "AofError";
  }
}

/** How a log ended, as {@link AofReader} found it. */
export type AofEnd =
  | { kind: "ok" }
  | { kind: "torn"; validUpTo: number; detail: string }
  | { kind: "corrupt"; offset: number; detail: string };

/** One command read from a log, with where it sits in the file. */
export interface AofCommand {
  /** The command and its arguments. */
  args: string[];
  /** Its first byte. */
  offset: number;
  /** One past its last byte. */
  end: number;
}

const STAR = 0x2a;
const CR = 0x0d;
const LF = 0x0a;
/** The decoder is fed this much at a time, so a big log is not copied whole into its buffer. */
const FEED_BYTES = 1024 * 1024;

/**
 * Reads a log's commands one at a time and says how the file ends: cleanly, torn (the last
 * command incomplete — the server died in the middle of writing it), or corrupt (bytes that are
 * not a command, somewhere before the end).
 *
 * It reuses the server's own RESP decoder, adding what a file needs and a socket does not:
 * commands must be arrays (a log never holds the inline form), every bulk string must end with
 * CRLF, and a `MULTI` without its `EXEC` at the end counts as torn (the transaction is cut off as
 * a whole, as Redis does).
 *
 * @example
 * ```ts
 * const reader = new AofReader(Deno.readFileSync("data/appendonly.aof"));
 * for (let c = reader.next(); c !== null; c = reader.next()) console.log(c.offset, c.args);
 * console.log(reader.end); // { kind: "ok" }
 * ```
 */
export class AofReader {
  #bytes: Uint8Array;
  #decoder = new RequestDecoder();
  #fed = 0;
  #multiAt = -1;
  #end: AofEnd | undefined;
  /** Commands read so far. */
  commands = 0;

  /**
   * Starts reading a log.
   *
   * @param bytes The whole file.
   */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** How the file ended; set once {@link next} has returned `null`. */
  get end(): AofEnd | undefined {
    return this.#end;
  }

  /**
   * Reads the next command.
   *
   * @returns The command, or `null` at the end of the file or at the first bad byte.
   */
  next(): AofCommand | null {
    if (this.#end !== undefined) return null;
    const bytes = this.#bytes;
    for (;;) {
      const start = this.#fed - this.#decoder.buffered;
      if (start < bytes.length) {
        if (bytes[start] !== STAR) {
          return this.#stop({
            kind: "corrupt",
            offset: start,
            detail: `expected '*' to start a command, found ${describeByte(bytes[start])}`,
          });
        }
        // `*0` and `*-1` are valid RESP that the decoder skips, but no log ever holds them.
        const next = bytes[start + 1];
        if (next === 0x30 || next === 0x2d) {
          return this.#stop({ kind: "corrupt", offset: start, detail: "empty command" });
        }
      }
      let args: string[] | null;
      try {
        args = this.#decoder.next();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        return this.#stop({ kind: "corrupt", offset: start, detail: error.message });
      }
      if (args !== null) {
        const end = this.#fed - this.#decoder.buffered;
        const bad = findBadTerminator(bytes, start, args);
        if (bad >= 0) {
          return this.#stop({
            kind: "corrupt",
            offset: bad,
            detail: "a line does not end with \\r\\n",
          });
        }
        this.#trackTransaction(args, start);
        this.commands++;
        return { args, offset: start, end };
      }
      if (this.#fed < bytes.length) {
        const chunk = bytes.subarray(this.#fed, Math.min(bytes.length, this.#fed + FEED_BYTES));
        this.#decoder.push(chunk);
        this.#fed += chunk.length;
        continue;
      }
      // The end of the file.
      if (this.#multiAt >= 0) {
        return this.#stop({
          kind: "torn",
          validUpTo: this.#multiAt,
          detail: "a MULTI without its EXEC",
        });
      }
      // exercise step 14: bytes the decoder still holds at the end are half a command: torn where it starts
      if (this.#decoder.buffered > 0) {
        return this.#stop({
          kind: "torn",
          validUpTo: start,
          detail: `an incomplete command (${bytes.length - start} bytes)`,
        });
      }
      return this.#stop({ kind: "ok" });
      // exercise starter: return this.#stop({ kind: "ok" });
    }
  }

  #stop(end: AofEnd): null {
    this.#end = end;
    return null;
  }

  #trackTransaction(args: string[], offset: number): void {
    const name = args[0].toLowerCase();
    if (name === "multi") this.#multiAt = offset;
    else if (name === "exec" || name === "discard") this.#multiAt = -1;
  }
}

/**
 * Checks the line endings of a decoded command: the `\n` after each header's `\r`, and the CRLF
 * after each bulk string. The server's decoder takes those bytes unchecked, as Redis does on a
 * socket; in a file a wrong one means the lengths do not line up and the bytes after it cannot be
 * trusted.
 *
 * @returns The offset of the first wrong byte, or -1.
 */
function findBadTerminator(bytes: Uint8Array, start: number, args: string[]): number {
  // At the "\r" of `*<count>\r\n`, which the decoder found.
  let p = start + 1 + String(args.length).length;
  if (bytes[p + 1] !== LF) return p + 1;
  p += 2;
  for (const arg of args) {
    p += 1 + String(arg.length).length; // the "\r" of `$<length>\r\n`
    if (bytes[p + 1] !== LF) return p + 1;
    p += 2 + arg.length;
    if (bytes[p] !== CR) return p;
    if (bytes[p + 1] !== LF) return p + 1;
    p += 2;
  }
  return -1;
}

function describeByte(byte: number): string {
  return byte >= 0x20 && byte < 0x7f
    ? `'${String.fromCharCode(byte)}'`
    : `byte 0x${byte.toString(16).padStart(2, "0")}`;
}

/**
 * Describes bytes for a log line: printable ASCII as it is, anything else escaped, cut at `max`.
 *
 * @param bytes The bytes.
 * @param max At most this many characters of them.
 * @returns Such as `*3\r\n$3\r\nSET...`.
 */
export function preview(bytes: Uint8Array, max = 60): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, max))
    .toString("latin1");
  const escaped = JSON.stringify(text).slice(1, -1);
  return bytes.length > max ? `${escaped}...` : escaped;
}
