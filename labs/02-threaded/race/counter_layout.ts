/**
 * What the main thread and the counter Workers agree on: the job message, and where each value
 * lives in their shared memory. Its own module so the main thread can import it without loading
 * the Worker's entry code.
 *
 * @module
 */

/** How a Worker increments the shared counter. */
export type IncrementMode = "plain" | "atomic" | "mutex";

/**
 * Where everything lives in the shared `Int32Array`. One buffer holds all of it, so a single
 * `postMessage` shares it.
 */
export const SLOT = {
  /** The counter every Worker increments. */
  COUNTER: 0,
  /** The lock word of `mutex` mode (see `futex_mutex.ts`). */
  LOCK: 1,
  /** How many Workers are ready and waiting at the start line. */
  READY: 2,
  /** Set to 1 by the main thread to start every Worker at once. */
  GO: 3,
  /** Where the per-Worker step-control slots start (see {@link STEP}). */
  STEPS: 4,
} as const;

/**
 * Each Worker's own slots in step mode, at `SLOT.STEPS + worker * STEP.SIZE`. The main thread
 * raises `PERMIT` to let the Worker take its next step; the Worker reports how far it got in
 * `PHASE` and what it read in `SEEN`.
 */
export const STEP = {
  PERMIT: 0,
  PHASE: 1,
  SEEN: 2,
  SIZE: 3,
} as const;

/** The Worker's progress in step mode, as written to its `PHASE` slot. */
export const PHASE = {
  /** Waiting for permission to begin (or, in `mutex` mode, for the lock). */
  WAITING: 0,
  /** Has read the counter (its value is in `SEEN`) and waits for permission to write. */
  READ: 1,
  /** Has written the counter back (and released the lock). */
  WROTE: 2,
} as const;

/** The permissions the main thread gives in step mode, as written to `PERMIT`. */
export const PERMIT = { BEGIN: 1, WRITE: 2 } as const;

/** The message that starts a Worker. */
export interface CounterJob {
  /** The shared memory, laid out as {@link SLOT}. */
  buffer: SharedArrayBuffer;
  /** How to increment. */
  mode: IncrementMode;
  /**
   * `free`: wait at the start line, then increment `increments` times as fast as possible.
   * `step`: increment once, pausing after the read until the main thread says write.
   */
  run: "free" | "step";
  /** How many increments, in `free` runs. */
  increments: number;
  /** This Worker's number, from 0, for its step slots. */
  worker: number;
}
