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
 * `append()` puts the command in one buffer in memory (a `RespWriter`): a copy of the bytes the
 * client sent when they are already the log's format, otherwise its arguments, encoded later in one
 * go. That is all a write command pays. Before the replies go out, the buffer goes to the file with
 * one `write()` for every client served in that turn of the event loop (as Redis writes
 * its AOF buffer once per turn of its own loop, before it sends any reply). `write()` puts the
 * bytes in the kernel's page cache: they survive the server crashing (`kill -9`), not the machine
 * losing power. Surviving that needs `fsync()`, which waits for the disk and costs from tens of
 * microseconds to many milliseconds. The `appendfsync` policy says when to pay it:
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
import { RequestDecoder } from "../../../shared/resp/request_decoder.ts";
import type { Entry } from "../keyspace.ts";
import { fsyncDir, removeQuietly, writeAll, writeAllSync } from "./files.ts";

/** `--appendfsync`: when the log is fsynced. */
export type FsyncPolicy = "always" | "everysec" | "no";

/** Makes a file's written bytes durable; `fdatasync()` by default, replaceable in tests. */
export type FsyncFunction = (file: Deno.FsFile) => Promise<void>;

const defaultFsync: FsyncFunction = (file) => file.syncData();

/** Options for {@link AppendOnlyLog}. */
export interface LogOptions {
  /** When to fsync. */
  policy: FsyncPolicy;
  /** How to fsync; a test counts calls with its own. */
  fsync?: FsyncFunction;
  /** Writes a line to the server's log. */
  log?: (line: string) => void;
}

/** One waiting `always` client: resolved once the log is durable up to `target`. */
interface Waiter {
  target: number;
  resolve: () => void;
  reject: (error: unknown) => void;
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
  /** The fsync policy. */
  readonly policy: FsyncPolicy;
  /** How many fsyncs of the log have completed (tests check group commit with it). */
  fsyncs = 0;
  /** The last write or fsync error, or `null` (`INFO` `aof_last_write_status`). */
  lastError: unknown = null;

  #file: Deno.FsFile;
  #fsync: FsyncFunction;
  #log: (line: string) => void;
  /**
   * Commands appended since the last write, not encoded yet. They are encoded in one go just
   * before the write (see {@link append}); until then each is only a reference to its arguments.
   */
  #queued: (readonly string[])[] = [];
  /** The encoded commands not written yet. */
  #pending = new RespWriter();
  #appended = 0;
  #written = 0;
  #synced = 0;
  #waiters: Waiter[] = [];
  #committing = false;
  /** Another copy of every command appended while a rewrite runs; `null` otherwise. */
  #rewriteBuffer: RespWriter | null = null;
  /** Fsyncs and the file swap at the end of a rewrite take turns. */
  #diskLock = new Mutex();
  #timer: ReturnType<typeof setInterval> | undefined;
  #backgroundSync: Promise<void> | undefined;
  #flushed: Promise<void> | undefined;

  private constructor(path: string, file: Deno.FsFile, options: LogOptions) {
    this.path = path;
    this.policy = options.policy;
    this.#file = file;
    this.#fsync = options.fsync ?? defaultFsync;
    this.#log = options.log ?? (() => {});
    // One timer for every policy: it writes what no reply has flushed (a command logged by a
    // background job), and with everysec it is the once-a-second fsync.
    this.#timer = setInterval(() => this.#tick(), 1000);
  }

