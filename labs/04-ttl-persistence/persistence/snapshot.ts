/**
 * The snapshot file: every key at one moment, in a small versioned binary format with a checksum.
 *
 * Redis calls its snapshot an RDB file. Ours is simpler, but it keeps RDB's essentials: a magic
 * number so that a wrong file is recognised at once, a version so that the format can change, and
 * a checksum so that a damaged file is refused rather than loaded half-right. All numbers are
 * little-endian.
 *
 * ```
 * offset  size  field
 * 0       8     magic: the ASCII bytes "CLABSNAP"
 * 8       2     format version: 1
 * 10      8     when the snapshot's moment was, in milliseconds since the epoch
 * 18            records, one per key:
 *           1     kind: 0x10, plus 0x01 if an expiry follows, plus 0x02 if flags follow
 *           4     key length K
 *           4     value length V
 *           8     expiry, milliseconds since the epoch          (only if kind has 0x01)
 *           4     memcached flags                               (only if kind has 0x02)
 *           K     key bytes
 *           V     value bytes
 * then    1     end marker: 0xFF
 *         8     how many records there were
 *         4     CRC-32 of every byte before it (the IEEE polynomial of zlib, gzip and PNG)
 * ```
 *
 * Example: the key `a` with value `1`, no expiry, no flags, is the 11 bytes
 * `10 01 00 00 00 01 00 00 00 61 31`.
 *
 * The fixed-size fields of a record come before its two byte strings, so the loader reads a
 * record's shape in one place and then cuts the two strings out of the file buffer. Lengths of
 * 32 bits allow values up to 4 GiB, more than Redis's 512 MiB limit. A zero byte is not a valid
 * kind, so a block of zeros (a common kind of damage) is caught at its first byte even before the
 * checksum is compared.
 *
 * Loading reads the whole file with one call, checks the checksum over all of it (zlib's CRC-32
 * runs at gigabytes per second), and only then touches the keyspace: a damaged file is refused
 * before a single key is loaded, and it is never written to.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { SHORT_BYTE_STRING, shortByteString, writeByteString } from "../../../shared/resp/bytes.ts";
import type { Entry } from "../keyspace.ts";
import { fsyncDir, fsyncDirSync, removeQuietly, writeAll, writeAllSync } from "./files.ts";

/** The first eight bytes of every snapshot. */
export const SNAPSHOT_MAGIC = "CLABSNAP";
/** The format version this code writes and reads. */
export const SNAPSHOT_VERSION = 1;

const HEADER_SIZE = 18;
const TRAILER_SIZE = 1 + 8 + 4;
const KIND_KEY = 0x10;
const HAS_EXPIRY = 0x01;
const HAS_FLAGS = 0x02;
const END = 0xff;
const TWO_32 = 2 ** 32;
/** The encoder hands bytes to the file in pieces of about this size. */
const CHUNK_BYTES = 1024 * 1024;

/** A snapshot that cannot be loaded: damaged, truncated, or not a snapshot at all. */
export class SnapshotError extends Error {
  /**
   * Describes what is wrong with a snapshot file.
   *
   * @param file The file's path.
   * @param offset The byte where the problem was found, or `null` if it cannot be placed.
   * @param detail What is wrong.
   */
  constructor(readonly file: string, readonly offset: number | null, readonly detail: string) {
    super(
      `Snapshot ${file} is corrupt${offset === null ? "" : ` at byte offset ${offset}`}: ` +
        `${detail}. The file was left untouched; move it away to start without it`,
    );
    this.name = "SnapshotError";
  }
}

/**
 * Turns entries into snapshot bytes, a chunk at a time, keeping the running checksum.
 *
 * @example
 * ```ts
 * const encoder = new SnapshotEncoder(Date.now());
 * encoder.add({ key: "a", value: "1", expiresAt: null, flags: 0 });
 * const bytes = concat(encoder.take(), encoder.finish());
 * ```
 */
export class SnapshotEncoder {
  #buf = new Uint8Array(CHUNK_BYTES + 64);
  #pos = 0;
  #crc = 0;
  #count = 0;

