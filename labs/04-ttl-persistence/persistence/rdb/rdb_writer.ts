/**
 * Writes Redis's RDB format, version 10, as Redis 7.0 does for string keys (`rdbSaveRio` in
 * Redis's `rdb.c`).
 *
 * The writer is a byte encoder with a running checksum; it knows nothing about files, so the same
 * code serves `SAVE` (everything in one go) and `BGSAVE` (a chunk at a time between clients'
 * commands): call `take()` whenever enough bytes have piled up, write them, carry on.
 *
 * What makes RDB compact is how it writes numbers and strings:
 *
 * - A **length** takes one byte below 64, two below 16384, and five (or nine) above. Most keys and
 *   values are short, so most lengths cost one byte.
 * - A **string** that is a plain decimal integer in 32 bits (`"42"`, `"-7"`, `"100000"`) is stored
 *   as that integer in one, two or four bytes: a counter costs two bytes, not its digits plus a
 *   length. Only the canonical spelling qualifies (`"007"` or `"+1"` would not come back the same).
 * - A string longer than twenty bytes is tried with LZF (`lzf.ts`) and stored compressed if that
 *   saves at least four bytes; otherwise as it is.
 *
 * @module
 */

import { bytesToByteString, writeByteString } from "../../../../shared/resp/bytes.ts";
import { Crc64 } from "./crc64.ts";
import {
  ENC_INT16,
  ENC_INT32,
  ENC_INT8,
  ENC_LZF,
  LEN_14BIT,
  LEN_32BIT,
  LEN_64BIT,
  LEN_ENCODED,
  OP_AUX,
  OP_EOF,
  OP_EXPIRETIME_MS,
  OP_RESIZEDB,
  OP_SELECTDB,
  RDB_MAGIC,
  RDB_VERSION,
  TYPE_STRING,
} from "./format.ts";
import { LzfCompressor } from "./lzf.ts";

/** Redis does not try to compress strings this short: LZF cannot win on them. */
const MIN_COMPRESS_LENGTH = 21;
/** A compressed string must save at least this many bytes to be stored compressed. */
const MIN_COMPRESS_SAVING = 4;
const TWO_32 = 2 ** 32;

/** Options for {@link RdbWriter}. */
export interface RdbWriterOptions {
  /** The `redis-ver` AUX field: the Redis version whose behaviour the writer claims. */
  redisVersion: string;
  /** The `ctime` AUX field: when the snapshot was taken, in seconds since the epoch. */
  ctime: number;
  /** The `used-mem` AUX field: the server's memory use in bytes, shown when Redis loads it. */
  usedMemory: number;
  /** Try LZF on long strings, as Redis does unless `rdbcompression no`. Default true. */
  compress?: boolean;
}

/**
 * Encodes an RDB file piece by piece, with its checksum.
 *
 * @example
 * ```ts
 * const rdb = new RdbWriter({ redisVersion: "7.0.0", ctime: 0, usedMemory: 0 });
 * rdb.selectDb(0, 1, 0);
 * rdb.string("a", "1", null);
 * const file = concatBytes([rdb.take().slice(), rdb.finish()]);
 * ```
 */
export class RdbWriter {
  #buf = new Uint8Array(64 * 1024);
  #pos = 0;
  #crc = new Crc64();
  #compress: boolean;
  #lzf = new LzfCompressor();
  /** LZF's output, before its length is known and written. */
  #packed = new Uint8Array(1024);

  /**
   * Starts a file: the magic, the version, and the AUX fields Redis 7.0 writes.
   *
   * @param options The values of the AUX fields, and whether to compress.
   */
  constructor(options: RdbWriterOptions) {
    this.#compress = options.compress ?? true;
    this.#raw(`${RDB_MAGIC}${String(RDB_VERSION).padStart(4, "0")}`);
    // The fields and their order are Redis's: a reader of either file sees the same facts.
    this.aux("redis-ver", options.redisVersion);
    this.aux("redis-bits", "64");
    this.aux("ctime", String(Math.floor(options.ctime)));
    this.aux("used-mem", String(Math.floor(options.usedMemory)));
    // "Is this file the base of an append-only log?" Never, here: the log has its own format.
    this.aux("aof-base", "0");
  }

  /** Bytes encoded and not yet taken. */
  get length(): number {
    return this.#pos;
  }

