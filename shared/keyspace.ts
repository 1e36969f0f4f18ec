/**
 * The keyspace: every key and its value.
 *
 * It maps byte strings to byte strings (see `resp/bytes.ts` for why strings and not
 * `Uint8Array`s), in a hash table of its own (`hash_table.ts`) that behaves as a `Map` does but
 * spares every request V8's search for the key in its table of unique strings. Commands never touch
 * the table directly; they go through these few methods, so a later lab can change what "get" and
 * "set" mean in one place. Lab 4 does exactly that: its keyspace checks an expiry time on every
 * read.
 *
 * **Observers.** Much of what later labs add is not a new kind of store but something that must
 * hear about every change: lab 2's `WATCH`, lab 4's change counter, the copy-on-write of a
 * background snapshot, the log of keys that expired. Each of those registers a
 * {@link KeyspaceObserver} with {@link Keyspace.observe} and does its one job there, instead of
 * each growing the keyspace by one more subclass. An observer hears of a change *before* it
 * happens, while the old value can still be read (a snapshot needs it), and of a key the keyspace
 * removed by itself *after* (a log writes a `DEL` then). With no observer, a write pays one
 * length check. The keyspace also counts what it announces ({@link Keyspace.changes}), so "did
 * this command change anything?" needs no observer at all.
 *
 * No locking is needed here. The server runs every command to completion on one thread before it
 * looks at the next one, so two commands never interleave inside a method (lab 2 is about what
 * happens when a command's work *does* span an `await`).
 *
 * @module
 */

import { HashTable, type Weigh } from "./hash_table.ts";
import { ScanIndex, type ScanStep } from "./scan_index.ts";

/** Why a key was removed without a command asking for it: its time came, or eviction chose it. */
export type RemovalReason = "expired" | "evicted";

/**
 * Something that wants to hear about changes to a {@link Keyspace}: a `WATCH` table, a change
 * counter, a background snapshot. Each method is optional; implement the ones the job needs.
 */
export interface KeyspaceObserver {
  /**
   * Called just before a key is written or removed, or, with `null`, before every key is removed
   * (a flush). The old value can still be read from the keyspace while this runs. A swap of two
   * databases (`SWAPDB`) calls it with `null` before and again after (see
   * {@link Keyspace.swapWith}). A write that
   * leaves the value as it was still counts, as Redis counts it; removing a key that does not
   * exist does not.
   */
  changing?(key: string | null): void;
  /**
   * Called just after the keyspace removed a key by itself (see {@link RemovalReason}), once the
   * change has been announced to {@link changing}.
   */
  removed?(key: string, reason: RemovalReason): void;
}

/** An observer that implements {@link KeyspaceObserver.changing}. */
type ChangeObserver = Required<Pick<KeyspaceObserver, "changing">>;
/** An observer that implements {@link KeyspaceObserver.removed}. */
type RemovalObserver = Required<Pick<KeyspaceObserver, "removed">>;

function hasChanging(observer: KeyspaceObserver): observer is ChangeObserver {
  return observer.changing !== undefined;
}

function hasRemoved(observer: KeyspaceObserver): observer is RemovalObserver {
  return observer.removed !== undefined;
}

/**
 * A count of changes, which the databases of one server share (see {@link Keyspace.changes}): then
 * "did this command change anything?" is one comparison, whichever databases the command touched
 * (`MOVE`, `SWAPDB`, `FLUSHALL` touch several).
 */
export interface ChangeCounter {
  /** Changes announced so far. */
  changes: number;
}

/** A key-value store of byte strings that tells its observers about every change. */
export class Keyspace {
  #data: HashTable<string>;
  readonly #counter: ChangeCounter;
  /** SCAN's cursor space (see `scan_index.ts`): `null` until the first SCAN. */
  #scan: ScanIndex | null = null;
  /**
   * The observers' methods, one array per event, bound when registered: a write calls plain
   * functions from one call site, not a method looked up on objects of many classes. A
   * registration replaces the array, so a loop already running over the old one is undisturbed.
   */
  #changing: ChangeObserver[] = [];
  #removed: RemovalObserver[] = [];

