/**
 * The proxy's cache: answers to `GET`, bounded in count, in bytes and in age.
 *
 * A JavaScript `Map` remembers the order in which keys were inserted, and that is all an LRU
 * (least recently used) list needs. A hit deletes the key and inserts it again, which moves it to
 * the back; eviction takes from the front, where the key nobody has asked for in the longest time
 * sits. No linked list, no timestamps to sort:
 *
 * ```
 * front (evicted first) ─▶  k3  k1  k4  k2  ◀─ back (used last)
 * GET k1 (a hit)        ─▶  k3  k4  k2  k1
 * ```
 *
 * Each entry also remembers when it was stored. Past `maxAgeMs` it is treated as absent and dropped
 * the next time anyone looks at it. The age bound is what limits staleness for writes the proxy
 * never sees (see the lesson): nothing else can.
 *
 * @module
 */

/** What a cached `GET` answered: the value, or `null` for a key that did not exist. */
export type CachedValue = string | null;

/** Options for {@link LruCache}. */
export interface CacheOptions {
  /** Most entries held; the least recently used goes first past it. */
  maxEntries: number;
  /** Most bytes of keys and values held (see {@link entrySize}). */
  maxBytes: number;
  /** An entry older than this many milliseconds is never returned. */
  maxAgeMs: number;
  /**
   * Milliseconds from any fixed origin. A monotonic clock (`performance.now()`, the default), so
   * that the wall clock jumping backwards cannot make an entry live longer than `maxAgeMs`; tests
   * pass a clock they move by hand.
   */
  now?: () => number;
}

/** Counters for `INFO proxy`. */
export interface CacheStats {
  /** Entries dropped to make room (count or bytes). */
  evictions: number;
  /** Entries dropped because they were older than the maximum age. */
  expirations: number;
}

interface Entry {
  value: CachedValue;
  bytes: number;
  storedAt: number;
}

/**
 * How many bytes an entry is charged: its key and its value, one byte per character of a byte
 * string. That is the payload, not what V8 spends on it (a `Map` entry and two strings cost some
 * tens of bytes more); a cache of many tiny values holds more memory than `cached_bytes` says.
 *
 * @param key A byte string.
 * @param value The cached value.
 * @returns The size counted against `maxBytes`.
 */
export function entrySize(key: string, value: CachedValue): number {
  return key.length + (value?.length ?? 0);
}

/**
 * A least-recently-used cache of byte strings with a maximum age.
 *
 * @example
 * ```ts
 * const cache = new LruCache({ maxEntries: 2, maxBytes: 1024, maxAgeMs: 10_000 });
 * cache.set("a", "1");
 * cache.get("a"); // { value: "1" }
 * cache.get("b"); // undefined: a miss (a cached missing key would be { value: null })
 * ```
 */
export class LruCache {
  readonly #entries = new Map<string, Entry>();
  readonly #options: Required<CacheOptions>;
  #bytes = 0;
  /** Evictions and expirations since the cache was made. */
  readonly stats: CacheStats = { evictions: 0, expirations: 0 };

  /**
   * Creates an empty cache.
   *
   * @param options The bounds, and optionally a clock.
   */
  constructor(options: CacheOptions) {
    this.#options = { now: () => performance.now(), ...options };
  }

  /** How many entries are held, including any that have expired but nobody has looked at. */
  get size(): number {
    return this.#entries.size;
  }

  /** How many bytes the entries are charged in all (see {@link entrySize}). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Looks a key up. A hit makes the entry the most recently used.
   *
   * @param key A byte string.
   * @returns `{ value }` on a hit (`value` may be `null`: the key was known to be missing), or
   *   `undefined` on a miss, including an entry too old to use.
   */
  get(key: string): { value: CachedValue } | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    // exercise proxy step 2: an entry past its age is removed (#remove), counted as an expiration, and a miss; a hit moves to the back of the Map's order
    if (this.#expired(entry)) {
      this.#remove(key, entry);
      this.stats.expirations++;
      return undefined;
    }
    // Delete and insert again: the key moves to the back of the Map's order, the "used last" end.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    // exercise starter: // Not written yet: entries never age, and a hit stays where it is.
    return { value: entry.value };
  }

  /**
   * Stores a value as fresh, then evicts least recently used entries until the bounds hold. A
   * value bigger than `maxBytes` on its own is not stored at all (and any older one is dropped):
   * it would only evict everything else and then itself.
   *
   * @param key A byte string.
   * @param value The value `GET` answered, or `null` if the key did not exist.
   */
  set(key: string, value: CachedValue): void {
    this.delete(key);
    const bytes = entrySize(key, value);
    if (bytes > this.#options.maxBytes || this.#options.maxEntries < 1) return;
    this.#entries.set(key, { value, bytes, storedAt: this.#options.now() });
    this.#bytes += bytes;
    // exercise proxy step 2: while there are more than maxEntries entries or more than maxBytes bytes, remove the first key in the Map's order (the least recently used), counting an eviction
    while (
      this.#entries.size > this.#options.maxEntries || this.#bytes > this.#options.maxBytes
    ) {
      // The first key in the Map's order is the least recently used one.
      const [oldest, entry] = this.#entries.entries().next().value as [string, Entry];
      this.#remove(oldest, entry);
      this.stats.evictions++;
    }
    // exercise starter: // Not written yet: nothing is ever evicted.
  }

  /**
   * Forgets a key, if it is held.
   *
   * @param key A byte string.
   * @returns `true` if an entry was removed.
   */
  delete(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#remove(key, entry);
    return true;
  }

  /** Forgets every entry. */
  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  /**
   * Drops every entry past its age, so that `size` and `bytes` count only usable ones. It walks
   * the whole cache (at most `maxEntries` entries), so it runs when an operator asks (`INFO`), not
   * on every request: on the request path an old entry is dropped when it is looked up.
   */
  purgeExpired(): void {
    for (const [key, entry] of this.#entries) {
      if (this.#expired(entry)) {
        this.#remove(key, entry);
        this.stats.expirations++;
      }
    }
  }

  #expired(entry: Entry): boolean {
    return this.#options.now() - entry.storedAt >= this.#options.maxAgeMs;
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}
