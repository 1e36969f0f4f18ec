/**
 * Reads Redis's RDB format (versions 6 to 10) for a server that stores only strings (Redis's
 * `rdbLoadRio`).
 *
 * The reader is a loop over opcodes (see `format.ts`): read one byte, and it says what follows.
 * Every read is bounds-checked, because the file may have been cut short or damaged: running out
 * of bytes, a length that points past the end, an opcode or type that does not exist all stop the
 * reader with the byte offset where the record that broke it started.
 *
 * It can walk a file in two ways. With `values: false` it checks the structure and skips each
 * key's bytes without building a string: cheap, and enough to find the AUX fields, count the
 * keys, and prove that every record is a string before the first key goes into the keyspace.
 * With `values: true` it hands each key, value and expiry to the caller.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { SHORT_BYTE_STRING, shortByteString } from "../../../../shared/resp/bytes.ts";
import {
  ENC_INT16,
  ENC_INT32,
  ENC_INT8,
  ENC_LZF,
  LEN_32BIT,
  LEN_64BIT,
  OP_AUX,
  OP_EOF,
  OP_EXPIRETIME,
  OP_EXPIRETIME_MS,
  OP_FREQ,
  OP_FUNCTION,
  OP_FUNCTION2,
  OP_IDLE,
  OP_MODULE_AUX,
  OP_RESIZEDB,
  OP_SELECTDB,
  RDB_MAGIC,
  RDB_OLDEST_VERSION,
  RDB_VERSION,
  TYPE_NAMES,
  TYPE_STRING,
} from "./format.ts";
import { lzfCheck, lzfDecompress } from "./lzf.ts";

const TWO_32 = 2 ** 32;
/** Magic and four version digits. */
export const RDB_HEADER_SIZE = 9;
/** How many keys pass between two calls of `onProgress`. */
const PROGRESS_EVERY = 65_536;

/** Why a file cannot be loaded: damaged (`corrupt`), or sound but holding what we cannot store. */
export type RdbProblem = "corrupt" | "unsupported";

/** A file the reader cannot load, and the byte where it found out. */
export class RdbError extends Error {
  /**
   * Describes the problem.
   *
   * @param problem Damaged, or holding something this server does not have.
   * @param offset The byte offset of the record (or field) at fault.
   * @param detail What is wrong, in words.
   */
  constructor(readonly problem: RdbProblem, readonly offset: number, readonly detail: string) {
    super(`${detail} (at byte offset ${offset})`);
    this.name = "RdbError";
  }
}

/** What {@link walkRdb} calls back with. */
export interface RdbVisitor {
  /** An AUX field (a byte string each), with the offset of its opcode. */
  aux?(name: string, value: string, offset: number): void;
  /** A string key and the database it is in, only when walking with `values: true`. */
  string?(key: string, value: string, expiresAt: number | null, db: number): void;
}

/** Options for {@link walkRdb}. */
export interface WalkOptions {
  /** Build each key and value and hand them to `visitor.string`; else only check and count. */
  values: boolean;
  /** Databases this server has; a key in a higher one is refused. */
  databases: number;
  /** Called every so many keys with the share of the file read so far (0 to 1). */
  onProgress?: (done: number, keys: number) => void;
}

/** How far a walk has come: what {@link walkRdbSteps} yields every so many keys. */
export interface WalkProgress {
  /** The share of the file read so far, 0 to 1. */
  done: number;
  /** Keys read so far. */
  keys: number;
}

/** What a walk found. */
export interface RdbSummary {
  /** The file's RDB version. */
  version: number;
  /** String keys in the file. */
  keys: number;
  /** Offset of the eight checksum bytes, just after the EOF opcode. */
  checksumOffset: number;
}

/**
 * Reads the magic and the version.
 *
 * @param bytes The file.
 * @returns The version.
 * @throws {RdbError} If it is not an RDB file, or one of a version this server does not read.
 */
