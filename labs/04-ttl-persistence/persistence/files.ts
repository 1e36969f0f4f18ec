/**
 * The few file-system moves that make a write durable and atomic.
 *
 * A new file is only safe once three things have reached the disk, in this order:
 *
 * 1. its bytes — `write()` only copies them into the kernel's page cache, `fsync()` (here
 *    `syncData()`, which is `fdatasync()`) waits until the device has them;
 * 2. its name — `rename(temp, final)` swaps the name over in one step, so a reader sees the old
 *    file or the new one, never half of each;
 * 3. the directory — the rename is a change to the directory, and it too sits in the page cache
 *    until the directory itself is fsynced. Skip this and a power cut can bring the old file back.
 *
 * Loading goes the other way, and needs one thing from here: a whole file read into memory at once.
 *
 * @module
 */

import { join } from "node:path";

/**
 * Reads a whole file into one buffer of its size, blocking the event loop: what loading a
 * snapshot or a log does first.
 *
 * `Deno.readFileSync` does the same job, but measured slower on a big snapshot (`bench/README.md`,
 * "Restart"). Here the size is asked of the open file, and the bytes are read straight into a
 * buffer of that size.
 *
 * @param path The file.
 * @returns Its bytes.
 * @throws {Deno.errors.NotFound} If there is no such file.
 *
 * @example
 * ```ts
 * const bytes = readWholeFileSync("data/dump.rdb");
 * ```
 */
export function readWholeFileSync(path: string): Uint8Array {
  const file = Deno.openSync(path, { read: true });
  try {
    const bytes = new Uint8Array(file.statSync().size);
    let done = 0;
    // read() may return fewer bytes than asked; loop until the buffer is full or the file ends.
    while (done < bytes.length) {
      const n = file.readSync(bytes.subarray(done));
      if (n === null) return bytes.subarray(0, done);
      done += n;
    }
    // A file that grew after its size was taken is read again whole rather than cut short.
    return file.readSync(new Uint8Array(1)) === null ? bytes : Deno.readFileSync(path);
  } finally {
    file.close();
  }
}

/**
 * Writes every byte of `bytes` to a file opened for writing, blocking the event loop.
 *
 * @param file An open file.
 * @param bytes What to write.
 */
export function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let done = 0;
  // write() may write fewer bytes than asked (a signal, a full pipe); loop until all are out.
  while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
}

/**
 * Writes every byte of `bytes` to a file opened for writing.
 *
 * @param file An open file.
 * @param bytes What to write; the caller must not change them until the promise settles.
 */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

/**
 * Makes a directory's entries (a rename, a new file) durable, blocking the event loop.
 *
 * @param dir The directory.
 */
export function fsyncDirSync(dir: string): void {
  const handle = Deno.openSync(dir, { read: true });
  try {
    handle.syncSync();
  } finally {
    handle.close();
  }
}

/**
 * Makes a directory's entries (a rename, a new file) durable.
 *
 * @param dir The directory.
 */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/**
 * A temporary file name in `dir` that no other process or concurrent job uses, in the style of
 * Redis's `temp-<pid>.rdb`.
 *
 * @param dir The directory the final file goes to (a rename only is atomic within one file system).
 * @param kind What is being written, such as `snapshot` or `rewriteaof`.
 * @param extension The final file's extension, such as `rdb`.
 * @returns A path such as `data/temp-snapshot-1234.rdb`.
 */
export function tempPath(dir: string, kind: string, extension: string): string {
  return join(dir, `temp-${kind}-${Deno.pid}.${extension}`);
}

/** The names {@link tempPath} makes: `temp-<kind>-<pid>.<extension>`, and nothing else. */
const TEMP_NAME = /^temp-[a-z]+-\d+\.[a-z]+$/;

/**
 * Removes the temporary files a crashed run left in `dir`, and logs their names.
 *
 * A crash (or `kill -9`) in the middle of a save leaves its `temp-*` file behind; nothing will
 * ever rename it, and each one can be as big as the whole data set. Only files whose names
 * {@link tempPath} makes are touched, never one a person put there. Called before this server
 * writes anything, so none of them is its own; and two servers never share a data directory
 * (each would overwrite the other's snapshot), so none belongs to a save still running. Telling
 * a live process's file apart by its id would need `/proc`, which Deno opens only with
 * `--allow-all`.
 *
 * @param dir The data directory.
 * @param log Writes the line that names what was removed.
 * @returns The names of the files removed, sorted.
 */
export function removeStaleTempFiles(dir: string, log: (line: string) => void): string[] {
  const removed: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isFile || !TEMP_NAME.test(entry.name)) continue;
    Deno.removeSync(join(dir, entry.name));
    removed.push(entry.name);
  }
  if (removed.length > 0) {
    removed.sort();
    log(`Removed temporary files left by an earlier run in ${dir}: ${removed.join(", ")}`);
  }
  return removed;
}

/**
 * Removes a file if it is there; a temporary file left by a failed job is not worth an error.
 *
 * @param path The file.
 */
export function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone, or never created.
  }
}
