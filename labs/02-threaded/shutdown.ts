/**
 * A clean shutdown that may say no.
 *
 * Stopping a server is two steps, in this order, as Redis does them (`prepareForShutdown()`):
 *
 * ```
 * 1. prepare   while every client is still served: whatever must reach the disk first
 *              (lab 4: fsync the log, write the final snapshot). Any step may refuse.
 * 2. stop      close the listener and every connection; the server's task then returns.
 * ```
 *
 * A refusal cancels the shutdown: the server logs why and keeps running, with every client and
 * every key still there. Exiting anyway would throw away the writes that exist only in memory,
 * which is the one thing a cache with persistence promises not to do. A later SIGTERM (or
 * `SHUTDOWN`) tries again; `SHUTDOWN NOSAVE` or `FORCE` can skip or overrule the failing step.
 *
 * A signal and the `SHUTDOWN` command take the same path: {@link Shutdown.request}.
 *
 * @module
 */

/** What a shutdown asks for: the flags of Redis's `SHUTDOWN`; a signal asks for none. */
export interface ShutdownRequest {
  /** `SAVE`: write a snapshot even if none is configured; `NOSAVE`: write none. */
  save?: "save" | "nosave";
  /** `FORCE`: stop even if a step fails to write what it should. */
  force?: boolean;
}

/**
 * One step of preparing to stop. It runs while clients are still served; `false` (or a throw)
 * means the server cannot stop now. The step logs its own reason.
 */
export type PrepareStep = (request: ShutdownRequest) => boolean | Promise<boolean>;

/**
 * Redis's shutdown sequence for one server: signals and `SHUTDOWN` ask, prepare steps may refuse,
 * and only then is the server stopped.
 *
 * @example
 * ```ts
 * const shutdown = new Shutdown(server.log);
 * shutdown.prepareWith((request) => persistence.shutdown(request));
 * shutdown.onStop(() => listener.close());
 * shutdown.listenForSignals();
 * await shutdown.stopped;
 * ```
 */
export class Shutdown {
  /** Resolves once the server is stopping: the prepare steps succeeded. */
  readonly stopped: Promise<void>;
  #log: (line: string) => void;
  #steps: PrepareStep[] = [];
  #stops: (() => void)[] = [];
  /** The request being prepared, so a second one waits for its outcome instead of racing it. */
  #inFlight: Promise<boolean> | null = null;
  #done = false;
  #resolveStopped: () => void;

  /**
   * Creates the sequence; nothing listens for signals until {@link listenForSignals}.
   *
   * @param log Writes a line to the server's log.
   */
  constructor(log: (line: string) => void) {
    this.#log = log;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.stopped = promise;
    this.#resolveStopped = resolve;
  }

  /**
   * Adds a step that must succeed before the server stops. Steps run in the order added.
   *
   * @param step The step.
   * @returns This, to chain.
   */
  prepareWith(step: PrepareStep): this {
    this.#steps.push(step);
    return this;
  }

  /**
   * Adds what to do the moment the server stops, such as closing a listener. It must not await:
   * all the stop actions run in one go, so no client is served between the last prepare step
   * and the closing of the connections.
   *
   * @param stop The action.
   * @returns This, to chain.
   */
  onStop(stop: () => void): this {
    this.#stops.push(stop);
    return this;
  }

  /**
   * Asks the server to stop: runs the prepare steps, then, if every one succeeded, the stop
   * actions. A request made while another is being prepared gets that one's outcome.
   *
   * @param request The `SHUTDOWN` flags; none for a signal.
   * @returns `true` if the server is stopping; `false` if a step refused and it keeps running.
   */
  request(request: ShutdownRequest = {}): Promise<boolean> {
    if (this.#done) return Promise.resolve(true);
    return this.#inFlight ??= this.#prepareAndStop(request).finally(() => this.#inFlight = null);
  }

  /**
   * Stops on SIGINT or SIGTERM, through {@link request}. The handlers stay while the server runs,
   * so after a refused shutdown the next signal tries again, and go once it stops, so that a
   * further Ctrl-C kills the process the ordinary way if closing ever hangs. Ctrl-C while the
   * prepare steps run exits at once, unclean, as Redis does ("You insist"): the operator has
   * chosen to lose what was not written yet.
   *
   * @returns A function that stops listening, for a server whose loop ended another way (its
   *   listener closed from outside, as a test does).
   */
  listenForSignals(): () => void {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const handlers = signals.map((signal) => () => {
      if (this.#inFlight !== null) {
        if (signal !== "SIGINT") return;
        this.#log("You insist... exiting now.");
        Deno.exit(1);
      }
      this.#log(`Received ${signal}, shutting down`);
      void this.request();
    });
    for (const [i, signal] of signals.entries()) Deno.addSignalListener(signal, handlers[i]);
    let listening = true;
    const stopListening = () => {
      if (!listening) return;
      listening = false;
      for (const [i, signal] of signals.entries()) Deno.removeSignalListener(signal, handlers[i]);
    };
    this.stopped.then(stopListening);
    return stopListening;
  }

  async #prepareAndStop(request: ShutdownRequest): Promise<boolean> {
    this.#log("User requested shutdown...");
    for (const step of this.#steps) {
      let ok: boolean;
      try {
        // A step that answers at once is not awaited: nothing runs between it and the stop.
        const result = step(request);
        ok = result instanceof Promise ? await result : result;
      } catch (error) {
        this.#log(`Shutdown step failed: ${error instanceof Error ? error.message : error}`);
        ok = false;
      }
      if (!ok) {
        this.#log("Errors trying to shut down the server. Check the logs for more information.");
        return false;
      }
    }
    this.#done = true;
    for (const stop of this.#stops) stop();
    this.#resolveStopped();
    return true;
  }
}