export function readRdbVersion(bytes: Uint8Array): number {
  if (bytes.length < RDB_HEADER_SIZE) {
    throw new RdbError(
      "corrupt",
      bytes.length,
      `file is ${bytes.length} bytes, too short for the ${RDB_HEADER_SIZE}-byte header`,
    );
  }
  const magic = latin1(bytes, 0, 5);
  if (magic !== RDB_MAGIC) {
    throw new RdbError(
      "corrupt",
      0,
      `not an RDB file (it starts with ${JSON.stringify(latin1(bytes, 0, 8))}, not "REDIS")`,
    );
  }
  const digits = latin1(bytes, 5, RDB_HEADER_SIZE);
  const version = /^\d{4}$/.test(digits) ? Number(digits) : NaN;
  if (Number.isNaN(version)) {
    throw new RdbError("corrupt", 5, `RDB version ${JSON.stringify(digits)} is not a number`);
  }
  if (version > RDB_VERSION) {
    throw new RdbError(
      "unsupported",
      5,
      `RDB version ${version} is newer than this server reads (${RDB_OLDEST_VERSION} to ` +
        `${RDB_VERSION}, as Redis 2.8 to 7.0 write); it was written by a newer Redis`,
    );
  }
  if (version < RDB_OLDEST_VERSION) {
    throw new RdbError(
      "unsupported",
      5,
      `RDB version ${version} is older than this server reads (${RDB_OLDEST_VERSION} to ` +
        `${RDB_VERSION}); load it into a newer redis-server and SAVE it again`,
    );
  }
  return version;
}

/**
 * Walks an RDB file from its header to its EOF opcode (the checksum is the caller's to compare).
 *
 * @param bytes The whole file.
 * @param visitor What to do with AUX fields and keys.
 * @param options Whether to build values, how many databases there are, progress reports.
 * @returns The version, the number of keys, where the checksum is.
 * @throws {RdbError} At the first record that is damaged or holds something other than a string.
 */
export function walkRdb(bytes: Uint8Array, visitor: RdbVisitor, options: WalkOptions): RdbSummary {
  const steps = walkRdbSteps(bytes, visitor, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    options.onProgress?.(step.value.done, step.value.keys);
  }
}

/**
 * {@link walkRdb}, a piece at a time: it stops every so many keys to say how far it has come, so
 * that a server loading a big file can serve its clients (`-LOADING`) between two pieces.
 *
 * @param bytes The whole file.
 * @param visitor What to do with AUX fields and keys.
 * @param options Whether to build values, how many databases there are.
 * @returns The walk: it yields its progress, and returns what {@link walkRdb} returns.
 * @throws {RdbError} At the first record that is damaged or holds something other than a string.
 */
export function* walkRdbSteps(
  bytes: Uint8Array,
  visitor: RdbVisitor,
  options: Omit<WalkOptions, "onProgress">,
): Generator<WalkProgress, RdbSummary, void> {
  const version = readRdbVersion(bytes);
  const r = new RdbCursor(bytes);
  r.pos = RDB_HEADER_SIZE;
  let db = 0;
  let keys = 0;
  // Set by an expiry opcode, used by the key that follows it, then cleared: an expiry belongs to
  // exactly one key.
  let expiresAt: number | null = null;
  for (;;) {
    const start = r.pos;
    const op = r.byte("an opcode");
    if (op === OP_EOF) break;
    switch (op) {
      case OP_EXPIRETIME_MS:
        expiresAt = r.int64();
        continue;
      case OP_EXPIRETIME:
        expiresAt = r.int32() * 1000;
        continue;
      case OP_IDLE:
        // An eviction hint: how long the next key had been idle. The keyspace here starts every
        // key fresh, so the hint is read and dropped, as Redis drops it under a different policy.
        r.length();
        continue;
      case OP_FREQ:
        r.byte("a frequency");
        continue;
      case OP_SELECTDB:
        db = r.length();
        continue;
      case OP_RESIZEDB:
        r.length();
        r.length();
        continue;
      case OP_AUX: {
        const name = r.string();
        const value = r.string();
        visitor.aux?.(name, value, start);
        continue;
      }
      case OP_MODULE_AUX:
        throw new RdbError(
          "unsupported",
          start,
          "the file holds data of a Redis module, which this server does not have",
        );
      case OP_FUNCTION:
      case OP_FUNCTION2:
        throw new RdbError(
          "unsupported",
          start,
          "the file holds Redis functions (FUNCTION LOAD), which this server does not have",
        );
    }
    if (op !== TYPE_STRING) {
      const type = TYPE_NAMES.get(op);
      if (type === undefined) {
        throw new RdbError("corrupt", start, `unknown opcode or value type 0x${hex(op)}`);
      }
      // Name the key: the user wants to know which one to delete or move before loading.
      const key = r.string();
      throw new RdbError(
        "unsupported",
        start,
        `key ${JSON.stringify(key)} is a ${type} (RDB type ${op}), and this server stores ` +
          `only strings`,
      );
    }
    if (db >= options.databases) {
      const key = r.string();
      throw new RdbError(
        "unsupported",
        start,
        `key ${JSON.stringify(key)} is in database ${db}, and this server has ` +
          (options.databases === 1 ? "only database 0" : `databases 0 to ${options.databases - 1}`),
      );
    }
    if (options.values) {
      const key = r.string();
      const value = r.string();
      visitor.string?.(key, value, expiresAt, db);
    } else {
      r.skipString();
      r.skipString();
    }
    expiresAt = null;
    keys++;
    if (keys % PROGRESS_EVERY === 0) yield { done: r.pos / bytes.length, keys };
  }
  return { version, keys, checksumOffset: r.pos };
}

