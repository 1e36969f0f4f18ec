/**
 * A frozen view of the keyspace while it keeps changing: Redis's `fork()`, done by hand.
 *
 * `BGSAVE` must write the keyspace as it was at one instant, while clients keep writing to it.
 * Redis gets that for free from the operating system: it calls `fork()`, and the child process
 * sees a copy of the parent's memory frozen at that instant. The copy is lazy — parent and child
 * share every page until the parent writes to one, and only then does the kernel copy that page
 * (copy-on-write). The child writes the snapshot at its leisure; the parent serves clients.
 *
 * Deno has no `fork()`, and one JavaScript thread cannot hand a heap to another. So we do the
 * copy-on-write ourselves, per key instead of per page:
 *
 * 1. At the start, remember which keys exist (an array of references, not copies of values). This
 *    is our `fork()` pause, and like Redis's it grows with the size of the keyspace: a few
 *    milliseconds for a million keys.
 * 2. Subscribe to the keyspace's change listener, which runs *before* any key changes. The first
 *    time a key changes, save its old state — value, expiry, flags. That is the page copy.
 * 3. Write the keys in chunks, yielding to the event loop between chunks. For each key, write the
 *    saved old state if there is one, or else the live one, which has not changed since the start.
 *
 * Keys created after the start are not in the array, so they are left out. Keys deleted after
 * the start had their state saved before they went, so they are written. A flush (`FLUSHALL`)
 * saves every key not written yet. Like Redis's copy-on-write, the cost is memory for the keys
 * that change while the snapshot runs, and nothing at all when no snapshot runs.
 *
 * @module
 */

import type { Entry, ExpiringKeyspace } from "../keyspace.ts";

/**
 * The keyspace as it was when the view was created, readable in chunks while the keyspace changes.
 *
 * @example
 * ```ts
 * const view = new PointInTime(db);
 * db.set("new", "x");              // not in the view
 * for (const chunk of view.chunks(1000)) await write(chunk);
 * view.close();
 * ```
 */
export class PointInTime {
  /** The moment of the view, on the keyspace's clock. */
  readonly at: number;
  #db: ExpiringKeyspace;
  #keys: string[];
  #next = 0;
  /** Old states of keys changed since the start; `null` for a key that did not exist then. */
  #saved = new Map<string, Entry | null>();
  #unsubscribe: () => void;

  /**
   * Freezes the keyspace's current state.
   *
   * @param db The keyspace.
   */
  constructor(db: ExpiringKeyspace) {
    this.#db = db;
    this.at = db.clock.now();
    // Every stored key, expired ones too (`next()` skips those): copying the Map's own key order
    // is one native pass, where `keys()` checks each expiry.
    this.#keys = Array.from(db.storedKeys());
    this.#unsubscribe = db.observe({
      changing: (key) => key === null ? this.#saveRest() : this.#save(key),
    });
  }

  /** How many keys the view holds (including any that had expired but were not removed yet). */
  get size(): number {
    return this.#keys.length;
  }

  /** How many keys have been read so far. */
  get done(): number {
    return this.#next;
  }

  /** How many old states are being kept: the copy-on-write cost so far. */
  get copies(): number {
    return this.#saved.size;
  }

  /**
   * Reads the next keys as they were at the view's moment.
   *
   * @param max At most this many.
   * @returns The entries; an empty array once every key has been read.
   */
  next(max: number): Entry[] {
    const out: Entry[] = [];
    const keys = this.#keys;
    while (out.length < max && this.#next < keys.length) {
      const key = keys[this.#next++];
      const saved = this.#saved.get(key);
      const entry = saved === undefined ? this.#db.peek(key) : saved;
      // Expired at the view's moment: not part of it (the keyspace had not removed it yet).
      if (entry && (entry.expiresAt === null || entry.expiresAt > this.at)) out.push(entry);
    }
    return out;
  }

  /**
   * Reads the whole view, `size` keys at a time; each chunk is read when the consumer asks for it,
   * so the consumer may await between chunks.
   *
   * @param size Keys per chunk.
   * @returns The chunks, each non-empty.
   */
  *chunks(size: number): IterableIterator<Entry[]> {
    try {
      while (this.#next < this.#keys.length) {
        const chunk = this.next(size);
        if (chunk.length > 0) yield chunk;
      }
    } finally {
      // Spent or abandoned, the view stops paying for copies right away.
      this.close();
    }
  }

  /** Stops watching the keyspace and lets the saved states go. Safe to call twice. */
  close(): void {
    this.#unsubscribe();
    this.#saved.clear();
    this.#keys = [];
    this.#next = 0;
  }

  /** The listener: keep a key's old state the first time it changes. */
  #save(key: string): void {
    // exercise step 12: unless every key was read or this one was kept already, keep its state now
    // Every key has been read already: nothing to protect any more.
    if (this.#next >= this.#keys.length || this.#saved.has(key)) return;
    this.#saved.set(key, this.#db.peek(key) ?? null);
    // exercise starter: return;
  }

  /** Before a flush: keep every key that has not been read yet. */
  #saveRest(): void {
    for (let i = this.#next; i < this.#keys.length; i++) this.#save(this.#keys[i]);
  }
}

/** Some keys of one database, as a snapshot or a log rewrite writes them. */
export interface DatabaseChunk {
  /** The database's number. */
  readonly db: number;
  /** The keys, as they were at the view's moment. */
  readonly entries: Entry[];
}

/**
 * Every database of a server frozen at one moment: a {@link PointInTime} of each, made in one
 * synchronous step, read one database after another.
 *
 * @example
 * ```ts
 * const view = new DatabasesAtOnce(databases);
 * for (const { db, entries } of view.chunks(1000)) await write(db, entries);
 * ```
 */
export class DatabasesAtOnce {
  /** The moment of the view, on the databases' clock. */
  readonly at: number;
  /**
   * For RDB's RESIZEDB hint: each database's keys in the view, and its keys with a TTL at the
   * view's moment, as Redis counts them at the moment of its fork.
   */
  readonly sizes: DatabaseSizes;
  #views: PointInTime[];

  /**
   * Freezes every database's current state.
   *
   * @param databases The server's databases, numbered from 0.
   */
  constructor(databases: readonly ExpiringKeyspace[]) {
    this.#views = databases.map((db) => new PointInTime(db));
    this.at = this.#views[0].at;
    this.sizes = this.#views.map((view, i) => ({
      keys: view.size,
      expiring: databases[i].expiringCount,
    }));
  }

  /** How many keys the view holds, in every database together. */
  get size(): number {
    return this.#views.reduce((sum, view) => sum + view.size, 0);
  }

  /** How many keys have been read so far. */
  get done(): number {
    return this.#views.reduce((sum, view) => sum + view.done, 0);
  }

  /** How many old states are being kept: the copy-on-write cost so far. */
  get copies(): number {
    return this.#views.reduce((sum, view) => sum + view.copies, 0);
  }

  /**
   * Reads the whole view, database by database, `size` keys at a time.
   *
   * @param size Keys per chunk.
   * @returns The chunks, each non-empty and from one database.
   */
  *chunks(size: number): IterableIterator<DatabaseChunk> {
    try {
      for (let db = 0; db < this.#views.length; db++) {
        for (const entries of this.#views[db].chunks(size)) yield { db, entries };
      }
    } finally {
      this.close();
    }
  }

  /** Stops every database's view. Safe to call twice. */
  close(): void {
    for (const view of this.#views) view.close();
  }
}

/** How many keys each database holds, and how many of them have a TTL, by database number. */
export type DatabaseSizes = readonly { keys: number; expiring: number }[];
