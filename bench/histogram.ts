/**
 * A latency histogram with fixed memory and about 1.6 % precision.
 *
 * A five-second pipelined run records a few hundred thousand latencies. Keeping them all and
 * sorting at the end would work, but costs memory and a long sort; a histogram costs one array
 * increment per sample. The buckets are log-linear, as in HdrHistogram: exact up to 127 µs, then
 * each power of two is split into 64 equal buckets, so every bucket is at most 1/64 of its value
 * wide. A reported p99 of 1,230 µs therefore means "between about 1,210 and 1,230 µs", which is
 * finer than run-to-run noise on a shared machine.
 *
 * @module
 */

/** Sub-buckets per power of two: 2^6 = 64, so a bucket is at most 1/64 ≈ 1.6 % wide. */
const SUB_BITS = 6;
const SUB_COUNT = 1 << SUB_BITS;
/** Values are clamped to 2^31 - 1 µs (about 36 minutes), far beyond any run's time limit. */
const MAX_VALUE = 0x7fffffff;
const BUCKETS = (32 - SUB_BITS) * SUB_COUNT + SUB_COUNT;

/** Percentiles of a run, in microseconds. */
export interface LatencySummary {
  /** Half of the samples took at most this long. */
  p50: number;
  /** 99 % of the samples took at most this long. */
  p99: number;
  /** 99.9 % of the samples took at most this long. */
  p999: number;
  /** The slowest sample, exact. */
  max: number;
  /** The arithmetic mean, exact. */
  mean: number;
}

/** Which bucket holds `value` (a whole number of µs from 0 to {@link MAX_VALUE}). */
function bucketOf(value: number): number {
  if (value < 2 * SUB_COUNT) return value;
  // Shift the value right until it has SUB_BITS + 1 significant bits; the shift is its "exponent".
  const shift = 31 - Math.clz32(value) - SUB_BITS;
  return shift * SUB_COUNT + (value >>> shift);
}

/** The largest value that falls into bucket `index`: what a percentile reports, to err high. */
function bucketTop(index: number): number {
  if (index < 2 * SUB_COUNT) return index;
  const shift = (index >>> SUB_BITS) - 1;
  const mantissa = index - shift * SUB_COUNT;
  return ((mantissa + 1) * 2 ** shift) - 1;
}

/**
 * Records latencies in microseconds and reports percentiles.
 *
 * @example
 * ```ts
 * const h = new LatencyHistogram();
 * for (const us of [90, 110, 120, 4000]) h.record(us);
 * h.summary(); // { p50: 110, p99: 4000, p999: 4000, max: 4000, mean: 1080 }
 * ```
 */
export class LatencyHistogram {
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** How many samples were recorded. */
  get count(): number {
    return this.#count;
  }

  /**
   * Adds one sample.
   *
   * @param micros A latency in microseconds; rounded to a whole number.
   */
  record(micros: number): void {
    const value = Math.min(MAX_VALUE, Math.max(0, Math.round(micros)));
    this.#counts[bucketOf(value)]++;
    this.#count++;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
  }

  /**
   * The smallest recorded value such that a fraction `q` of the samples are at or below it,
   * rounded up to the top of its bucket (but never above the exact maximum).
   *
   * @param q From 0 to 1, such as 0.99.
   * @returns Microseconds, or 0 if nothing was recorded.
   */
  percentile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) return Math.min(bucketTop(i), this.#max);
    }
    return this.#max;
  }

  /**
   * The usual percentiles at once.
   *
   * @returns p50, p99, p99.9, max and mean, in microseconds.
   */
  summary(): LatencySummary {
    return {
      p50: this.percentile(0.5),
      p99: this.percentile(0.99),
      p999: this.percentile(0.999),
      max: this.#max,
      mean: this.#count === 0 ? 0 : Math.round(this.#sum / this.#count),
    };
  }
}
