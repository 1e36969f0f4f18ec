/**
 * Numbers on memcached's command line, read exactly the way memcached reads them.
 *
 * Memcached parses every number with C's `strtol`/`strtoul`/`strtoull` wrapped in small "safe"
 * helpers (`safe_strtol` and friends in its `util.c`). Their quirks are part of the protocol,
 * because clients and test tools see them:
 *
 * - leading whitespace and a `+` sign are accepted: `set k +5 0 1` stores flags 5;
 * - the unsigned parsers accept `-` and wrap (C's rule), then refuse the result only if it looks
 *   negative as a signed number: `incr k -1` is `CLIENT_ERROR invalid numeric delta argument`;
 * - a value is read as a 64-bit `long` and then stored in a 32-bit variable, so it wraps:
 *   exptime `4294967297` is 1 second, and exptime `2147483648` is negative (already expired).
 *
 * A parser that is "nicer" than memcached would make the suite disagree with the real server, so
 * these reproduce it, quirks included. `BigInt` keeps the 64-bit arithmetic exact.
 *
 * @module
 */

const TWO_64 = 1n << 64n;
const TWO_63 = 1n << 63n;

/** C's `isspace` in the "C" locale: space, `\t`, `\n`, `\v`, `\f`, `\r`. */
function isSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/**
 * The part every `strto*` call shares: skip whitespace, read a sign and decimal digits, and check
 * that what follows is the end of the token or whitespace (memcached's extra condition).
 *
 * @returns The sign and the magnitude, or `null` if there are no digits or junk follows them.
 */
function scan(token: string): { negative: boolean; magnitude: bigint } | null {
  let i = 0;
  while (i < token.length && isSpace(token.charCodeAt(i))) i++;
  let negative = false;
  if (token[i] === "+" || token[i] === "-") negative = token[i++] === "-";
  const digitsStart = i;
  while (i < token.length && token.charCodeAt(i) >= 0x30 && token.charCodeAt(i) <= 0x39) i++;
  if (i === digitsStart) return null;
  if (i < token.length && !isSpace(token.charCodeAt(i))) return null;
  return { negative, magnitude: BigInt(token.slice(digitsStart, i)) };
}

/**
 * Reads a signed number as memcached's `safe_strtol` does into an `int32_t`: exptimes, the byte
 * count of a storage command, the delay of `flush_all`.
 *
 * @param token One word of the command line.
 * @returns The value wrapped to 32 bits, or `null` if memcached would reject it.
 * @example
 * ```ts
 * parseInt32("-1"); // -1
 * parseInt32("4294967297"); // 1, as memcached stores it
 * parseInt32("12abc"); // null
 * ```
 */
export function parseInt32(token: string): number | null {
  const parsed = scan(token);
  if (parsed === null) return null;
  const value = parsed.negative ? -parsed.magnitude : parsed.magnitude;
  // strtol reports ERANGE outside a 64-bit long; inside it, the cast to int32_t wraps.
  if (value >= TWO_63 || value < -TWO_63) return null;
  return Number(BigInt.asIntN(32, value));
}

/**
 * Reads an unsigned 64-bit number as memcached's `safe_strtoull` does: `incr`/`decr` deltas, `cas`
 * uniques, and the current value of a counter.
 *
 * @param token A word of the command line, or a stored value.
 * @returns The value, or `null` if memcached would reject it.
 * @example
 * ```ts
 * parseUint64("18446744073709551615"); // 18446744073709551615n
 * parseUint64("-1"); // null
 * ```
 */
export function parseUint64(token: string): bigint | null {
  const parsed = scan(token);
  if (parsed === null || parsed.magnitude >= TWO_64) return null;
  // strtoull negates in unsigned arithmetic: "-1" becomes 2^64 - 1...
  const value = parsed.negative ? BigInt.asUintN(64, -parsed.magnitude) : parsed.magnitude;
  // ...which memcached then refuses, but only when it would be negative as a signed number.
  if (parsed.negative && value >= TWO_63) return null;
  return value;
}

/**
 * Reads memcached's 32-bit flags as `safe_strtoul` does (a 64-bit `unsigned long` cast to
 * `uint32_t`, so `4294967297` is flags 1).
 *
 * @param token One word of the command line.
 * @returns The flags, or `null` if memcached would reject them.
 */
export function parseUint32(token: string): number | null {
  const value = parseUint64(token);
  return value === null ? null : Number(BigInt.asUintN(32, value));
}