  /**
   * Opens a log for appending, creating it if needed.
   *
   * @param path The file.
   * @param options The fsync policy, and optionally the fsync function and a logger.
   * @returns The open log.
   */
  static async open(path: string, options: LogOptions): Promise<AppendOnlyLog> {
    const file = await Deno.open(path, { append: true, create: true });
    return new AppendOnlyLog(path, file, options);
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
   * Logs one write command. Cheap: it either copies the bytes the client sent, or only queues the
   * arguments, to be encoded with the rest of the turn's commands just before the write.
   *
   * A command the client sent as RESP and that needs no rewriting is already in the log's format,
   * byte for byte: `sentBy` still holds its frame, and copying it is cheaper than encoding the
   * arguments again: on the commands `redis-benchmark -t set` sends (a 16-byte key, a 3-byte
   * value, 45 bytes in all), the log's share of the JavaScript falls from about 70 to about 50 ns
   * a command (`deno bench bench/server_path_bench.ts`, group "log", fastest runs). The frame is
   * valid only until the decoder reads more, so it is copied at once, after whatever is queued,
   * to keep the order.
   *
   * Every other command (an inline one, one queued by `MULTI`, one rewritten with an absolute
   * time, a `DEL` of an expired key) is queued. Encoding the turn's queued commands one after the
   * other in one loop, rather than each as it ran in the middle of decoding, executing and
   * replying, took a fifth off what encoding costs in the server: `perf record` of
   * `redis-benchmark -c 50 -P 16 -t set -n 1200000` against `--appendfsync everysec`, six runs of
   * each taking turns, median samples in the encoder 526 → 422 (of about 6,000 in all). The likely
   * reason: in one loop the encoder's code and branch history stay warm, where one command at a
   * time they are evicted by all else a command does.
   *
   * @param args The command and its arguments, as byte strings. The log may keep the array until
   *   the write, so it must not be changed afterwards (no handler changes its arguments).
   * @param sentBy The decoder `args` came from, if the command is logged as the client sent it.
   */
  append(args: readonly string[], sentBy?: RequestDecoder): void {
    if (sentBy !== undefined) {
      const length = sentBy.lastFrameLength(args);
      if (length >= 0) {
        this.#encodeQueued();
        copyLastFrame(sentBy, length, this.#pending);
        this.#appended += length;
        if (this.#rewriteBuffer !== null) copyLastFrame(sentBy, length, this.#rewriteBuffer);
        return;
      }
    }
    this.#queued.push(args);
  }

  /**
   * Called before replies are sent, so that no client hears "OK" for a write the file has not
   * got. With `everysec` and `no`, the promise resolves once the buffer is written (one write
   * for all the clients served in this turn of the event loop); with `always`, once everything
   * appended so far is also fsynced (one fsync for every client waiting: group commit).
   *
   * @returns `undefined` when the replies may go at once, or a promise to await first.
   */
  beforeWrite(): Promise<void> | undefined {
    if (this.policy !== "always") {
      if (this.#queued.length === 0 && this.#pending.length === 0) return undefined;
      // One write for every connection whose batch ran in this turn of the event loop: the flush
      // is queued behind their batches, and each of them waits for it before replying. Measured
      // with `redis-benchmark -c 50 -P 16 -t set`, medians of 8 pairs against the server without
      // log, with the earlier encoder: writing at once instead, one write() per batch and no
      // promise to await, gave 0.70× where this gave 0.93×; the wait itself cost nothing
      // measurable (replies held for a flush that wrote nothing: 0.98×).
      return this.#flushed ??= new Promise<void>((resolve) => {
        queueMicrotask(() => {
          this.#flushed = undefined;
          this.#flush();
          resolve();
        });
      });
    }
    // The target is a byte position, so this batch's commands are encoded now, not at the write.
    this.#encodeQueued();
    const target = this.#appended;
    if (target <= this.#synced) return undefined;
    const done = new Promise<void>((resolve, reject) => {
      this.#waiters.push({ target, resolve, reject });
    });
    if (!this.#committing) void this.#commit();
    return done;
  }

  /**
   * Writes and fsyncs everything appended so far, whatever the policy (shutdown, tests).
   */
  async sync(): Promise<void> {
    await this.#writeAndSync();
  }

  /** Flushes, fsyncs and closes the file, and stops the timer. */
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
    start: () => Iterable<Entry[]>,
    options: { tempPath: string; encode: (out: RespWriter, entry: Entry) => void },
  ): Promise<number> {
    // The freeze and the start of collecting happen in one synchronous step, so every write is
    // either in the frozen view or in the rewrite buffer, never in neither and never in both.
    // Commands queued so far ran before the freeze: they go to the old log only.
    this.#encodeQueued();
    this.#rewriteBuffer = new RespWriter();
    const chunks = start();
    let temp: Deno.FsFile | undefined;
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
        const old = this.#file;
        this.#file = file;
        this.#rewriteBuffer = null;
        // The unwritten commands are in the new file already (they were in the rewrite buffer).
        this.#pending.take();
        this.#written = this.#appended;
        old.close();
        // Until the new file and its name are durable, an fsync of it proves nothing, so the
        // lock is held (no `always` client is acknowledged) until both are.
        const covered = this.#written;
        await this.#fsync(file);
        await fsyncDir(dirname(this.path));
        this.#markSynced(covered);
      });
      return keys;
    } catch (error) {
      this.#rewriteBuffer = null;
      if (temp !== undefined && temp !== this.#file) {
        try {
          temp.close();
        } catch {
          // Already closed.
        }
      }
      removeQuietly(options.tempPath);
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
    const rewriteBuffer = this.#rewriteBuffer;
    if (rewriteBuffer !== null) {
      for (let i = 0; i < count; i++) {
        rewriteBuffer.bulkArray(queued[i]);
      }
    }
    queued.length = 0;
  }

  /** Writes the buffer to the file: one system call for every command since the last flush. */
  #flush(): void {
    this.#encodeQueued();
    if (this.#pending.length === 0) return;
    const bytes = this.#pending.take();
    try {
      writeAllSync(this.#file, bytes);
      this.#written += bytes.length;
      this.lastError = null;
    } catch (error) {
      // The bytes are lost to the file; count them as written so that nobody waits forever, and
      // make the failure loud. `always` clients waiting for them are refused below.
      this.#written += bytes.length;
      this.#fail(error);
    }
    this.#pending.shrink();
  }

  /** The group-commit loop: one write and one fsync per round, for every client waiting. */
  async #commit(): Promise<void> {
    this.#committing = true;
    try {
      while (this.#waiters.length > 0) {
        await this.#writeAndSync();
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#committing = false;
    }
  }

  #markSynced(covered: number): void {
    if (covered > this.#synced) this.#synced = covered;
    const waiters = this.#waiters;
    // Targets only grow, so the waiters are in order: wake the satisfied ones from the front.
    let n = 0;
    while (n < waiters.length && waiters[n].target <= this.#synced) waiters[n++].resolve();
    if (n > 0) waiters.splice(0, n);
  }

  #fail(error: unknown): void {
    this.lastError = error;
    this.#log(`Error writing to the append only file ${this.path}: ${error}`);
    // A client waiting for durability must not be told "OK" for a write that may not be there.
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  #tick(): void {
    this.#flush();
    if (this.policy !== "everysec" || this.#backgroundSync !== undefined) return;
    if (this.#written <= this.#synced) return;
    // In the background: no client waits for it. Redis hands it to a thread for the same reason.
    this.#backgroundSync = this.#writeAndSync()
      .catch((error) => this.#fail(error))
      .finally(() => this.#backgroundSync = undefined);
  }

  /**
   * Under the disk lock (a rewrite may be swapping files): writes what is pending, fsyncs, and
   * wakes every client whose write that covered.
   */
  #writeAndSync(): Promise<void> {
    return this.#diskLock.runExclusive(async () => {
      this.#flush();
      const covered = this.#written;
      await this.#fsync(this.#file);
      this.fsyncs++;
      this.#markSynced(covered);
    });
  }
}

/**
 * Writes a compact log of the given keys to an open file, a chunk at a time.
 *
 * @param file Open for writing.
 * @param chunks The keys.
 * @param encode Turns a key into its commands.
 * @returns How many keys were written.
 */
export async function writeCompact(
  file: Deno.FsFile,
  chunks: Iterable<Entry[]>,
  encode: (out: RespWriter, entry: Entry) => void,
): Promise<number> {
  const out = new RespWriter();
  let keys = 0;
  for (const chunk of chunks) {
    for (const entry of chunk) encode(out, entry);
    keys += chunk.length;
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
      if (this.#decoder.buffered > 0) {
        return this.#stop({
          kind: "torn",
          validUpTo: start,
          detail: `an incomplete command (${bytes.length - start} bytes)`,
        });
      }
      return this.#stop({ kind: "ok" });
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

/**
 * Copies the frame of the command a decoder returned last to the end of `out`: the log's cheap
 * path for a command logged as its client sent it.
 *
 * @param source The decoder.
 * @param length What `source.lastFrameLength()` said of the command (not -1).
 * @param out Where the log's bytes collect.
 */
export function copyLastFrame(source: RequestDecoder, length: number, out: RespWriter): void {
  source.copyLastFrame(out.reserve(length), out.length);
  out.advance(length);
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
