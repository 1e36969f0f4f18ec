/**
 * The numbers of Redis's RDB format that both the writer and the reader need (Redis's `rdb.h`).
 *
 * An RDB file is a header, then a stream of one-byte opcodes each followed by its operands, then
 * a checksum:
 *
 * ```
 * "REDIS0010"                          magic and version: nine ASCII bytes
 * FA <string name> <string value>      AUX: facts about the file (Redis version, time, ...)
 * FE <length db>                       SELECTDB: the keys that follow are in this database
 * FB <length keys> <length expiring>   RESIZEDB: how big to make the hash tables before loading
 * FC <8 bytes, little-endian>          EXPIRETIME_MS: the next key's expiry, ms since the epoch
 * 00 <string key> <string value>       a string key; other type bytes are lists, hashes, ...
 * FF                                   EOF
 * <8 bytes, little-endian>             CRC-64 of every byte before it
 * ```
 *
 * A "length" is one to nine bytes whose first two bits say how long it is; a "string" is a length
 * and that many bytes, or, when the first two bits are `11`, an integer or LZF-compressed string
 * in a special encoding. `rdb_writer.ts` and `rdb_reader.ts` show both in detail.
 *
 * @module
 */

/** The version Redis 7.0 writes, and the newest this server reads. */
export const RDB_VERSION = 10;
/**
 * The oldest version read: version 6 (Redis 2.8) is the first whose strings and opcodes are all
 * still written the same way today, and every version since 5 ends with a CRC-64.
 */
export const RDB_OLDEST_VERSION = 6;
/** The first five bytes of every RDB file; four decimal digits of version follow. */
export const RDB_MAGIC = "REDIS";

// Opcodes: the byte before each record that is not a key.
/** Function library code (Redis 7.0 `FUNCTION LOAD`). */
export const OP_FUNCTION2 = 0xf5;
/** Function library code as Redis 7.0's release candidates wrote it. */
export const OP_FUNCTION = 0xf6;
/** Data a module keeps outside the keyspace. */
export const OP_MODULE_AUX = 0xf7;
/** The next key's idle time, for LRU eviction. */
export const OP_IDLE = 0xf8;
/** The next key's access frequency, for LFU eviction. */
export const OP_FREQ = 0xf9;
/** A name and a value describing the file. */
export const OP_AUX = 0xfa;
/** How many keys and expiring keys the current database holds. */
export const OP_RESIZEDB = 0xfb;
/** The next key's expiry, in milliseconds. */
export const OP_EXPIRETIME_MS = 0xfc;
/** The next key's expiry, in seconds (written by Redis before 2.6). */
export const OP_EXPIRETIME = 0xfd;
/** The database the following keys belong to. */
export const OP_SELECTDB = 0xfe;
/** The end of the data; the checksum follows. */
export const OP_EOF = 0xff;

/** The type byte of a string key: the only type this server stores. */
export const TYPE_STRING = 0;

/**
 * What each type byte Redis may write holds, for the message that refuses it: the user needs the
 * type's name as `TYPE` prints it, not a number.
 */
export const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, "string"],
  [1, "list"],
  [2, "set"],
  [3, "zset"],
  [4, "hash"],
  [5, "zset"],
  [6, "module"],
  [7, "module"],
  [9, "hash"],
  [10, "list"],
  [11, "set"],
  [12, "zset"],
  [13, "hash"],
  [14, "list"],
  [15, "stream"],
  [16, "hash"],
  [17, "zset"],
  [18, "list"],
  [19, "stream"],
]);

// Lengths: the first two bits of their first byte.
/** `00xxxxxx`: a length of six bits. */
export const LEN_6BIT = 0;
/** `01xxxxxx xxxxxxxx`: a length of fourteen bits, big-endian. */
export const LEN_14BIT = 1;
/** `10000000` then four bytes, big-endian. */
export const LEN_32BIT = 0x80;
/** `10000001` then eight bytes, big-endian. */
export const LEN_64BIT = 0x81;
/** `11xxxxxx`: not a length; the six bits say how the string is encoded. */
export const LEN_ENCODED = 3;

// Special string encodings, the six bits after `11`.
/** An integer in one byte. */
export const ENC_INT8 = 0;
/** An integer in two bytes, little-endian. */
export const ENC_INT16 = 1;
/** An integer in four bytes, little-endian. */
export const ENC_INT32 = 2;
/** LZF: compressed length, original length, compressed bytes. */
export const ENC_LZF = 3;

/**
 * The AUX field that carries memcached's per-key flags, which RDB has no place for. Redis skips
 * AUX fields it does not know, so a file that has it still loads in `redis-server`.
 */
export const MEMCACHE_FLAGS_AUX = "cachelab-memcache-flags";
