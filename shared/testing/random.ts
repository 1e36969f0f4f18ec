/**
 * Reproducible randomness for tests, suites and benchmarks: the same seed gives the same inputs,
 * so a failing fuzz case, a benchmark's keys, or a failure a student reports with `--seed 1234`
 * can be had again exactly.
 *
 * `crypto.getRandomValues` cannot be seeded, and `Math.random` cannot either; a tiny generator of
 * our own can. Mulberry32 is not for secrets, only for test data: 32 bits of state, one
 * multiply-xorshift per number, good enough that keys do not collide and values look random.
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

/**
 * Mixes a seed with a name into a new 32-bit seed (FNV-1a over the name, started from the seed),
 * so each check draws from a sequence of its own: skipping or reordering checks does not change
 * what the others send.
 *
 * @param seed The run's seed.
 * @param name Such as a check's name.
 * @returns A 32-bit unsigned seed.
 */
export function deriveSeed(seed: number, name: string): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * A fresh seed for a run that was not given one: random, and small enough to retype.
 *
 * @returns A whole number below 2^31.
 */
export function newSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0] >>> 1;
}

/**
 * A seed as eight hex digits, for key names.
 *
 * @param seed A 32-bit seed.
 * @returns Such as `0000002a`.
 */
export function seedHex(seed: number): string {
  return (seed >>> 0).toString(16).padStart(8, "0");
}
