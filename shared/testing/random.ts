/**
 * A seeded pseudo-random generator for tests and benchmarks: the same seed gives the same inputs,
 * so a failing fuzz case or a benchmark's keys can be had again. `Math.random` cannot be seeded.
 *
 * It is mulberry32: one 32-bit state, a few multiplications per number. Far from cryptographic,
 * and plenty to choose test inputs or spread keys.
 *
 * @module
 */

/**
 * A generator of numbers from a seed.
 *
 * @example
 * ```ts
 * const rng = new SeededRandom(42);
 * rng.below(6);              // a die: 0 to 5
 * rng.pick(["a", "b", "c"]); // the same letter every run with seed 42
 * ```
 */
export class SeededRandom {
  #state: number;

  /**
   * Starts a sequence.
   *
   * @param seed Any number; only its low 32 bits count.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform number in [0, 1). */
  float(): number {
    return this.next() / 2 ** 32;
  }

  /**
   * A whole number below `n`.
   *
   * @param n How many values there are to choose from.
   * @returns From 0 to `n - 1`.
   */
  below(n: number): number {
    return this.next() % n;
  }

  /**
   * `true` with probability `p`.
   *
   * @param p From 0 (never) to 1 (always).
   * @returns Whether it came up.
   */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /**
   * One of `items`.
   *
   * @param items A non-empty list.
   * @returns One of them.
   */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
}
