/**
 * Real threads racing on shared memory: the main-thread side of the Worker demo.
 *
 * Deno's answer to the Python projects' `threading.Thread` for CPU work is the Worker: a second
 * JavaScript thread with its own event loop. Workers normally share nothing (messages are
 * copied), except a `SharedArrayBuffer`, which every thread sees at once. With truly simultaneous threads, a race no
 * longer needs an `await`: between one instruction and the next, another core can write.
 *
 * Two experiments:
 *
 * - {@link runCounterRace}: N Workers each increment one shared counter M times, in one of three
 *   modes (see `counter_worker.ts`). `plain` loses updates — how many depends on the machine and
 *   the moment, which is why only the demo prints those numbers. `atomic` and `mutex` always end
 *   at exactly N × M, which a test checks.
 * - {@link runLostUpdateTimeline}: two Workers, one increment each, walked step by step through
 *   the interleaving that loses an update. That is deterministic, so a test checks it exactly:
 *   without a lock the result is 1; with the futex mutex the second Worker waits and the result
 *   is 2.
 *
 * Every Worker is terminated before these functions return, whatever happens.
 *
 * @module
 */

import { CONTENDED } from "./futex_mutex.ts";
import {
  type CounterJob,
  type IncrementMode,
  PERMIT,
  PHASE,
  SLOT,
  STEP,
} from "./counter_layout.ts";

export type { IncrementMode } from "./counter_layout.ts";

/** Long enough for a loaded machine; a stuck Worker fails instead of hanging forever. */
const TIMEOUT_MS = 30_000;

/** What one {@link runCounterRace} measured. */
export interface CounterRaceResult {
  /** How the Workers incremented. */
  mode: IncrementMode;
  /** How many Workers. */
  workers: number;
  /** Increments per Worker. */
  increments: number;
  /** `workers × increments`: what the counter should read. */
  expected: number;
  /** What it does read. */
  got: number;
  /** `expected - got`: the increments overwritten by another thread. */
  lost: number;
  /** Wall-clock time from the start signal until the last Worker finished, in milliseconds. */
  ms: number;
}

