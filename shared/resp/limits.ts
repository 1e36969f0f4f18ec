/**
 * What a request may be: Redis's limits on its size, and the one way a length may be written.
 *
 * Both request decoders enforce these — lab 1's plain one and lab 2's measured one — and so does
 * `CONFIG GET proto-max-bulk-len`, which is why they live here rather than in either decoder.
 * Every limit is Redis 7's, so that a client sees the same thing from this server as from Redis,
 * and the lab suites can be checked against a real `redis-server`.
 *
 * @module
 */

import { constants } from "node:buffer";

/**
 * The longest byte string this server can hold: V8's longest string (2^29 - 24 characters on a
 * 64-bit machine), since keys and values are strings with one character per byte. It is 24 bytes
 * short of Redis's 512 MiB, so the bulk string limit below is this, not 512 MiB: a value the
 * server could never turn into a string must be refused when it is written, with Redis's error,
 * not fail later. Node's `buffer.constants` reads it from V8 rather than this file guessing it.
 */
export const MAX_BYTE_STRING: number = constants.MAX_STRING_LENGTH;

/** The limits a decoder enforces, with Redis's names in the comments. */
export interface DecoderLimits {
  /**
   * Largest bulk string in bytes (`proto-max-bulk-len`): Redis's 512 MiB, but never more than
   * {@link MAX_BYTE_STRING}.
   */
  maxBulkLength: number;
  /** Longest inline command, and longest `*`/`$` header line, in bytes (64 KiB, fixed in Redis). */
  maxInlineLength: number;
  /** Most elements in one command array (Redis allows up to 2^31 - 1). */
  maxArrayLength: number;
}

/** Redis 7's defaults, but for the one this runtime cannot hold (see {@link MAX_BYTE_STRING}). */
export const DEFAULT_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxBulkLength: Math.min(512 * 1024 * 1024, MAX_BYTE_STRING),
  maxInlineLength: 64 * 1024,
  maxArrayLength: 2 ** 31 - 1,
});

/**
 * Fills in Redis's defaults for the limits not given, and caps the bulk length at what this
 * runtime can hold, whatever the configuration says.
 *
 * @param limits Overrides for {@link DEFAULT_LIMITS}.
 * @returns A fresh object the caller may change.
 * @example
 * ```ts
 * withDefaults({ maxArrayLength: 10 }).maxInlineLength; // 65536
 * ```
 */
export function withDefaults(limits: Partial<DecoderLimits> = {}): DecoderLimits {
  const all = { ...DEFAULT_LIMITS, ...limits };
  all.maxBulkLength = Math.min(all.maxBulkLength, MAX_BYTE_STRING);
  return all;
}

/**
 * Parses an integer the way Redis's `string2ll` does: an optional `-`, then digits with no leading
 * zero (except `0` itself), no `+`, no spaces. Returns `NaN` for anything else.
 *
 * Redis is this strict, so `$03\r\n` is a protocol error there and must be one here too.
 *
 * @param buf The bytes.
 * @param start First byte of the number.
 * @param end One past its last byte.
 * @returns The value, or `NaN`.
 * @example
 * ```ts
 * parseStrictInteger(new TextEncoder().encode("$12\r\n"), 1, 3); // 12
 * ```
 */
export function parseStrictInteger(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (i < end && buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  if (i >= end) return NaN;
  if (buf[i] === 0x30) return i + 1 === end && !negative ? 0 : NaN;
  // 19 digits already exceed any limit we accept, so longer numbers are rejected before they can
  // lose precision in a double.
  if (end - i > 18) return NaN;
  let value = 0;
  for (; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return negative ? -value : value;
}