  /**
   * Writes an AUX field: a name and a value that a reader who does not know the name skips.
   *
   * @param name The field's name.
   * @param value Its value, a byte string or bytes.
   */
  aux(name: string, value: string | Uint8Array): void {
    this.#byte(OP_AUX);
    this.#string(name);
    // Bytes become a byte string once, so that every string goes through one typed path.
    this.#string(typeof value === "string" ? value : bytesToByteString(value));
  }

  /**
   * Starts a database: SELECTDB, then RESIZEDB with the counts that let a loader size its hash
   * tables once instead of growing them while it reads.
   *
   * @param db The database's number.
   * @param keys How many keys it holds, or `null` to leave RESIZEDB out (it is only a hint).
   * @param expiring How many of them have an expiry.
   */
  selectDb(db: number, keys: number | null, expiring: number): void {
    this.#byte(OP_SELECTDB);
    this.#length(db);
    if (keys === null) return;
    this.#byte(OP_RESIZEDB);
    this.#length(keys);
    this.#length(expiring);
  }

  /**
   * Writes one string key: its expiry if it has one, the type byte, the key, the value.
   *
   * @param key A byte string.
   * @param value A byte string.
   * @param expiresAt When it expires, in milliseconds since the epoch, or `null`.
   */
  string(key: string, value: string, expiresAt: number | null): void {
    if (expiresAt !== null) {
      this.#byte(OP_EXPIRETIME_MS);
      this.#int64(expiresAt);
    }
    this.#byte(TYPE_STRING);
    this.#string(key);
    this.#string(value);
  }

