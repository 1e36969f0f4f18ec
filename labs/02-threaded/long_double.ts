/**
 * Redis's `long double`, exactly: what `INCRBYFLOAT` adds with and how it prints the result.
 *
 * Redis parses `INCRBYFLOAT`'s numbers with C's `strtold()`, adds them as `long double`, and
 * prints the sum with `printf("%.17Lf")`, then trims trailing zeros (`ld2string()` in `util.c`,
 * mode `LD_STR_HUMAN`). On x86-64 Linux — where `redis-server` nearly always runs — a `long
 * double` is the x87 80-bit format: a 64-bit mantissa where a JavaScript `number` has 53 bits.
 * The difference shows at once:
 *
 * ```
 * INCRBYFLOAT k 1.5 ; INCRBYFLOAT k 0.1
 *   Redis (64-bit mantissa):  1.6000000000000000000216...  → "%.17Lf" → "1.6"
 *   a JS number (53 bits):    1.6000000000000000888...     → 17 decimals → "1.60000000000000009"
 * ```
 *
 * So this module does the arithmetic the x87 does, with `bigint`: a value is `m × 2^e` with a
 * 64-bit `m`, every parse and every sum rounded to the nearest such value (ties to even), and the
 * printing done on the exact binary value, as glibc's `printf` does. The road not taken, a
 * decimal library, would print "1.6" here but differ from Redis elsewhere: matching Redis means
 * making Redis's rounding mistakes, not better ones. (On an ARM64 server `long double` has 113
 * bits and Redis's own answers differ; this follows x86-64.)
 *
 * Simplified: a result smaller than the smallest normal `long double` (about 3.4e-4932) is
 * treated as zero, where the x87 would keep a few bits as a subnormal number.
 *
 * @module
 */

/** A finite value `(-1)^negative × mantissa × 2^exponent`; a zero has mantissa 0. */
export interface LongDouble {
  /** The sign; a zero may be negative too, and prints as `0` either way. */
  negative: boolean;
  /** Below 2^64: normalized to 64 bits, or 0. */
  mantissa: bigint;
  /** The power of two the mantissa is multiplied by. */
  exponent: number;
}

/** What {@link parseLongDouble} reads: a finite value, or an infinity (`inf`, `-infinity`). */
export type Parsed = LongDouble | "inf" | "-inf";

const MANTISSA_BITS = 64;
const TOP = 1n << 64n;
/** The largest exponent of `m × 2^e` with a 64-bit `m`: the x87's 16383, less 63. */
const MAX_EXPONENT = 16383 - 63;
/** The smallest, for a normal number: 2^-16382, less 63. */
const MIN_EXPONENT = -16382 - 63;
/** Redis's `MAX_LONG_DOUBLE_CHARS`: longer input is refused before it is parsed. */
const MAX_CHARS = 5 * 1024;