  /**
   * Starts a snapshot with its header.
   *
   * @param createdAt The snapshot's moment, in milliseconds since the epoch.
   */
  constructor(createdAt: number) {
    writeByteString(SNAPSHOT_MAGIC, this.#buf, 0);
    this.#buf[8] = SNAPSHOT_VERSION & 0xff;
    this.#buf[9] = SNAPSHOT_VERSION >>> 8;
    this.#pos = 10;
    this.#u64(createdAt);
  }

  /** Bytes encoded and not yet taken. */
  get length(): number {
    return this.#pos;
  }

  /** Records encoded so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Appends one key.
   *
   * @param entry The key, its value, expiry and flags.
   */
  add(entry: Entry): void {
    const { key, value, expiresAt, flags } = entry;
    let kind = KIND_KEY;
    if (expiresAt !== null) kind |= HAS_EXPIRY;
    if (flags !== 0) kind |= HAS_FLAGS;
    this.#ensure(1 + 4 + 4 + 8 + 4 + key.length + value.length);
    this.#buf[this.#pos++] = kind;
    this.#u32(key.length);
    this.#u32(value.length);
    if (expiresAt !== null) this.#u64(expiresAt);
    if (flags !== 0) this.#u32(flags);
    writeByteString(key, this.#buf, this.#pos);
    this.#pos += key.length;
    writeByteString(value, this.#buf, this.#pos);
    this.#pos += value.length;
    this.#count++;
  }

  /**
   * Returns the bytes encoded since the last call, folding them into the checksum.
   *
   * The result is a view of the encoder's own buffer, valid until the next `add`: write it (and
   * await the write) before adding more.
   *
   * @returns The bytes.
   */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#pos);
    this.#crc = crc32(out, this.#crc);
    this.#pos = 0;
    return out;
  }

  /**
   * Ends the snapshot: the end marker, the record count, the checksum.
   *
   * @returns The last bytes of the file (including any not yet taken).
   */
  finish(): Uint8Array {
    this.#ensure(TRAILER_SIZE);
    this.#buf[this.#pos++] = END;
    this.#u64(this.#count);
    const body = this.#buf.subarray(0, this.#pos);
    const crc = crc32(body, this.#crc);
    this.#u32(crc);
    const out = this.#buf.subarray(0, this.#pos);
    this.#pos = 0;
    return out;
  }

  #u32(n: number): void {
    const b = this.#buf;
    b[this.#pos++] = n & 0xff;
    b[this.#pos++] = (n >>> 8) & 0xff;
    b[this.#pos++] = (n >>> 16) & 0xff;
    b[this.#pos++] = n >>> 24;
  }

  #u64(n: number): void {
    // A JavaScript number holds integers exactly up to 2^53, far beyond any date or key count.
    this.#u32(n % TWO_32);
    this.#u32(Math.floor(n / TWO_32));
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + extra));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }
}

/** What writing a snapshot did. */
export interface SaveResult {
  /** Keys written. */
  keys: number;
  /** Size of the file. */
  bytes: number;
}

/**
 * Writes a snapshot and blocks the event loop until it is on disk: what `SAVE` does. Nothing else
 * runs meanwhile, so the snapshot is trivially one point in time.
 *
 * The bytes go to a temporary file in the same directory, which is fsynced, renamed over `path`
 * in one step, and then the directory is fsynced (see `files.ts`). A crash at any moment leaves
 * either the old snapshot or the new one, never a mix.
 *
 * @param path The snapshot's final path.
 * @param entries The keys to write.
 * @param options The snapshot's moment, and the temporary file to write first.
 * @returns How many keys and bytes were written.
 */
export function writeSnapshotSync(
  path: string,
  entries: Iterable<Entry>,
  options: { createdAt: number; tempPath: string },
): SaveResult {
  const file = Deno.openSync(options.tempPath, { write: true, create: true, truncate: true });
  let bytes = 0;
  try {
    const encoder = new SnapshotEncoder(options.createdAt);
    for (const entry of entries) {
      encoder.add(entry);
      if (encoder.length >= CHUNK_BYTES) bytes += write(file, encoder.take());
    }
    bytes += write(file, encoder.take());
    bytes += write(file, encoder.finish());
    file.syncDataSync();
    file.close();
    Deno.renameSync(options.tempPath, path);
    fsyncDirSync(dirname(path));
    return { keys: encoder.count, bytes };
  } catch (error) {
    closeQuietly(file);
    removeQuietly(options.tempPath);
    throw error;
  }
}

function write(file: Deno.FsFile, bytes: Uint8Array): number {
  writeAllSync(file, bytes);
  return bytes.length;
}

/**
 * Writes a snapshot a chunk at a time, awaiting each write, so that clients are served between
 * chunks: what `BGSAVE` does. `chunks` must keep giving the keys as they were at one moment even
 * while they change (see `point_in_time.ts`).
 *
 * @param path The snapshot's final path.
 * @param chunks The keys, a batch at a time.
 * @param options The snapshot's moment, and the temporary file to write first.
 * @returns How many keys and bytes were written.
 */
export async function writeSnapshot(
  path: string,
  chunks: Iterable<Entry[]>,
  options: { createdAt: number; tempPath: string },
): Promise<SaveResult> {
  const file = await Deno.open(options.tempPath, { write: true, create: true, truncate: true });
  let bytes = 0;
  try {
    const encoder = new SnapshotEncoder(options.createdAt);
    for (const chunk of chunks) {
      for (const entry of chunk) encoder.add(entry);
      // Every await here is a moment where other clients' commands run.
      const out = encoder.take();
      bytes += out.length;
      await writeAll(file, out);
    }
    const out = encoder.finish();
    bytes += out.length;
    await writeAll(file, out);
    await file.syncData();
    file.close();
    await Deno.rename(options.tempPath, path);
    await fsyncDir(dirname(path));
    return { keys: encoder.count, bytes };
  } catch (error) {
    closeQuietly(file);
    removeQuietly(options.tempPath);
    throw error;
  }
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Already closed.
  }
}

/** What loading a snapshot did. */
export interface LoadResult {
  /** Keys added to the keyspace. */
  loaded: number;
  /** Keys in the file whose time had already passed, skipped. */
  expired: number;
  /** The snapshot's moment, in milliseconds since the epoch. */
  createdAt: number;
  /** Size of the file. */
  bytes: number;
}

/** Options for {@link decodeSnapshot}. */
export interface DecodeOptions {
  /** The file's name, for error messages. */
  file: string;
  /** Called with each key; returns whether it was kept (false: it had expired). */
  onEntry?: (entry: Entry) => boolean;
  /** Called now and then while loading, with the share of the file done (0 to 1). */
  onProgress?: (done: number, keys: number) => void;
}

/** How many records pass between two looks at the clock for a progress line. */
const PROGRESS_EVERY = 65_536;

/**
 * Checks a snapshot's bytes and hands each key to `onEntry`. The checksum is verified before the
 * first key is handed over, so a damaged file changes nothing.
 *
 * @param bytes The whole file.
 * @param options The file's name and what to do with each key.
 * @returns What was loaded.
 * @throws {SnapshotError} If the file is not a valid snapshot.
 */
export function decodeSnapshot(bytes: Uint8Array, options: DecodeOptions): LoadResult {
  const { file } = options;
  if (bytes.length < HEADER_SIZE + TRAILER_SIZE) {
    throw new SnapshotError(file, bytes.length, `file is ${bytes.length} bytes, too short`);
  }
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.toString("latin1", 0, 8);
  if (magic !== SNAPSHOT_MAGIC) {
    throw new SnapshotError(file, 0, `not a snapshot (starts with ${JSON.stringify(magic)})`);
  }
  const version = bytes[8] | (bytes[9] << 8);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotError(file, 8, `format version ${version} is not supported`);
  }
  const stored = u32(bytes, bytes.length - 4);
  const computed = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== computed) {
    // Walk the records without loading them: a truncated or overwritten file usually breaks the
    // structure somewhere, and that place is a better clue than "the checksum differs".
    walk(bytes, view, file, undefined, undefined);
    throw new SnapshotError(
      file,
      null,
      `checksum mismatch (stored 0x${hex(stored)}, computed 0x${hex(computed)}): ` +
        `some byte between 0 and ${bytes.length - 4} was changed`,
    );
  }
  return walk(bytes, view, file, options.onEntry, options.onProgress);
}