  /**
   * Returns the bytes encoded since the last call, folding them into the checksum.
   *
   * The result is a view of the writer's own buffer, valid until the next write to the writer:
   * write it out (and await that) before encoding more.
   *
   * @returns The bytes.
   */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#pos);
    this.#crc.update(out);
    this.#pos = 0;
    return out;
  }

  /**
   * Ends the file: the EOF opcode and the CRC-64 of everything before the checksum.
   *
   * @returns The last bytes of the file (including any not yet taken).
   */
  finish(): Uint8Array {
    this.#byte(OP_EOF);
    const body = this.#buf.subarray(0, this.#pos);
    this.#crc.update(body);
    this.#ensure(8);
    this.#crc.writeTo(this.#buf, this.#pos);
    this.#pos += 8;
    const out = this.#buf.subarray(0, this.#pos);
    this.#pos = 0;
    return out;
  }

  #byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = b;
  }

  #raw(s: string): void {
    this.#ensure(s.length);
    writeByteString(s, this.#buf, this.#pos);
    this.#pos += s.length;
  }

  #length(n: number): void {
    this.#ensure(9);
    this.#pos = writeLength(this.#buf, this.#pos, n);
  }

  /** A signed 64-bit integer, little-endian: the one place RDB is little-endian is the expiry. */
  #int64(n: number): void {
    this.#ensure(8);
    if (n < 0) {
      new DataView(this.#buf.buffer).setBigInt64(this.#pos, BigInt(n), true);
      this.#pos += 8;
      return;
    }
    const lo = n % TWO_32;
    const hi = Math.floor(n / TWO_32);
    const b = this.#buf;
    for (let i = 0; i < 4; i++) b[this.#pos + i] = (lo >>> (8 * i)) & 0xff;
    for (let i = 0; i < 4; i++) b[this.#pos + 4 + i] = (hi >>> (8 * i)) & 0xff;
    this.#pos += 8;
  }

  /**
   * A string, in the smallest of Redis's encodings that fits it (`rdbSaveRawString`). Room is
   * made once, for the longest form (a nine-byte length and the bytes as they are), and the
   * pieces are then written unchecked: this runs twice per key.
   */
  #string(s: string): void {
    const n = s.length;
    this.#ensure(n + 9);
    if (n <= 11) {
      const int = canonicalInt32(s);
      if (int !== null) {
        this.#int32(int);
        return;
      }
    }
    // The bytes go where the plain form would put them, after its length. LZF reads them from
    // there, and only if compressing does not pay is the length written in front of them: the
    // string is copied out of JavaScript once either way.
    const buf = this.#buf;
    const start = this.#pos;
    const lengthBytes = n < 1 << 6 ? 1 : n < 1 << 14 ? 2 : n < TWO_32 ? 5 : 9;
    writeByteString(s, buf, start + lengthBytes);
    if (this.#compress && n >= MIN_COMPRESS_LENGTH && this.#lzfString(start + lengthBytes, n)) {
      return;
    }
    writeLength(buf, start, n);
    this.#pos = start + lengthBytes + n;
  }

  /** `11000000 b`, `11000001 b b` or `11000010 b b b b`: the integer, little-endian. */
  #int32(v: number): void {
    const b = this.#buf;
    const size = v >= -128 && v <= 127 ? 1 : v >= -32768 && v <= 32767 ? 2 : 4;
    b[this.#pos++] = (LEN_ENCODED << 6) |
      (size === 1 ? ENC_INT8 : size === 2 ? ENC_INT16 : ENC_INT32);
    for (let i = 0; i < size; i++) b[this.#pos++] = (v >> (8 * i)) & 0xff;
  }

  /**
   * `11000011`, compressed length, original length, LZF bytes, written at `#pos` over the plain
   * bytes at `from` (already compressed into `#packed` by then); false if it would not pay.
   */
  #lzfString(from: number, n: number): boolean {
    if (this.#packed.length < n) {
      this.#packed = new Uint8Array(Math.max(n, this.#packed.length * 2));
    }
    const out = this.#packed;
    const buf = this.#buf;
    const packed = this.#lzf.compress(buf, from, n, out, 0, n - MIN_COMPRESS_SAVING);
    if (packed === 0) return false;
    buf[this.#pos++] = (LEN_ENCODED << 6) | ENC_LZF;
    this.#pos = writeLength(buf, this.#pos, packed);
    this.#pos = writeLength(buf, this.#pos, n);
    // A loop for the common short value: `set(subarray(...))` allocates an object per value, and
    // a snapshot of a million values pays for that in garbage collection.
    if (packed <= 64) { for (let i = 0; i < packed; i++) buf[this.#pos + i] = out[i]; }
    else buf.set(out.subarray(0, packed), this.#pos);
    this.#pos += packed;
    return true;
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + extra));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }
}

/**
 * Writes an RDB length: one byte below 64, two below 16384, else a marker byte and four (or eight)
 * bytes, big-endian. `out` must have nine bytes of room at `pos`.
 *
 * @param out The buffer.
 * @param pos Where the first byte goes.
 * @param n The length.
 * @returns The position after the length.
 *
 * @example
 * ```ts
 * writeLength(buf, 0, 300); // 2: the bytes 0x41 0x2c
 * ```
 */
export function writeLength(out: Uint8Array, pos: number, n: number): number {
  if (n < 1 << 6) {
    out[pos++] = n;
  } else if (n < 1 << 14) {
    out[pos++] = (LEN_14BIT << 6) | (n >>> 8);
    out[pos++] = n & 0xff;
  } else if (n < TWO_32) {
    out[pos++] = LEN_32BIT;
    pos = u32be(out, pos, n);
  } else {
    out[pos++] = LEN_64BIT;
    pos = u32be(out, pos, Math.floor(n / TWO_32));
    pos = u32be(out, pos, n % TWO_32);
  }
  return pos;
}

function u32be(out: Uint8Array, pos: number, n: number): number {
  out[pos] = n >>> 24;
  out[pos + 1] = (n >>> 16) & 0xff;
  out[pos + 2] = (n >>> 8) & 0xff;
  out[pos + 3] = n & 0xff;
  return pos + 4;
}

/**
 * The integer a string spells, if it is one Redis stores as an integer: decimal, no sign but a
 * leading minus, no leading zero, within 32 bits. Anything else must keep its exact bytes.
 *
 * @param s A byte string of at most eleven characters.
 * @returns The integer, or `null`.
 */
export function canonicalInt32(s: string): number | null {
  const n = s.length;
  if (n === 0 || n > 11) return null;
  let i = 0;
  if (s.charCodeAt(0) === 0x2d) {
    if (n === 1) return null;
    i = 1;
  }
  // "0" is canonical; "-0", "01" and "-01" are not (they would come back as "0" and "1").
  if (s.charCodeAt(i) === 0x30) return n === 1 ? 0 : null;
  let v = 0;
  for (; i < n; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  if (s.charCodeAt(0) === 0x2d) v = -v;
  return v >= -2147483648 && v <= 2147483647 ? v : null;
}