  /**
   * Creates an empty keyspace.
   *
   * @param counter Where its changes are counted: its own by default; a server's databases share
   *   one.
   * @param weigh What a key and its value weigh, added up in {@link dataWeight} (lab 4 counts
   *   their bytes); none by default.
   */
  constructor(counter: ChangeCounter = { changes: 0 }, weigh?: Weigh<string>) {
    this.#counter = counter;
    this.#data = new HashTable<string>({ weigh });
  }

  /**
   * The sum of what every key and its value weigh, by the function given to the constructor:
   * kept by the hash table as keys are written, so a write never reads the value it replaces.
   */
  protected get dataWeight(): number {
    return this.#data.weight;
  }

  /**
   * Registers an observer of every change from now on.
   *
   * @param observer What to tell; see {@link KeyspaceObserver}.
   * @returns A function that unregisters it.
   *
   * @example
   * ```ts
   * const db = new Keyspace();
   * const seen: (string | null)[] = [];
   * const stop = db.observe({ changing: (key) => seen.push(key) });
   * db.set("a", "1"); // seen: ["a"]
   * stop();
   * ```
   */
  observe(observer: KeyspaceObserver): () => void {
    if (hasChanging(observer)) this.#changing = [...this.#changing, observer];
    if (hasRemoved(observer)) this.#removed = [...this.#removed, observer];
    return () => {
      this.#changing = this.#changing.filter((o) => o !== observer);
      this.#removed = this.#removed.filter((o) => o !== observer);
    };
  }

  /**
   * How many changes have been announced since the keyspace was made (a flush is one), counted on
   * the counter it was given, so with those of every keyspace sharing it: a number that moves if
   * and only if something changed. Lab 4's write path compares it before and after a command to
   * decide whether to log it, without being one more observer on every write.
   */
  get changes(): number {
    return this.#counter.changes;
  }

  /** How many keys there are. */
  get size(): number {
    return this.#data.size;
  }

  /**
   * Reads a value.
   *
   * @param key A byte string.
   * @returns The value, or `undefined` if the key does not exist.
   */
  get(key: string): string | undefined {
    return this.#data.get(key);
  }

  /**
   * Sets a key to a value, replacing any old value.
   *
   * @param key A byte string.
   * @param value A byte string.
   */
  set(key: string, value: string): void {
    this.announce(key);
    this.#store(key, value);
  }

  /**
   * Changes the value of a key and keeps everything else about it. Here that is the same as
   * {@link set}; lab 4's keyspace keeps the key's expiry time, as Redis's `INCR` and `APPEND` do,
   * where `SET` clears it.
   *
   * @param key A byte string.
   * @param value A byte string.
   */
  update(key: string, value: string): void {
    this.announce(key);
    this.#store(key, value);
  }

  /**
   * Sets a key to a value, as {@link set} does, and returns the value it replaced: for a subclass
   * that keeps accounts of its values (lab 4 counts their bytes), in one lookup instead of two.
   * Observers hear of the change first, while the old value can still be read.
   *
   * @param key A byte string.
   * @param value A byte string.
   * @returns The old value, or `undefined` if the key is new.
   */
  protected replace(key: string, value: string): string | undefined {
    this.announce(key);
    return this.#store(key, value);
  }

