/**
 * How big a reusable buffer should be: big enough for what it has held lately, and no bigger.
 *
 * Every connection keeps two buffers for as long as it is open: the decoder's, which the socket
 * reads into, and the writer's, which collects a batch of replies. A server with thousands of
 * mostly idle clients pays for each of them thousands of times, so they start small (a `PING`
 * needs a few bytes) and grow, by doubling, only when a client sends or asks for more.
 *
 * Growing is the easy half. A buffer that grew for one burst (a pipeline of big values, one large
 * `MGET`) should not keep its size for the rest of the connection's life, but it should not shrink
 * after every batch either: a client that sends big batches all the time would then pay for a new
 * buffer, and its copying, on every one. {@link CapacityPolicy} settles it the way Redis settles
 * its query buffers (`clientsCronResizeQueryBuffer()`): remember the most a buffer held over a
 * window, and at the end of the window shrink it to fit that peak if it is at least twice too big.
 * Redis's window is about a second of wall-clock time, checked from a timer; here it is a number
 * of uses (reads or batches), checked where the buffer is used anyway, so it costs a comparison
 * and an increment per batch, needs no timer per client, and can be tested without a clock. The
 * price: a connection that goes silent right after a burst keeps its buffer until it speaks again,
 * or closes.
 *
 * @module
 */

/** Uses per window: long enough that a steady stream of big batches never shrinks its buffer. */
export const SHRINK_WINDOW = 32;

/**
 * The smallest power of two that is at least `n`, and at least `minimum`.
 *
 * @param n Bytes needed.
 * @param minimum The least capacity to return, a power of two.
 * @returns Such as 4096 for 3000.
 */
export function fitCapacity(n: number, minimum: number): number {
  let capacity = minimum;
  while (capacity < n) capacity *= 2;
  return capacity;
}

/**
 * Decides when a growable buffer should shrink back, from the most it held in a window of uses.
 *
 * @example
 * ```ts
 * const policy = new CapacityPolicy(1024);
 * policy.note(40_000); // a burst: the buffer grew to 64 KiB
 * policy.fit(65_536); // 65536: the window is not over
 * // ... SHRINK_WINDOW uses later, none holding more than 500 bytes:
 * policy.fit(65_536); // 1024
 * ```
 */
export class CapacityPolicy {
  /** The capacity a buffer starts at and never shrinks below. */
  readonly minimum: number;
  /** Uses per window. */
  readonly window: number;
  #peak = 0;
  #uses = 0;

  /**
   * Creates a policy.
   *
   * @param minimum The least capacity, a power of two.
   * @param window Uses per window; {@link SHRINK_WINDOW} by default.
   */
  constructor(minimum: number, window: number = SHRINK_WINDOW) {
    this.minimum = minimum;
    this.window = window;
  }

  /**
   * Records that the buffer holds `used` bytes now; only the window's largest counts.
   *
   * @param used Bytes in the buffer.
   */
  note(used: number): void {
    if (used > this.#peak) this.#peak = used;
  }

  /**
   * Counts one use of the buffer, and says what its capacity should be. Call it when the buffer
   * is empty (a batch was sent, every request decoded), so that resizing copies nothing.
   *
   * @param capacity The buffer's capacity now.
   * @returns `capacity` to keep it; a smaller power of two, at the end of a window in which the
   *   buffer never held half of what it could, to shrink it.
   */
  fit(capacity: number): number {
    if (++this.#uses < this.window) return capacity;
    const target = fitCapacity(this.#peak, this.minimum);
    this.#uses = 0;
    this.#peak = 0;
    return capacity >= 2 * target ? target : capacity;
  }
}