/**
 * A position in the file and the reads RDB is made of, each checked against the end of the file.
 *
 * @example
 * ```ts
 * const r = new RdbCursor(new Uint8Array([0x01, 0x61]));
 * r.string(); // "a"
 * ```
 */
export class RdbCursor {
  /** The next byte to read. */
  pos = 0;
  readonly #bytes: Uint8Array;
  #view: Buffer;
  /** Where a compressed string is decompressed; grows to the longest one. */
  #scratch = new Uint8Array(1024);

  /**
   * Reads from the start of `bytes`.
   *
   * @param bytes The file.
   */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * One byte.
   *
   * @param what What the byte is, for the error if there is none.
   * @returns The byte.
   */
  byte(what: string): number {
    this.#need(1, what);
    return this.#bytes[this.pos++];
  }

  /**
   * Reads a length (of a string, or a count, or a database number).
   *
   * @returns The length; an encoded-string marker here is damage.
   */
  length(): number {
    const start = this.pos;
    const n = this.#lengthOrEncoding();
    if (n < 0) throw new RdbError("corrupt", start, "a string encoding where a length belongs");
    return n;
  }

  /**
   * Reads an expiry in milliseconds: a signed 64-bit little-endian integer.
   *
   * @returns It, as a number (exact up to 2^53, far beyond any date).
   */
  int64(): number {
    this.#need(8, "an expiry time");
    const lo = this.#u32le(this.pos);
    const hi = this.#u32le(this.pos + 4) | 0;
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  /**
   * Reads an old expiry in seconds: a signed 32-bit little-endian integer.
   *
   * @returns It.
   */
  int32(): number {
    this.#need(4, "an expiry time");
    const v = this.#u32le(this.pos) | 0;
    this.pos += 4;
    return v;
  }

  /**
   * Reads a string in any of RDB's encodings: plain, integer or LZF-compressed.
   *
   * @returns Its bytes, as a byte string.
   */
  string(): string {
    const start = this.pos;
    const n = this.#lengthOrEncoding();
    const b = this.#bytes;
    if (n >= 0) {
      this.#need(n, "a string");
      const p = this.pos;
      this.pos += n;
      // Short strings are built in JavaScript: for a few dozen bytes that beats a call into the
      // runtime (see shared/resp/bytes.ts), and a million keys make it count.
      return n <= SHORT_BYTE_STRING
        ? shortByteString(b, p, n)
        : this.#view.toString("latin1", p, p + n);
    }
    switch (-n - 1) {
      case ENC_INT8:
        this.#need(1, "an integer");
        return String((b[this.pos++] << 24) >> 24);
      case ENC_INT16: {
        this.#need(2, "an integer");
        const v = ((b[this.pos] | (b[this.pos + 1] << 8)) << 16) >> 16;
        this.pos += 2;
        return String(v);
      }
      case ENC_INT32: {
        this.#need(4, "an integer");
        const v = this.#u32le(this.pos) | 0;
        this.pos += 4;
        return String(v);
      }
      case ENC_LZF: {
        const { packed, length } = this.#lzfHeader();
        if (this.#scratch.length < length) {
          this.#scratch = new Uint8Array(Math.max(length, this.#scratch.length * 2));
        }
        const out = this.#scratch;
        let written: number;
        try {
          written = lzfDecompress(b, this.pos, packed, out, 0, length);
        } catch (error) {
          throw new RdbError("corrupt", start, `compressed string: ${(error as Error).message}`);
        }
        if (written !== length) {
          throw new RdbError(
            "corrupt",
            start,
            `compressed string decodes to ${written} bytes, not the ${length} announced`,
          );
        }
        this.pos += packed;
        return length <= SHORT_BYTE_STRING
          ? shortByteString(out, 0, length)
          : Buffer.from(out.buffer, 0, length).toString("latin1");
      }
      default:
        throw new RdbError("corrupt", start, `unknown string encoding ${-n - 1}`);
    }
  }

  /** Steps over a string without building it (a compressed one is still checked). */
  skipString(): void {
    const start = this.pos;
    const n = this.#lengthOrEncoding();
    if (n >= 0) {
      this.#need(n, "a string");
      this.pos += n;
      return;
    }
    const encoding = -n - 1;
    if (encoding === ENC_INT8 || encoding === ENC_INT16 || encoding === ENC_INT32) {
      const size = encoding === ENC_INT8 ? 1 : encoding === ENC_INT16 ? 2 : 4;
      this.#need(size, "an integer");
      this.pos += size;
    } else if (encoding === ENC_LZF) {
      // Checked, not skipped blindly: the first pass is where damage must be found, before any
      // key is loaded, and the checksum cannot vouch for a file saved without one.
      const { packed, length } = this.#lzfHeader();
      try {
        lzfCheck(this.#bytes, this.pos, packed, length);
      } catch (error) {
        throw new RdbError("corrupt", start, `compressed string: ${(error as Error).message}`);
      }
      this.pos += packed;
    } else {
      throw new RdbError("corrupt", start, `unknown string encoding ${encoding}`);
    }
  }

  /** The two lengths after an LZF marker; leaves `pos` at the compressed bytes. */
  #lzfHeader(): { packed: number; length: number } {
    const packed = this.length();
    const length = this.length();
    this.#need(packed, "a compressed string");
    return { packed, length };
  }

  /**
   * A length, or for the `11xxxxxx` form `-(encoding + 1)`: negative numbers cannot be lengths,
   * so one number carries both answers without allocating an object per string.
   */
  #lengthOrEncoding(): number {
    const start = this.pos;
    this.#need(1, "a length");
    const b = this.#bytes;
    const first = b[this.pos++];
    switch (first >> 6) {
      case 0:
        return first & 0x3f;
      case 1:
        this.#need(1, "a length");
        return ((first & 0x3f) << 8) | b[this.pos++];
      case 3:
        return -(first & 0x3f) - 1;
    }
    if (first === LEN_32BIT) {
      this.#need(4, "a length");
      const n = this.#u32be(this.pos);
      this.pos += 4;
      return n;
    }
    if (first === LEN_64BIT) {
      this.#need(8, "a length");
      const hi = this.#u32be(this.pos);
      const lo = this.#u32be(this.pos + 4);
      this.pos += 8;
      // Anything this big cannot be in a file we could read into memory anyway.
      if (hi >= 1 << 21) throw new RdbError("corrupt", start, "a length beyond 2^53");
      return hi * TWO_32 + lo;
    }
    throw new RdbError("corrupt", start, `unknown length encoding 0x${hex(first)}`);
  }

  #need(n: number, what: string): void {
    if (this.pos + n > this.#bytes.length) {
      throw new RdbError(
        "corrupt",
        this.pos,
        `file ends inside ${what} (${n} bytes needed, ${this.#bytes.length - this.pos} left)`,
      );
    }
  }

  #u32le(p: number): number {
    const b = this.#bytes;
    return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
  }

  #u32be(p: number): number {
    const b = this.#bytes;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  return shortByteString(bytes, start, Math.min(end, bytes.length) - start);
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}
