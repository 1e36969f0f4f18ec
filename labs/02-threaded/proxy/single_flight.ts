/**
 * Single-flight: many concurrent requests for one key share one upstream request.
 *
 * A popular key expires, and a hundred clients ask for it in the same millisecond. A naive cache
 * sends a hundred identical `GET`s upstream (a "thundering herd", or "cache stampede"), at exactly
 * the moment the upstream is least able to absorb them. Instead the first miss starts a *flight*
 * and every later miss on the same key, while it is in the air, waits for that same promise:
 *
 * ```
 * client 1  GET k ─┐
 * client 2  GET k ─┼─▶ one flight: GET k ─▶ upstream ─▶ "v" ─▶ all three
 * client 3  GET k ─┘
 * ```
 *
 * In JavaScript that is just a `Map` from key to promise. No lock is needed: checking the map and
 * adding to it happen with no `await` in between, so no other task can slip in (Go's
 * `singleflight` package needs a mutex for the same few lines).
 *
 * A flight can be *forgotten* while it is in the air: a write to its key passed through the proxy
 * after the flight's `GET` was sent, so its answer may be the old value. A forgotten flight still
 * answers the clients that joined it (they asked before the write), but it leaves the map at once,
 * so later requests start a new flight, and its `forgotten` flag tells the owner not to cache the
 * answer.
 *
 * @module
 */

/** One upstream request in the air, shared by everyone who asked for its key meanwhile. */
export interface Flight<V> {
  /** Settles with the upstream's answer, for every client that joined. */
  readonly promise: Promise<V>;
  /** Set when a write to the key passed after the flight started: do not cache its answer. */
  readonly forgotten: boolean;
}

interface MutableFlight<V> extends Flight<V> {
  forgotten: boolean;
}

/**
 * The flights in the air, by key.
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<string, string>();
 * const a = flights.join("k", () => fetchFromUpstream("k"));
 * const b = flights.join("k", () => fetchFromUpstream("k")); // not called: b shares a's flight
 * a.flight === b.flight; // true, and b.joined is true
 * ```
 */
export class SingleFlight<K, V> {
  readonly #flights = new Map<K, MutableFlight<V>>();

  /** How many flights are in the air. */
  get size(): number {
    return this.#flights.size;
  }

  /**
   * Joins the flight for `key`, or starts one by calling `start` if none is in the air.
   *
   * @param key What is being fetched.
   * @param start Fetches it; receives the new flight, so it can check `forgotten` before caching.
   *   Called only by the first request, and synchronously, before this method returns.
   * @returns The flight, and whether it was already in the air (`joined`) or started now.
   */
  join(key: K, start: (flight: Flight<V>) => Promise<V>): { flight: Flight<V>; joined: boolean } {
    // exercise proxy step 3: a flight already in the air for this key is joined: return it, with joined: true
    const existing = this.#flights.get(key);
    if (existing !== undefined) return { flight: existing, joined: true };
    // exercise starter: // Not written yet: every request starts a flight of its own.
    // The flight object exists before `start` runs, so `start` can hold on to it.
    const { promise, resolve } = Promise.withResolvers<V>();
    const flight: MutableFlight<V> = { promise, forgotten: false };
    this.#flights.set(key, flight);
    // Once it lands, the flight leaves the map, unless it was forgotten and replaced already.
    const land = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    const fetched = start(flight);
    fetched.then(land, land);
    resolve(fetched);
    return { flight, joined: false };
  }

  /**
   * Detaches the flight for `key`, if one is in the air: its answer is no longer trusted for the
   * cache, and the next request starts a new flight.
   *
   * @param key A key that was just written.
   */
  forget(key: K): void {
    const flight = this.#flights.get(key);
    if (flight === undefined) return;
    flight.forgotten = true;
    this.#flights.delete(key);
  }

  /** Detaches every flight in the air (`FLUSHALL`, or the upstream connection was lost). */
  forgetAll(): void {
    for (const flight of this.#flights.values()) flight.forgotten = true;
    this.#flights.clear();
  }
}
