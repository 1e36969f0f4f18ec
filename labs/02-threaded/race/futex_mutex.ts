/**
 * A mutex for real threads, built from one 32-bit word of shared memory and three atomic
 * operations: `Atomics.compareExchange`, `Atomics.wait` and `Atomics.notify`.
 *
 * This is the classic "futex" lock that Linux's `pthread_mutex_t` (and so Python's
 * `threading.Lock`) is built on, after Ulrich Drepper's paper _Futexes Are Tricky_. The word
 * holds one of three states:
 *
 * | state | name       | meaning                                                        |
 * | ----- | ---------- | -------------------------------------------------------------- |
 * | 0     | UNLOCKED   | free                                                           |
 * | 1     | LOCKED     | held, and nobody is asleep waiting for it                      |
 * | 2     | CONTENDED  | held, and somebody may be asleep in `Atomics.wait` for it      |
 *
 * Why three states and not two: `Atomics.notify` costs a trip into the operating system's
 * scheduler. With only "free/held", every unlock would have to call it in case someone waits.
 * State 1 records that nobody does, so an uncontended lock and unlock are one atomic instruction
 * each and never enter the kernel.
 *
 * Why `Atomics.wait` and not a spin loop: a thread that spins on a held lock burns a whole core
 * doing nothing, and on a two-core machine it may be spinning on the very core the holder needs
 * to finish. `Atomics.wait(word, i, 2)` puts the thread to sleep, but only if the word still
 * reads 2 at that instant; the check and the sleep are one atomic step, so a wake-up that happens
 * between our last look and the sleep cannot be missed.
 *
 * `Atomics.wait` blocks the calling thread, so it is for Workers. Browsers forbid it on the main
 * thread; Deno allows it but it would freeze the event loop, so never lock this from async code.
 *
 * @module
 */

/** The word is free. */
export const UNLOCKED = 0;
/** Held; nobody is waiting. */
export const LOCKED = 1;
/** Held; someone may be asleep waiting, so the unlock must wake one. */
export const CONTENDED = 2;

/**
 * A mutual-exclusion lock living in one element of a shared `Int32Array`. Every Worker that builds
 * a `FutexMutex` over the same `SharedArrayBuffer` and index shares the same lock.
 *
 * @example
 * ```ts
 * // main thread: one word, initially UNLOCKED, sent to every Worker
 * const words = new Int32Array(new SharedArrayBuffer(8)); // [counter, lock]
 * // in each Worker:
 * const mutex = new FutexMutex(words, 1);
 * mutex.lock();
 * words[0] = words[0] + 1; // only one thread at a time runs this
 * mutex.unlock();
 * ```
 */
export class FutexMutex {
  readonly #words: Int32Array;
  readonly #index: number;

  /**
   * Uses `words[index]` as the lock word. It must start at {@link UNLOCKED} (a new
   * `SharedArrayBuffer` is all zeros).
   *
   * @param words A view of a `SharedArrayBuffer`.
   * @param index Which element is the lock word.
   */
  constructor(words: Int32Array, index: number) {
    if (!(words.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError("Cannot build a FutexMutex: the Int32Array is not shared memory");
    }
    this.#words = words;
    this.#index = index;
  }

  /** Blocks the calling thread until it holds the lock. */
  lock(): void {
    // exercise step 8: take the word from UNLOCKED to LOCKED with compareExchange; if that fails, mark it CONTENDED and Atomics.wait() while it stays so, until an exchange finds it UNLOCKED
    const words = this.#words;
    const i = this.#index;
    // Fast path: free → LOCKED in one instruction, the common case when nobody competes.
    let seen = Atomics.compareExchange(words, i, UNLOCKED, LOCKED);
    if (seen === UNLOCKED) return;
    // Slow path. Announce that we are about to wait by making the word CONTENDED. `exchange`
    // returns what was there: if the holder unlocked in the meantime it was UNLOCKED, and we now
    // own the lock (marked CONTENDED, which only costs one needless notify later).
    if (seen !== CONTENDED) seen = Atomics.exchange(words, i, CONTENDED);
    while (seen !== UNLOCKED) {
      // Sleep only while the word still reads CONTENDED; any change wakes us or stops us sleeping.
      Atomics.wait(words, i, CONTENDED);
      seen = Atomics.exchange(words, i, CONTENDED);
    }
    // exercise starter: // Not written yet: every thread gets in at once.
  }

  /**
   * Releases the lock, waking one sleeping waiter if there may be one. Only the holder may call
   * it; a thread that does not hold the lock would free it for someone else.
   */
  unlock(): void {
    // exercise step 8: from LOCKED, just free the word; from CONTENDED, free it and Atomics.notify() one sleeper
    // LOCKED → UNLOCKED needs nobody woken. CONTENDED means someone may sleep in wait(): free the
    // word, then wake one of them, which will retake it with exchange() in lock()'s loop.
    if (Atomics.sub(this.#words, this.#index, 1) !== LOCKED) {
      Atomics.store(this.#words, this.#index, UNLOCKED);
      Atomics.notify(this.#words, this.#index, 1);
    }
    // exercise starter: // Not written yet: nobody is ever woken.
  }

  /**
   * Takes the lock if it is free, without waiting.
   *
   * @returns `true` if the caller now holds the lock.
   */
  tryLock(): boolean {
    return Atomics.compareExchange(this.#words, this.#index, UNLOCKED, LOCKED) === UNLOCKED;
  }

  /** The lock word's state right now: {@link UNLOCKED}, {@link LOCKED} or {@link CONTENDED}. */
  get state(): number {
    return Atomics.load(this.#words, this.#index);
  }
}
