/**
 * A log file that fails on command, for tests: a full disk, a short write, `EIO` on a write or an
 * fsync, without root and without filling a real disk.
 *
 * It wraps the real open file, so everything that does succeed really reaches the file, and a test
 * can read the file afterwards exactly as a restarted server would. The errors look like the ones
 * Deno throws for the real conditions (`No space left on device (os error 28)`, code `ENOSPC`).
 *
 * ```ts
 * let faulty: FaultyFile | undefined;
 * const log = await AppendOnlyLog.open(path, {
 *   policy: "everysec",
 *   wrap: (file) => faulty = new FaultyFile(file),
 * });
 * faulty!.spaceLeft = 10;       // the disk fills up after 10 more bytes
 * ```
 *
 * @module
 */

import type { LogFile } from "./aof.ts";

/** An error as Deno reports a failed system call: its message and its `code`. */
export function ioError(code: "ENOSPC" | "EIO"): Error {
  const [text, errno] = code === "ENOSPC"
    ? ["No space left on device", 28]
    : ["Input/output error", 5];
  return Object.assign(new Error(`${text} (os error ${errno})`), { code });
}

/**
 * A {@link LogFile} over a real file, with faults a test switches on and off.
 */
export class FaultyFile implements LogFile {
  readonly #file: Deno.FsFile;
  /** Bytes the disk still takes; `Infinity` for no limit. A write past it is cut short, then fails. */
  spaceLeft: number = Infinity;
  /** The next this-many writes fail with `EIO` before writing anything. */
  failingWrites = 0;
  /** The next this-many fsyncs fail with `EIO`. */
  failingSyncs = 0;
  /** Truncating fails with `EIO` (a disk so broken that a short write cannot be taken back). */
  failTruncate = false;
  /** Called at the start of every fsync; a test may make it wait. */
  beforeSync: () => Promise<void> = () => Promise.resolve();
  /** Completed fsyncs. */
  syncs = 0;

  /**
   * Wraps an open file.
   *
   * @param file The real file.
   */
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  writeSync(bytes: Uint8Array): number {
    if (this.failingWrites > 0) {
      this.failingWrites--;
      throw ioError("EIO");
    }
    // A real full disk: write(2) takes what fits and returns that count; the next call fails.
    if (this.spaceLeft <= 0 && bytes.length > 0) throw ioError("ENOSPC");
    const n = this.#file.writeSync(bytes.subarray(0, Math.min(bytes.length, this.spaceLeft)));
    this.spaceLeft -= n;
    return n;
  }

  truncateSync(length: number): void {
    if (this.failTruncate) throw ioError("EIO");
    const before = this.#file.statSync().size;
    this.#file.truncateSync(length);
    // Truncating frees the space the cut bytes took.
    this.spaceLeft += Math.max(0, before - length);
  }

  async syncData(): Promise<void> {
    await this.beforeSync();
    if (this.failingSyncs > 0) {
      this.failingSyncs--;
      throw ioError("EIO");
    }
    await this.#file.syncData();
    this.syncs++;
  }

  close(): void {
    this.#file.close();
  }
}
