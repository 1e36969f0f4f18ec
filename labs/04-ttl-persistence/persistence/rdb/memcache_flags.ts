/**
 * Where memcached's per-key flags go in an RDB file, which has no place for them.
 *
 * Memcached stores 32 opaque bits with every item (clients keep a serialisation format in them);
 * Redis has nothing like it, so neither does RDB. Three ways to carry them were possible:
 *
 * - a field in each key's record: every reader of the file, `redis-server` first, would see an
 *   unknown opcode or type and refuse the whole file;
 * - a second file beside the snapshot: two files that must change together, which a crash
 *   between the two renames splits;
 * - an AUX field: RDB's own extension point. A reader must skip AUX fields whose name it does not
 *   know, so the file stays a plain RDB file for Redis and its tools, and the flags travel inside
 *   it, under the same checksum and the same atomic rename.
 *
 * The AUX field `cachelab-memcache-flags` holds one entry per key with non-zero flags (keys written
 * over RESP have none, so a RESP-only keyspace adds nothing), each entry an RDB length, the key's
 * bytes, and the flags as an RDB length:
 *
 * ```
 * 07 "flagged" 80 de ad be ef     key "flagged", flags 0xdeadbeef
 * 01 "k"       05                 key "k", flags 5
 * ```
 *
 * The field is written after the last key, so that the writer can collect the flags while it
 * streams the keys; the loader reads it in its first pass, before any key is loaded. As a string
 * it is LZF-compressed like any other, which suits a list of similar keys. Loaded into
 * `redis-server`, the keys keep their values and expiry and lose their flags: Redis has no flags.
 *
 * @module
 */

import { bytesToByteString } from "../../../../shared/resp/bytes.ts";
import { writeByteString } from "../../../../shared/resp/bytes.ts";
import { RdbCursor } from "./rdb_reader.ts";
import { writeLength } from "./rdb_writer.ts";

/**
 * Collects keys and their flags into the AUX field's value.
 *
 * @example
 * ```ts
 * const flags = new MemcacheFlagsEncoder();
 * flags.add("k", 5);
 * flags.bytes(); // 01 6b 05
 * ```
 */
export class MemcacheFlagsEncoder {
  #buf = new Uint8Array(256);
  #pos = 0;
  #count = 0;

  /** Keys added so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds one key.
   *
   * @param key A byte string.
   * @param flags Its flags, a non-zero 32-bit unsigned number.
   */
  add(key: string, flags: number): void {
    this.#ensure(key.length + 18);
    this.#pos = writeLength(this.#buf, this.#pos, key.length);
    writeByteString(key, this.#buf, this.#pos);
    this.#pos += key.length;
    this.#pos = writeLength(this.#buf, this.#pos, flags);
    this.#count++;
  }

  /**
   * The AUX field's value so far.
   *
   * @returns A view of the encoder's buffer, valid until the next `add`.
   */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#pos);
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#pos + extra));
    next.set(this.#buf.subarray(0, this.#pos));
    this.#buf = next;
  }
}

/**
 * Reads the AUX field's value back into a map.
 *
 * @param value The value, as a byte string.
 * @returns Each key's flags.
 * @throws {RdbError} If the value is damaged (offsets are within the value).
 */
export function decodeMemcacheFlags(value: string): Map<string, number> {
  const bytes = new Uint8Array(value.length);
  writeByteString(value, bytes, 0);
  const cursor = new RdbCursor(bytes);
  const flags = new Map<string, number>();
  while (cursor.pos < bytes.length) {
    const key = cursor.string();
    flags.set(key, cursor.length());
  }
  return flags;
}

/**
 * Encodes a whole map at once (for tests and tools; the snapshot writer streams).
 *
 * @param flags Keys and their non-zero flags.
 * @returns The AUX field's value, as a byte string.
 */
export function encodeMemcacheFlags(flags: Iterable<[string, number]>): string {
  const encoder = new MemcacheFlagsEncoder();
  for (const [key, value] of flags) encoder.add(key, value);
  return bytesToByteString(encoder.bytes());
}