  /**
   * Removes a key.
   *
   * @param key A byte string.
   * @returns Whether the key existed.
   */
  delete(key: string): boolean {
    if (this.#changing.length === 0) {
      const existed = this.#data.delete(key);
      if (existed) this.#counter.changes++;
      return existed;
    }
    // Removing nothing is no change: a watcher of a missing key stays clean.
    if (!this.#data.has(key)) return false;
    this.announce(key);
    return this.#data.delete(key);
  }

  /**
   * Tells whether a key exists.
   *
   * @param key A byte string.
   * @returns `true` if it does.
   */
  has(key: string): boolean {
    return this.#data.has(key);
  }

  /**
   * Copies a key's value to another key, replacing whatever that key held: the one step that
   * `COPY`, `RENAME` and `MOVE` share. Lab 4's keyspace copies the expiry time and memcached's
   * flags too, so a renamed session key still dies when it was meant to.
   *
   * @param from The key to copy; the caller has checked it differs from `to` in the same keyspace.
   * @param to The key to write.
   * @param target The keyspace to write it in: this one, or another database of the same server
   *   (`COPY ... DB 1`, `MOVE`), which is always of the same class.
   * @returns Whether `from` existed (nothing is written if not).
   */
  copy(from: string, to: string, target: this = this): boolean {
    const value = this.get(from);
    if (value === undefined) return false;
    target.set(to, value);
    return true;
  }

  /** Removes every key. */
  clear(): void {
    this.announce(null);
    this.#data.clear();
    this.#scan?.clear();
  }

  /**
   * Exchanges every key with another keyspace (`SWAPDB`): each object keeps its observers and its
   * place in the server's list of databases, and takes the other's contents. A subclass that
   * stores more about its keys swaps that too.
   *
   * Observers hear of a flush on both sides before the swap, while the old keys can be read (a
   * background snapshot copies them), and again after it: a `WATCH` on a key that only the other
   * side held must fail too, and only now is that key here to be found (Redis's
   * `touchAllWatchedKeysInDb()` checks both databases for the same reason).
   *
   * @param other The other database.
   */
  swapWith(other: this): void {
    this.announce(null);
    other.announce(null);
    this.swapContents(other);
    this.announce(null);
    other.announce(null);
  }

  /**
   * The exchange itself, which {@link swapWith} announces around; a subclass that stores more
   * about its keys swaps that too, then calls this.
   *
   * @param other The other database.
   */
  protected swapContents(other: this): void {
    [this.#data, other.#data] = [other.#data, this.#data];
    [this.#scan, other.#scan] = [other.#scan, this.#scan];
  }

  /**
   * Tells every observer that a key is about to change: what {@link set}, {@link delete} and
   * {@link clear} do first. A later lab calls it for a change the base class cannot see, such as
   * a new expiry time on a key.
   *
   * @param key The key, or `null` for every key.
   */
  protected announce(key: string | null): void {
    this.#counter.changes++;
    // The common case, no observer at all, costs this one length check.
    if (this.#changing.length === 0) return;
    const observers = this.#changing;
    for (let i = 0; i < observers.length; i++) observers[i].changing(key);
  }

  /**
   * Tells every observer that the keyspace removed a key by itself, after the removal.
   *
   * @param key The key that is gone.
   * @param reason Why.
   */
  protected announceRemoved(key: string, reason: RemovalReason): void {
    const observers = this.#removed;
    for (let i = 0; i < observers.length; i++) observers[i].removed(key, reason);
  }

  /**
   * Moves a key to the end of the keyspace's order without changing it: no observer hears of
   * it. Lab 4's least-recently-used order is the table's own order, and a read moves a key there.
   *
   * @param key A byte string; nothing happens if it does not exist.
   */
  protected moveToEnd(key: string): void {
    // SCAN's order is its own (see `scan_index.ts`): a key that only moves keeps its cursor place.
    this.#data.moveToEnd(key);
  }

  /**
   * Stores a key without telling observers: for loading a snapshot, which restores a state rather
   * than changing one.
   *
   * @param key A byte string.
   * @param value A byte string.
   */
  protected restore(key: string, value: string): void {
    this.#store(key, value);
  }

  /**
   * One step of `SCAN`: up to about `count` stored keys from a cursor, in the keyspace's order. A
   * key stored for the whole scan is returned by some step (see `scan_index.ts` for why).
   *
   * @param cursor 0 to start, or the cursor the previous step returned.
   * @param count How many keys to aim for.
   * @returns The keys and the next cursor, 0 when the scan is complete.
   */
  scan(cursor: bigint, count: number): ScanStep {
    const data = this.#data;
    // Built on the first SCAN, from the table's own order; kept up to date by every write after.
    this.#scan ??= ScanIndex.of(data.keys());
    this.#scan.compactIfNeeded(data.size, (key) => data.has(key));
    return this.#scan.walk(cursor, count, (key) => data.has(key));
  }

  /**
   * Every write's one way into the table. Once SCAN is in use, a key new to the table is also
   * recorded at the end of SCAN's order.
   *
   * @returns The value replaced, or `undefined` if the key is new.
   */
  #store(key: string, value: string): string | undefined {
    const old = this.#data.put(key, value);
    if (old === undefined && this.#scan !== null) {
      this.#scan.added(key);
      this.#scan.compactIfNeeded(this.#data.size, (k) => this.#data.has(k));
    }
    return old;
  }

  /**
   * Iterates over every key.
   *
   * @returns The keys, in insertion order.
   */
  keys(): IterableIterator<string> {
    return this.#data.keys();
  }
}
