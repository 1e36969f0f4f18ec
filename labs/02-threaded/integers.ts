/**
 * Redis's 64-bit integers, exactly.
 *
 * Redis stores `INCR`'s counter as a string and reads it with `string2ll()`: an optional minus
 * sign, digits, no leading zeros, no spaces, no plus sign, and a value that fits in a signed 64-bit
 * integer. A JavaScript `number` holds integers exactly only up to 2^53, so past that we switch to
 * `bigint`. Small values — nearly all counters — stay plain numbers, because bigint arithmetic
 * allocates.
 *
 * @module
 */

/** The largest signed 64-bit integer, 2^63 - 1. */
export const INT64_MAX: bigint = 2n ** 63n - 1n;
/** The smallest signed 64-bit integer, -2^63. */
export const INT64_MIN: bigint = -(2n ** 63n);

/** What `string2ll()` accepts: `0`, or an optional `-` and digits without a leading zero. */
const INTEGER = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * Below 16 characters a decimal integer is under 10^15 < 2^53, so a `number` holds it exactly and
 * so does the sum of two of them.
 */
const SAFE_DIGITS = 15;

/**
 * Parses a byte string as Redis parses an integer argument or a counter's value.
 *
 * @param text A byte string such as `"42"` or `"-9223372036854775808"`.
 * @returns The integer (a `number` when small, a `bigint` when large), or `null` if Redis would
 *   answer `ERR value is not an integer or out of range`.
 * @example
 * ```ts
 * parseInt64("42");   // 42
 * parseInt64("042");  // null
 * parseInt64("9223372036854775808"); // null: one past INT64_MAX
 * ```
 */
export function parseInt64(text: string): number | bigint | null {
  // Twenty characters is the longest int64 ("-9223372036854775808"); longer is out of range.
  if (text.length === 0 || text.length > 20 || !INTEGER.test(text)) return null;
  if (text.length <= SAFE_DIGITS) return Number(text);
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

/**
 * Adds two 64-bit integers, or reports that the sum does not fit.
 *
 * @param a An integer from {@link parseInt64}.
 * @param b Another.
 * @returns The sum, as a `number` if it is safely one, else a `bigint`; `null` on overflow.
 */
export function addInt64(a: number | bigint, b: number | bigint): number | bigint | null {
  if (typeof a === "number" && typeof b === "number") {
    const sum = a + b;
    // Both below 10^15 in magnitude, so this is exact; above that, redo it in bigint.
    if (Number.isSafeInteger(sum) && Math.abs(a) < 1e15 && Math.abs(b) < 1e15) return sum;
  }
  const sum = BigInt(a) + BigInt(b);
  if (sum < INT64_MIN || sum > INT64_MAX) return null;
  const small = Number(sum);
  return Number.isSafeInteger(small) ? small : sum;
}