/** Workers started for one experiment, and a way to wait on them that notices if one fails. */
class WorkerGroup {
  readonly #workers: Worker[] = [];
  /** Each Worker's report (how long its increments took, in ms), once it has sent it. */
  readonly #reports: (number | undefined)[] = [];
  #failure: Error | undefined;

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL("./counter_worker.ts", import.meta.url).href, {
        type: "module",
      });
      this.#workers.push(worker);
      this.#reports.push(undefined);
      worker.onmessage = (event: MessageEvent<{ ms: number }>) => this.#reports[i] = event.data.ms;
      worker.onerror = (event) => {
        // Without preventDefault the Worker's error would also crash the main thread.
        event.preventDefault();
        this.#failure ??= new Error(`Worker ${i} failed: ${event.message}`);
      };
    }
  }

  /** Sends each Worker its job. */
  start(job: (worker: number) => CounterJob): void {
    this.#workers.forEach((worker, i) => worker.postMessage(job(i)));
  }

  /**
   * Waits (politely, on the event loop) until `ready()` is true.
   *
   * @throws {Error} If a Worker fails, or after {@link TIMEOUT_MS}, naming `what`.
   */
  async until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + TIMEOUT_MS;
    while (!ready()) {
      if (this.#failure) throw this.#failure;
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Waits for every Worker's report, within the same time limit as {@link until}. */
  async all(): Promise<number[]> {
    await this.until(() => this.#reports.every((ms) => ms !== undefined), "the Workers to finish");
    return this.#reports as number[];
  }

  /** Stops every Worker, finished or not. */
  terminate(): void {
    for (const worker of this.#workers) worker.terminate();
  }
}

/** Shared memory for `workers` Workers, laid out as `SLOT` says, all zeros. */
function sharedWords(workers: number): Int32Array {
  const length = SLOT.STEPS + workers * STEP.SIZE;
  return new Int32Array(new SharedArrayBuffer(length * Int32Array.BYTES_PER_ELEMENT));
}

/**
 * Runs `workers` Workers that each increment one shared counter `increments` times, all starting
 * at the same moment.
 *
 * @param mode `plain` (load, then store: loses updates), `atomic` (`Atomics.add`) or `mutex`
 *   (an ordinary read and write inside the futex mutex).
 * @param options How many Workers, and increments per Worker.
 * @returns Expected and actual counts, and the time taken.
 */
export async function runCounterRace(
  mode: IncrementMode,
  options: { workers: number; increments: number },
): Promise<CounterRaceResult> {
  const { workers, increments } = options;
  const expected = workers * increments;
  if (!Number.isSafeInteger(expected) || expected > 2 ** 31 - 1) {
    throw new RangeError(`Cannot count to ${expected}: the counter is a 32-bit integer`);
  }
  const words = sharedWords(workers);
  const group = new WorkerGroup(workers);
  try {
    group.start((worker) => ({
      buffer: words.buffer as SharedArrayBuffer,
      mode,
      run: "free",
      increments,
      worker,
    }));
    await group.until(() => Atomics.load(words, SLOT.READY) === workers, "the Workers to start");
    const start = performance.now();
    Atomics.store(words, SLOT.GO, 1);
    Atomics.notify(words, SLOT.GO);
    await group.all();
    const ms = performance.now() - start;
    const got = Atomics.load(words, SLOT.COUNTER);
    return { mode, workers, increments, expected, got, lost: expected - got, ms };
  } finally {
    group.terminate();
  }
}

/** What {@link runLostUpdateTimeline} saw. */
export interface TimelineResult {
  /** What happened, in order: `"A reads 0"`, `"B waits for the lock"`, `"B writes 1"`... */
  events: string[];
  /** The counter at the end; 2 is right, 1 means an increment was lost. */
  final: number;
}

/**
 * Walks two Workers through one increment each, in the interleaving that loses an update:
 *
 * 1. A may begin. A reads the counter.
 * 2. B may begin. Without a lock, B reads the same value. With the mutex, B cannot: it finds the
 *    lock held, marks it CONTENDED and sleeps in `Atomics.wait`.
 * 3. A may write. A writes its value + 1 (and releases the lock, waking B).
 * 4. B reads (if it had not yet) and may write.
 *
 * The main thread gives each permission only after it has seen the previous step done in shared
 * memory, so the order is forced, not hoped for: the result is the same on any machine.
 *
 * @param mode `plain` (no lock) or `mutex` (the futex mutex around the read and the write).
 * @returns The events in the order they happened, and the final count.
 */
export async function runLostUpdateTimeline(mode: "plain" | "mutex"): Promise<TimelineResult> {
  const words = sharedWords(2);
  const group = new WorkerGroup(2);
  const names = ["A", "B"];
  const slot = (worker: number, field: number) => SLOT.STEPS + worker * STEP.SIZE + field;
  const phase = (worker: number) => Atomics.load(words, slot(worker, STEP.PHASE));
  const seen = (worker: number) => Atomics.load(words, slot(worker, STEP.SEEN));
  const permit = (worker: number, step: number) => {
    Atomics.store(words, slot(worker, STEP.PERMIT), step);
    Atomics.notify(words, slot(worker, STEP.PERMIT));
  };
  const events: string[] = [];
  const reads = (worker: number) => events.push(`${names[worker]} reads ${seen(worker)}`);
  const writes = (worker: number) => events.push(`${names[worker]} writes ${seen(worker) + 1}`);
  const phaseIs = (worker: number, wanted: number, what: string) =>
    group.until(() => phase(worker) === wanted, `Worker ${names[worker]} to ${what}`);
  try {
    group.start((worker) => ({
      buffer: words.buffer as SharedArrayBuffer,
      mode,
      run: "step",
      increments: 1,
      worker,
    }));
    const [A, B] = [0, 1];

    permit(A, PERMIT.BEGIN);
    await phaseIs(A, PHASE.READ, "read");
    reads(A);

    permit(B, PERMIT.BEGIN);
    await group.until(
      () => phase(B) === PHASE.READ || Atomics.load(words, SLOT.LOCK) === CONTENDED,
      "Worker B to read or to wait for the lock",
    );
    const bBlocked = phase(B) !== PHASE.READ;
    if (bBlocked) events.push("B waits for the lock");
    else reads(B);

    permit(A, PERMIT.WRITE);
    await phaseIs(A, PHASE.WROTE, "write");
    writes(A);

    await phaseIs(B, PHASE.READ, "read");
    if (bBlocked) reads(B);
    permit(B, PERMIT.WRITE);
    await phaseIs(B, PHASE.WROTE, "write");
    writes(B);

    await group.all();
    return { events, final: Atomics.load(words, SLOT.COUNTER) };
  } finally {
    group.terminate();
  }
}