/** The decode loop: one pass over the records, cutting keys and values out of the buffer. */
function walk(
  bytes: Uint8Array,
  view: Buffer,
  file: string,
  onEntry: ((entry: Entry) => boolean) | undefined,
  onProgress: ((done: number, keys: number) => void) | undefined,
): LoadResult {
  const createdAt = u64(bytes, 10);
  const limit = bytes.length - 4; // the checksum is not part of the records
  let pos = HEADER_SIZE;
  let records = 0;
  let loaded = 0;
  for (;;) {
    if (pos >= limit) throw new SnapshotError(file, pos, "file ends before the end marker");
    const kind = bytes[pos];
    if (kind === END) break;
    if ((kind & 0xfc) !== KIND_KEY) {
      throw new SnapshotError(file, pos, `unknown record kind 0x${hex(kind, 2)}`);
    }
    const fixed = 9 + (kind & HAS_EXPIRY ? 8 : 0) + (kind & HAS_FLAGS ? 4 : 0);
    if (pos + fixed > limit) throw new SnapshotError(file, pos, "record cut short");
    const keyLength = u32(bytes, pos + 1);
    const valueLength = u32(bytes, pos + 5);
    let p = pos + 9;
    let expiresAt: number | null = null;
    if (kind & HAS_EXPIRY) {
      expiresAt = u64(bytes, p);
      p += 8;
    }
    let flags = 0;
    if (kind & HAS_FLAGS) {
      flags = u32(bytes, p);
      p += 4;
    }
    const keyEnd = p + keyLength;
    const valueEnd = keyEnd + valueLength;
    if (valueEnd > limit) {
      throw new SnapshotError(
        file,
        pos,
        `record of ${valueEnd - pos} bytes runs past the end of the file`,
      );
    }
    if (onEntry !== undefined) {
      // Keys and small values are built in JavaScript: for a few dozen bytes that beats a call
      // into the runtime (see shared/resp/bytes.ts), and a million keys make it count.
      const key = keyLength <= SHORT_BYTE_STRING
        ? shortByteString(bytes, p, keyLength)
        : view.toString("latin1", p, keyEnd);
      const value = valueLength <= SHORT_BYTE_STRING
        ? shortByteString(bytes, keyEnd, valueLength)
        : view.toString("latin1", keyEnd, valueEnd);
      if (onEntry({ key, value, expiresAt, flags })) loaded++;
    }
    pos = valueEnd;
    records++;
    if (onProgress !== undefined && records % PROGRESS_EVERY === 0) {
      onProgress(pos / bytes.length, loaded);
    }
  }
  if (pos + TRAILER_SIZE !== bytes.length) {
    throw new SnapshotError(
      file,
      pos,
      `end marker at the wrong place (${bytes.length - pos - 1} bytes follow it, not 12)`,
    );
  }
  const count = u64(bytes, pos + 1);
  if (count !== records) {
    throw new SnapshotError(file, pos + 1, `trailer says ${count} records, file holds ${records}`);
  }
  return { loaded, expired: records - loaded, createdAt, bytes: bytes.length };
}

/**
 * Loads a snapshot file into a keyspace, with a progress line about once a second for a big file.
 *
 * @param path The file.
 * @param load Adds one key to the keyspace; returns false if it had already expired.
 * @param log Writes a line to the server's log.
 * @returns What was loaded, or `null` if there is no such file.
 * @throws {SnapshotError} If the file is not a valid snapshot; the keyspace is then untouched.
 */
export function loadSnapshotFile(
  path: string,
  load: (entry: Entry) => boolean,
  log: (line: string) => void,
): LoadResult | null {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const started = performance.now();
  let lastReport = started;
  log(`Loading snapshot ${path} (${bytes.length} bytes)`);
  return decodeSnapshot(bytes, {
    file: path,
    onEntry: load,
    onProgress: (done, keys) => {
      const now = performance.now();
      if (now - lastReport < 1000) return;
      lastReport = now;
      log(`Loading snapshot: ${Math.floor(done * 100)}% done, ${keys} keys so far`);
    },
  });
}

function u32(b: Uint8Array, p: number): number {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

function u64(b: Uint8Array, p: number): number {
  return u32(b, p) + u32(b, p + 4) * TWO_32;
}

function hex(n: number, width = 8): string {
  return n.toString(16).padStart(width, "0");
}
