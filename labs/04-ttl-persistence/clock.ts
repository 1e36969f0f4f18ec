/**
 * Where lab 4 gets the time from.
 *
 * Expiry is all about time, and a test that waits for a real second to pass is slow and flaky. So
 * nothing in lab 4 calls `Date.now()` directly: it asks a {@link Clock}. The server uses
 * {@link systemClock}; unit tests use a {@link ManualClock} and move it forward by hand, the way
 * mini-redis's tests pause and advance Tokio's clock.
 *
 * @module
 */

/** A source of wall-clock time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The real time. */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to.
 *
 * @example
 * ```ts
 * const clock = new ManualClock(1_000);
 * clock.advance(500);
 * clock.now(); // 1500
 * ```
 */
export class ManualClock implements Clock {
  /**
   * Creates a clock stopped at a moment.
   *
   * @param time Milliseconds since the epoch.
   */
  constructor(public time = 0) {}

  /** The time it was set to. */
  now(): number {
    return this.time;
  }

  /**
   * Moves the clock forward.
   *
   * @param ms How many milliseconds.
   */
  advance(ms: number): void {
    this.time += ms;
  }
}