const ZERO: LongDouble = { negative: false, mantissa: 0n, exponent: 0 };
const DECIMAL = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;
const HEX =
  /^([+-]?)0[xX](?:([0-9a-fA-F]+)(?:\.([0-9a-fA-F]*))?|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?$/;
const INFINITY = /^([+-]?)(?:inf|infinity)$/i;

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/**
 * Rounds `numerator / denominator × 2^exponent` (both positive) to the nearest value with a
 * 64-bit mantissa, ties to even: the rounding every x87 operation does.
 *
 * @returns The value, or `null` if it overflows (too large) or underflows (too small).
 */
function round(
  negative: boolean,
  numerator: bigint,
  denominator: bigint,
  exponent: number,
): LongDouble | null {
  // Scale so the quotient has 66 or 67 bits: 64 kept, one to round on, and spare.
  const shift = MANTISSA_BITS + 2 - (bitLength(numerator) - bitLength(denominator));
  const n = shift >= 0 ? numerator << BigInt(shift) : numerator;
  const d = shift >= 0 ? denominator : denominator << BigInt(-shift);
  let q = n / d;
  let sticky = n % d !== 0n;
  let e = exponent - shift;
  while (q >= TOP << 1n) {
    sticky ||= (q & 1n) === 1n;
    q >>= 1n;
    e++;
  }
  // q now has 65 bits: the mantissa and one guard bit.
  let mantissa = q >> 1n;
  e++;
  if ((q & 1n) === 1n && (sticky || (mantissa & 1n) === 1n)) mantissa++;
  if (mantissa === TOP) {
    mantissa >>= 1n;
    e++;
  }
  if (e > MAX_EXPONENT || e < MIN_EXPONENT) return null;
  return { negative, mantissa, exponent: e };
}

/**
 * Parses a number as Redis's `string2ld()`: C's `strtold()` on the whole string — decimal, with
 * an optional exponent, or hexadecimal (`0x1.8p1`), or `inf` — refusing leading space, trailing
 * bytes, NaN, and values too large or too small for a `long double`.
 *
 * @param text A byte string such as `"1.5"`, `"-3e2"` or `"inf"`.
 * @returns The value, or `null` where Redis answers `ERR value is not a valid float`.
 * @example
 * ```ts
 * formatLongDouble(parseLongDouble("0.1") as LongDouble); // "0.1"
 * parseLongDouble(" 1");  // null
 * ```
 */
export function parseLongDouble(text: string): Parsed | null {
  if (text.length === 0 || text.length >= MAX_CHARS) return null;
  const infinity = INFINITY.exec(text);
  if (infinity) return infinity[1] === "-" ? "-inf" : "inf";
  let negative: boolean;
  let digits: string;
  let fraction: string;
  let power: number;
  let radix: bigint;
  let exponent2 = 0;
  const decimal = DECIMAL.exec(text);
  const hex = decimal ? null : HEX.exec(text);
  if (decimal) {
    negative = decimal[1] === "-";
    digits = decimal[2] ?? "";
    fraction = decimal[3] ?? decimal[4] ?? "";
    power = Number(decimal[5] ?? "0");
    radix = 10n;
  } else if (hex) {
    negative = hex[1] === "-";
    digits = hex[2] ?? "";
    fraction = hex[3] ?? hex[4] ?? "";
    power = 0;
    radix = 16n;
    exponent2 = Number(hex[5] ?? "0");
  } else return null;
  const all = (digits + fraction).replace(/^0+/, "");
  if (all === "") return { ...ZERO, negative };
  const value = BigInt((radix === 16n ? "0x" : "") + all);
  let result: LongDouble | null;
  if (radix === 16n) {
    result = round(negative, value, 1n, exponent2 - 4 * fraction.length);
  } else {
    const scale = power - fraction.length;
    // Far outside a long double's range either way; no need to build a 10^100000.
    if (!Number.isSafeInteger(scale) || Math.abs(scale) > 20_000) return null;
    result = scale >= 0
      ? round(negative, value * 10n ** BigInt(scale), 1n, 0)
      : round(negative, value, 10n ** BigInt(-scale), 0);
  }
  return result;
}

/**
 * Adds two values as the x87 does: exactly, then rounded once.
 *
 * @param a A value.
 * @param b Another.
 * @returns The sum, or `null` if it overflows (Redis: `increment would produce NaN or Infinity`).
 */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.mantissa === 0n) {
    return b.mantissa === 0n ? { ...ZERO, negative: a.negative && b.negative } : b;
  }
  if (b.mantissa === 0n) return a;
  const e = Math.min(a.exponent, b.exponent);
  const signed = (x: LongDouble) =>
    (x.negative ? -x.mantissa : x.mantissa) << BigInt(x.exponent - e);
  const sum = signed(a) + signed(b);
  // x + (-x) is +0 when rounding to nearest.
  if (sum === 0n) return ZERO;
  return round(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

const DECIMALS = 17;
const TEN_TO_DECIMALS = 10n ** BigInt(DECIMALS);

/**
 * Prints a value as Redis's `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` (seventeen decimals, the
 * exact binary value rounded half to even), then trailing zeros and a bare `.` removed, and `-0`
 * written `0`.
 *
 * @param value A finite value.
 * @returns Such as `"1.6"`, `"3"` or `"-0.00000000000000001"`.
 */
export function formatLongDouble(value: LongDouble): string {
  const { negative, mantissa, exponent } = value;
  let text: string;
  if (exponent >= 0) {
    text = (mantissa << BigInt(exponent)).toString();
  } else {
    const k = BigInt(-exponent);
    const scaled = mantissa * TEN_TO_DECIMALS;
    let q = scaled >> k;
    const rest = scaled - (q << k);
    const half = 1n << (k - 1n);
    if (rest > half || (rest === half && (q & 1n) === 1n)) q++;
    const whole = (q / TEN_TO_DECIMALS).toString();
    const fraction = (q % TEN_TO_DECIMALS).toString().padStart(DECIMALS, "0").replace(/0+$/, "");
    text = fraction === "" ? whole : `${whole}.${fraction}`;
  }
  return negative && text !== "0" ? `-${text}` : text;
}
