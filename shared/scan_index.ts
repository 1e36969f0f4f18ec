/**
 * The cursor behind `SCAN`: walking a keyspace a few keys per call while other clients write.
 *
 * `SCAN` promises one thing that matters: a key that exists from the first call to the last is
 * returned at least once, however many keys are added or removed in between (a key may come
 * twice; one added or removed meanwhile may or may not come). The cursor is a number the client
 * sends back, and the server keeps no state per scan, so a client may stop or resume whenever it
 * likes.
 *
 * Redis gets this from its hash table: the cursor is a bucket index counted in reversed-bit order,
 * which stays valid while the table grows or shrinks. A JavaScript `Map` has no buckets to count,
 * and the obvious cursor, "skip the first N keys", breaks the promise: delete a key the scan has
 * passed, and every later key moves one place forward, so the key at position N is skipped.
 *
 * So the cursor here counts *insertions*, which never move. Each time a key is added to the
 * keyspace it is appended to a list with the next sequence number, in the same order the `Map`
 * keeps it. A cursor names a sequence number to continue from. Deleting a key leaves its entry
 * behind (the walk skips keys that no longer exist), and a key deleted and added again, or moved
 * to the end by lab 4's LRU order, gets a second entry further on. Why the promise holds: a key
 * that exists throughout the scan was added before it began, so it has an entry before the
 * cursor's starting point that nothing removes while the key exists; the walk reaches it.
 *
 * A scan must also end, even while clients keep adding keys faster than it walks (Redis's ends
 * as long as the keyspace's size stays bounded). So the first step fixes a *horizon*, the end of
 * the list at that moment, and the walk stops there: keys added after it began need not be
 * returned. The cursor carries both numbers, `position × 2^21 + (horizon − position)`. When more
 * than 2^21 − 2 entries remain, the distance is written as 2^21 − 1, meaning "the end of the list
 * as it is when you come back", and the horizon is fixed once the walk is within that distance.
 *
 * Entries for deleted keys, and all but the first entry of a key, are dropped in a compaction once
 * they outnumber the live keys; the survivors keep their sequence numbers, so cursors stay valid,
 * and a cursor's position is found again by binary search. The list costs about 16 bytes a key,
 * so a keyspace builds it only when the first `SCAN` comes: until then a write pays one `null`
 * check.
 *
 * Cursors grow with the number of keys ever added: past 2^32 insertions they exceed 2^53, which
 * clients that read cursors as JavaScript numbers (not redis-cli, ioredis, node-redis 5+ or
 * redis-py) cannot hold exactly.
 *
 * @module
 */

/** One step of a scan: the keys visited, and the cursor to send next (0 when done). */
export interface ScanStep {
  /** Keys that exist, each once in this step; filtering (MATCH, TYPE) is the caller's. */
  keys: string[];
  /** Where to continue; 0 means the walk reached the end. */
  cursor: bigint;
}

/** Entries beyond the live keys before a compaction is worth its cost. */
const SLACK = 1024;
/** Bits of the cursor that hold the distance to the horizon. */
const DISTANCE_BITS = 21n;
/** The largest distance written; it means "the end of the list, when you come back". */
const FAR = (1n << DISTANCE_BITS) - 1n;

/**
 * Insertion sequence numbers for a keyspace's keys: the cursor space of `SCAN`.
 *
 * @example
 * ```ts
 * const data = new Map([["a", "1"], ["b", "2"]]);
 * const index = ScanIndex.of(data.keys());
 * index.walk(0n, 1, (key) => data.has(key)); // { keys: ["a"], cursor: 2n * 2n ** 21n + 1n }
 * ```
 */
export class ScanIndex {
  #keys: string[] = [];
  #seqs: number[] = [];
  /** Sequence numbers start at 1, so that cursor 0 can mean both "start" and "done". */
  #next = 1;

  /**
   * Builds an index of existing keys, in the order they are stored.
   *
   * @param keys The keyspace's keys, oldest first.
   * @returns The index.
   */
  static of(keys: Iterable<string>): ScanIndex {
    const index = new ScanIndex();
    for (const key of keys) index.added(key);
    return index;
  }

  /** How many entries it holds, live or not (for tests). */
  get length(): number {
    return this.#keys.length;
  }

  /**
   * Records a key that was just added to the end of the keyspace's order.
   *
   * @param key A byte string.
   */
  added(key: string): void {
    this.#keys.push(key);
    this.#seqs.push(this.#next++);
  }

  /** Forgets every entry (FLUSHDB). Numbering goes on, so old cursors find the end. */
  clear(): void {
    this.#keys = [];
    this.#seqs = [];
  }

  /**
   * Drops entries for keys that are gone, and every entry but the first of a key that moved, if
   * they are many: the list is then at most about twice the keyspace.
   *
   * @param size How many keys the keyspace holds.
   * @param exists Whether a key is in the keyspace.
   */
  compactIfNeeded(size: number, exists: (key: string) => boolean): void {
    if (this.#keys.length <= 2 * size + SLACK) return;
    const keys: string[] = [];
    const seqs: number[] = [];
    const seen = new Set<string>();
    // The first entry is kept: it is the one a scan already under way may still need to reach.
    for (let i = 0; i < this.#keys.length; i++) {
      const key = this.#keys[i];
      if (seen.has(key) || !exists(key)) continue;
      seen.add(key);
      keys.push(key);
      seqs.push(this.#seqs[i]);
    }
    this.#keys = keys;
    this.#seqs = seqs;
  }

  /**
   * Walks from a cursor until `count` existing keys are found, ten times that many entries are
   * visited (Redis's bound too, so a list full of deleted keys cannot make one call slow), or the
   * horizon is reached.
   *
   * @param cursor 0 to start, or a cursor an earlier step returned.
   * @param count How many keys to aim for.
   * @param exists Whether a key is in the keyspace; must not change the keyspace.
   * @returns The keys and the next cursor.
   */
  walk(cursor: bigint, count: number, exists: (key: string) => boolean): ScanStep {
    let position = 0;
    let horizon = this.#next;
    if (cursor !== 0n) {
      position = Number(cursor >> DISTANCE_BITS);
      const distance = cursor & FAR;
      if (distance !== FAR) horizon = position + Number(distance);
    }
    const keys: string[] = [];
    const seen = new Set<string>();
    let i = this.#firstAtOrAfter(position);
    for (let visited = 0; keys.length < count && visited < count * 10; i++, visited++) {
      if (i >= this.#keys.length || this.#seqs[i] >= horizon) return { keys, cursor: 0n };
      const key = this.#keys[i];
      if (!seen.has(key) && exists(key)) {
        seen.add(key);
        keys.push(key);
      }
    }
    if (i >= this.#keys.length || this.#seqs[i] >= horizon) return { keys, cursor: 0n };
    const next = this.#seqs[i];
    const distance = BigInt(horizon - next);
    return {
      keys,
      cursor: (BigInt(next) << DISTANCE_BITS) | (distance < FAR ? distance : FAR),
    };
  }

  /** Binary search: the index of the first entry whose sequence number is at least `seq`. */
  #firstAtOrAfter(seq: number): number {
    let lo = 0;
    let hi = this.#seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#seqs[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
