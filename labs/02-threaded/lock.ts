/**
 * A mutual-exclusion lock for async code: the `threading.Lock` of a single-threaded event loop.
 *
 * Deno runs our JavaScript on one thread, so two commands never execute *at the same instant*.
 * They still interleave: every `await` hands the thread to whoever is ready next. A
 * read-modify-write with an `await` between the read and the write can therefore lose an update,
 * exactly as two threads can (see `race/lost_update.ts` and the lesson in README.md). Holding this
 * lock across the whole read-await-write makes the other clients wait their turn.
 *
 * The lock is fair: waiters get it in the order they asked (FIFO). A release hands the lock
 * straight to the next waiter without ever marking it free, so a newcomer calling {@link
 * Mutex.lock} in between cannot jump the queue.
 *
 * Releasing twice is harmless: each `release` function works once, and later calls do nothing.
 * We chose that over throwing because the usual bug, a `release()` in a `finally` after an early
 * `release()`, must not free the lock a *second* holder now owns.
 *
 * Lab 4 imports this module for its persistence code; keep the API stable.
 *
 * @module
 */

import { Fifo } from "../../shared/client/fifo.ts";

/**
 * A FIFO async mutex.
 *
 * @example
 * ```ts
 * const mutex = new Mutex();
 * const release = await mutex.lock();
 * try {
 *   const value = await read();
 *   await write(value + 1);
 * } finally {
 *   release();
 * }
 * // or, the same thing:
 * await mutex.runExclusive(async () => await write((await read()) + 1));
 * ```
 */
export class Mutex {
  #locked = false;
  /** Wake-up functions of the callers waiting in `lock()`, oldest first. */
  #waiters = new Fifo<() => void>();

  /** Whether someone holds it. */
  get locked(): boolean {
    return this.#locked;
  }

  /**
   * Waits until the lock is free, takes it, and returns the function that releases it (FIFO
   * order).
   *
   * @returns A promise of the release function; calling that function more than once does
   *   nothing after the first call.
   */
  lock(): Promise<() => void> {
    // exercise step 8: a free lock is taken at once; a held one puts the caller in line (#waiters), to be woken with its releaser when the lock is handed over
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve) => this.#waiters.push(() => resolve(this.#releaser())));
    // exercise starter: return Promise.resolve(() => {});
  }

  /**
   * Runs fn holding the lock; releases it even if fn throws.
   *
   * @param fn The critical section; may be async, and the lock is held until its promise settles.
   * @returns Whatever `fn` returns (or the rejection it throws).
   */
  async runExclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Makes the one-shot release function given to the current holder. */
  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // exercise step 8: wake the next waiter, handing it the lock without freeing it in between; free the lock only when nobody waits
      const next = this.#waiters.shift();
      // Hand over without a gap: #locked stays true, so nobody can barge in before `next` runs.
      if (next) next();
      else this.#locked = false;
      // exercise starter: this.#locked = false;
    };
  }
}
