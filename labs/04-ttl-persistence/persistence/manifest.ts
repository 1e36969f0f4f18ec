/**
 * The log's manifest: a small file beside the append-only log that says "this server keeps a log
 * here". It exists so that a log that has gone missing is noticed.
 *
 * Without it, a start with `--appendonly yes` and no log cannot tell two cases apart: a server that
 * never had a log (load the snapshot, start a new log: right), and a log that was deleted or moved
 * while the server ran (the same steps start the server empty or stale, silently, and its next
 * write makes the loss permanent). Redis 7 tells them apart the same way: its multi-part log has a
 * manifest naming the files it needs, and it refuses to start when one is missing.
 *
 * The manifest is written once, right after the log is first created (or found without one), with
 * the same temp-file, fsync, rename, fsync-the-directory steps as every other file here, so it is
 * never half there. A crash between creating the log and writing the manifest leaves a log without
 * a manifest: the next start loads that log and writes the manifest then.
 *
 * ```
 * data/appendonly.aof            the log
 * data/appendonly.aof.manifest   "file appendonly.aof"
 * ```
 *
 * The other obvious design, recording in the snapshot that a log is expected, fails when there is no
 * snapshot yet (a log-only server), which is the common case.
 *
 * @module
 */

import { join } from "node:path";
import { fsyncDirSync, tempPath, writeAllSync } from "./files.ts";

/** A log that the manifest says exists and does not: starting would lose its writes. */
export class MissingLogError extends Error {
  /**
   * Describes the missing log.
   *
   * @param log The log's path.
   * @param manifest The manifest's path.
   */
  constructor(readonly log: string, readonly manifest: string) {
    super(
      `The append only file ${log} is missing, but ${manifest} says this server keeps one: it was ` +
        `deleted or moved, and starting without it would lose every write it holds. Put it back; ` +
        `or, to start from the snapshot alone and lose those writes, remove ${manifest}`,
    );
    this.name = "MissingLogError";
  }
}

/**
 * The manifest of one log.
 *
 * @example
 * ```ts
 * const manifest = new LogManifest("data", "appendonly.aof");
 * manifest.check(logExists);  // throws MissingLogError if the log should be there and is not
 * manifest.record();           // once the log exists
 * ```
 */
export class LogManifest {
  /** The manifest's path. */
  readonly path: string;
  readonly #dir: string;
  readonly #logName: string;

  /**
   * Names the manifest of a log.
   *
   * @param dir The data directory.
   * @param logName The log's file name in it.
   */
  constructor(dir: string, logName: string) {
    this.#dir = dir;
    this.#logName = logName;
    this.path = join(dir, `${logName}.manifest`);
  }

  /** Whether the manifest is there. */
  exists(): boolean {
    try {
      Deno.statSync(this.path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /**
   * Refuses a start whose log has gone missing.
   *
   * @param logExists Whether the log is there.
   * @throws {MissingLogError} If the manifest is there and the log is not.
   */
  check(logExists: boolean): void {
    if (!logExists && this.exists()) {
      throw new MissingLogError(join(this.#dir, this.#logName), this.path);
    }
  }

  /** Writes the manifest, durably, if it is not there yet. */
  record(): void {
    if (this.exists()) return;
    const temp = tempPath(this.#dir, "manifest", "manifest");
    const file = Deno.openSync(temp, { write: true, create: true, truncate: true });
    try {
      writeAllSync(file, new TextEncoder().encode(`file ${this.#logName}\n`));
      file.syncDataSync();
    } finally {
      file.close();
    }
    Deno.renameSync(temp, this.path);
    fsyncDirSync(this.#dir);
  }
}
