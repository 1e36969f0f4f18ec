/**
 * Reproducible randomness for the suites: the same seed gives the same keys and values, so a
 * failure a student reports with `--seed 1234` can be run again exactly.
 *
 * `crypto.getRandomValues` cannot be seeded, and `Math.random` cannot either; a tiny generator
 * of our own can. Mulberry32 is not for secrets, only for test data: 32 bits of state, one
 * multiply-xorshift per number, good enough that keys do not collide and values look random.
 *
 * @module
 */

/**
 * A generator of numbers in [0, 1) from a 32-bit seed (Mulberry32).
 *
 * @param seed Any integer; only its low 32 bits count.
 * @returns A function returning the next number each time it is called.
 * @example
 * ```ts
 * const next = seededRandom(42);
 * next(); // the same first number on every run with seed 42
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
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
