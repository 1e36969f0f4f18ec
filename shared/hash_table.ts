/**
 * A hash table keyed by byte strings: the keyspace's own `Map`, as Redis has its own `dict`.
 *
 * **Why not a `Map`?** A `Map` is a fine hash table, but V8 adds one step for string keys: the
 * first time a string is used as a key it is *internalized*, looked up in V8's table of unique
 * strings and inserted there if new, so that later comparisons are one pointer comparison. Every
 * request brings new strings (the decoder makes them from the socket's bytes), so every `GET` and
 * `SET` paid for that search, with cache misses in a table as large as the keyspace; a million new
 * keys loaded from a snapshot paid for a million inserts into it. This table never asks V8's
 * string table: it hashes the characters itself and compares strings by content, which for a key
 * of a few dozen bytes is a handful of machine instructions. `bench/README.md` has the numbers.
 *
 * **Layout.** Entries live in parallel arrays, in insertion order: the key, the value, the hash,
 * and the next entry in the same bucket (Redis's `dict` chains colliding keys the same way). A
 * bucket holds the index of its first entry. Removing a key leaves a hole, as a `Map` does; holes
 * are squeezed out when the arrays are full, before they grow, or when the table has shrunk to a
 * quarter. Order is a `Map`'s: a new key goes last, a new value keeps its key's place.
 *
 * **Iterators** behave as a `Map`'s do while the table changes under them: a key removed before
 * they reach it is skipped, a key added is met, a key moved to the end ({@link moveToEnd}) is met
 * again there. The table knows its unfinished iterators and moves their places when it squeezes
 * out holes. An iterator stops being watched once it is finished, or its `return()` is called
 * (`for...of` does that for you on `break`), or it is dropped: the table holds its place weakly.
 *
 * **Weights.** Given a function that weighs a key and its value (lab 4 counts their bytes), the
 * table keeps each entry's weight beside it and the total ({@link weight}), so that replacing a
 * value never has to read the old one to know what it weighed: the old string is usually cold in
 * the processor's cache, and reading its length was a cache miss on every overwrite.
 *
 * **Hash flooding.** A client who knows the hash function can pick keys that all fall into one
 * bucket and turn every lookup into a walk of a long chain. So the hash starts from a random seed,
 * one per process, as Redis seeds SipHash and V8 its string hashes, and a chain that grows past
 * {@link MAX_CHAIN} entries makes that table pick a new seed of its own and rehash.
 *
 * @module
 */

/** Entries the arrays start with; always a power of two, as is every later capacity. */
const MIN_CAPACITY = 8;

/**
 * A chain this long on insert means the keys collide far more than chance allows (with buckets at
 * least as many as keys, a chain of even 20 is vanishingly rare): pick a new seed.
 */
export const MAX_CHAIN = 64;

/** What a key and its value weigh: any number the table should add up for its owner. */
export type Weigh<V> = (key: string, value: V) => number;

/** Options for a {@link HashTable}. */
export interface HashTableOptions<V> {
  /** Weighs each entry (see the module's notes); none by default. */
  weigh?: Weigh<V>;
  /** The hash's seed; the process's random one by default (tests fix one to build collisions). */
  seed?: number;
}

/** A place in the entry arrays that an unfinished iterator has reached. */
interface Cursor {
  at: number;
}

/** A fresh random 32-bit seed. */
function randomSeed(): number {
  return crypto.getRandomValues(new Int32Array(1))[0];
}

/**
 * The seed every table starts with: one per process, so that the hash remembered below serves
 * every table a command touches (lab 4 looks a key up in its expiry table, then its value table).
 */
const PROCESS_SEED = randomSeed();

/**
 * Hashes a byte string: FNV-1a over its characters from a seeded start, in two interleaved lanes
 * (even and odd characters) so that the processor runs both chains of multiplications at once,
 * then MurmurHash3's final mix, so that the low bits (the bucket) depend on every byte.
 *
 * @param key The string.
 * @param seed The table's seed.
 * @returns A 32-bit hash.
 */
export function hashOf(key: string, seed: number): number {
  const length = key.length;
  let even = seed ^ length;
  let odd = ~seed;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    even = Math.imul(even ^ key.charCodeAt(i), 0x01000193);
    odd = Math.imul(odd ^ key.charCodeAt(i + 1), 0x01000193);
  }
  if (i < length) even = Math.imul(even ^ key.charCodeAt(i), 0x01000193);
  let h = even ^ Math.imul(odd, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The last string hashed: a command asks for one key several times. */
let lastKey = "";
/**
 * Its seed and hash. Not two `let`s: V8 keeps a module's `let` in a slot that holds a number as
 * a small integer (31 bits) or else as a boxed one, so half of all 32-bit hashes would allocate a
 * new box on every store. An `Int32Array` stores them as they are (`bench/README.md` measured it).
 */
const last = Int32Array.of(0, hashOf("", 0));

/**
 * {@link hashOf}, remembering the last answer: the same string object asked again (lab 4's expiry
 * table, then its value table) costs one pointer comparison instead of a pass over its bytes.
 */
function hashFor(key: string, seed: number): number {
  if (key === lastKey && seed === last[0]) return last[1];
  lastKey = key;
  last[0] = seed;
  return last[1] = hashOf(key, seed);
}

/**
 * A hash table from byte strings to values, with a `Map`'s API and order (see the module's notes).
 *
 * @example
 * ```ts
 * const table = new HashTable<string>();
 * table.set("a", "1").set("b", "2");
 * table.get("a"); // "1"
 * table.delete("a");
 * [...table.keys()]; // ["b"]
 * ```
 */
export class HashTable<V> {
  #seed: number;
  /** Per bucket, the index of its first entry, or -1. As many buckets as entry slots. */
  #buckets = new Int32Array(MIN_CAPACITY).fill(-1);
  /** Per entry, the next entry in its bucket, or -1. */
  #chain = new Int32Array(MIN_CAPACITY);
  #hashes = new Int32Array(MIN_CAPACITY);
  /** Per entry, its key, or `undefined` for a hole. */
  #keys: (string | undefined)[] = new Array(MIN_CAPACITY);
  #values: (V | undefined)[] = new Array(MIN_CAPACITY);
  /** Per entry, its weight; only with a {@link Weigh} function. */
  #weights: Float64Array | null;
  #weigh: Weigh<V> | null;
  #weight = 0;
  /** Entry slots used so far, holes included: the next key goes here. */
  #end = 0;
  #size = 0;
  /** The places of unfinished iterators; an iterator dropped half-way is forgotten with it. */
  #cursors = new Set<WeakRef<Cursor>>();
  /** How many keys there were at the last new seed. */
  #sizeAtReseed = 0;

  /**
   * Creates an empty table.
   *
   * @param options A weighing function, a fixed seed.
   */
  constructor(options: HashTableOptions<V> = {}) {
    this.#seed = options.seed ?? PROCESS_SEED;
    this.#weigh = options.weigh ?? null;
    this.#weights = this.#weigh === null ? null : new Float64Array(MIN_CAPACITY);
  }

  /** The sum of every entry's weight; 0 without a weighing function. */
  get weight(): number {
    return this.#weight;
  }

  /** The hash's seed now: the one given, or a new one after a flood of collisions. */
  get seed(): number {
    return this.#seed;
  }

  /** How many keys there are. */
  get size(): number {
    return this.#size;
  }

  /**
   * Reads a value.
   *
   * @param key A byte string.
   * @returns Its value, or `undefined` if the key is not here.
   */
  get(key: string): V | undefined {
    const entry = this.#find(key, hashFor(key, this.#seed));
    return entry < 0 ? undefined : this.#values[entry];
  }

  /**
   * Tells whether a key is here.
   *
   * @param key A byte string.
   * @returns `true` if it is.
   */
  has(key: string): boolean {
    return this.#find(key, hashFor(key, this.#seed)) >= 0;
  }

  /**
   * Sets a key's value. A new key goes last in the order; an existing one keeps its place.
   *
   * @param key A byte string.
   * @param value Its value.
   * @returns The table, as `Map.set` does.
   */
  set(key: string, value: V): this {
    this.put(key, value);
    return this;
  }

  /**
   * Sets a key's value and returns the value it replaced: a `get` and a `set` in one lookup.
   *
   * @param key A byte string.
   * @param value Its new value.
   * @returns The old value, or `undefined` if the key is new (it goes last in the order).
   */
  put(key: string, value: V): V | undefined {
    const hash = hashFor(key, this.#seed);
    const buckets = this.#buckets;
    let entry = buckets[hash & (buckets.length - 1)];
    let length = 0;
    while (entry >= 0) {
      if (this.#hashes[entry] === hash && this.#keys[entry] === key) {
        const old = this.#values[entry];
        this.#values[entry] = value;
        if (this.#weights !== null) {
          const weight = (this.#weigh as Weigh<V>)(key, value);
          this.#weight += weight - this.#weights[entry];
          this.#weights[entry] = weight;
        }
        return old;
      }
      entry = this.#chain[entry];
      length++;
    }
    this.#append(key, value, hash, this.#weigh === null ? 0 : this.#weigh(key, value));
    // At most once per doubling of the keys: against collisions no seed undoes, rehashing on every
    // insert would cost more than the long chain.
    if (length >= MAX_CHAIN && this.#size >= 2 * this.#sizeAtReseed) {
      this.#sizeAtReseed = this.#size;
      this.#rehash(randomSeed(), this.#keys.length);
    }
    return undefined;
  }

  /**
   * Removes a key.
   *
   * @param key A byte string.
   * @returns Whether it was here.
   */
  delete(key: string): boolean {
    const hash = hashFor(key, this.#seed);
    const bucket = hash & (this.#buckets.length - 1);
    let previous = -1;
    let entry = this.#buckets[bucket];
    while (entry >= 0) {
      if (this.#hashes[entry] === hash && this.#keys[entry] === key) {
        const next = this.#chain[entry];
        if (previous < 0) this.#buckets[bucket] = next;
        else this.#chain[previous] = next;
        this.#keys[entry] = undefined;
        this.#values[entry] = undefined;
        if (this.#weights !== null) this.#weight -= this.#weights[entry];
        this.#size--;
        // Shrink, as a Map does, once the keys fill a quarter of the slots.
        const capacity = this.#keys.length;
        if (capacity > MIN_CAPACITY && this.#size < capacity / 4) {
          this.#rehash(this.#seed, capacity / 2);
        }
        return true;
      }
      previous = entry;
      entry = this.#chain[entry];
    }
    return false;
  }

  /**
   * Moves a key to the end of the order, keeping its value: what a `Map` does with `delete` then
   * `set`, in one lookup. An iterator that has passed the key meets it again.
   *
   * @param key A byte string; nothing happens if it is not here.
   * @returns Whether it was here.
   */
  moveToEnd(key: string): boolean {
    const hash = hashFor(key, this.#seed);
    const entry = this.#find(key, hash);
    if (entry < 0) return false;
    if (entry === this.#end - 1) return true;
    const value = this.#values[entry] as V;
    const weight = this.#weights === null ? 0 : this.#weights[entry];
    this.delete(key);
    this.#append(key, value, hash, weight);
    return true;
  }

  /** Removes every key. Unfinished iterators go on from the start: they meet keys added later. */
  clear(): void {
    this.#buckets = new Int32Array(MIN_CAPACITY).fill(-1);
    this.#chain = new Int32Array(MIN_CAPACITY);
    this.#hashes = new Int32Array(MIN_CAPACITY);
    this.#keys = new Array(MIN_CAPACITY);
    this.#values = new Array(MIN_CAPACITY);
    this.#weights = this.#weights === null ? null : new Float64Array(MIN_CAPACITY);
    this.#weight = 0;
    this.#end = 0;
    this.#size = 0;
    this.#sizeAtReseed = 0;
    for (const cursor of this.#liveCursors()) cursor.at = 0;
  }

  /**
   * Iterates over the keys in order; see the module's notes for changes made meanwhile. An
   * iterator registers its place with the table on its first step, and leaves when it is done.
   *
   * @returns The keys.
   */
  keys(): IterableIterator<string> {
    const cursor: Cursor = { at: 0 };
    const ref = new WeakRef(cursor);
    const cursors = this.#cursors;
    let done = false;
    let registered = false;
    const finish = (): IteratorResult<string> => {
      done = true;
      cursors.delete(ref);
      return { done: true, value: undefined };
    };
    const iterator: IterableIterator<string> = {
      next: (): IteratorResult<string> => {
        if (done) return { done: true, value: undefined };
        if (!registered) {
          cursors.add(ref);
          registered = true;
        }
        while (cursor.at < this.#end) {
          const key = this.#keys[cursor.at++];
          if (key !== undefined) return { done: false, value: key };
        }
        return finish();
      },
      return: finish,
      [Symbol.iterator]: () => iterator,
    };
    return iterator;
  }

  /** The entry holding `key`, or -1. */
  #find(key: string, hash: number): number {
    let entry = this.#buckets[hash & (this.#buckets.length - 1)];
    while (entry >= 0) {
      if (this.#hashes[entry] === hash && this.#keys[entry] === key) return entry;
      entry = this.#chain[entry];
    }
    return -1;
  }

  /** Adds a key that is not here, at the end, making room first if the arrays are full. */
  #append(key: string, value: V, hash: number, weight: number): void {
    if (this.#end === this.#keys.length) {
      const capacity = this.#keys.length;
      // Mostly keys: grow. Mostly holes (keys removed or moved to the end): squeeze them out.
      this.#rehash(this.#seed, this.#size >= capacity / 2 ? capacity * 2 : capacity);
    }
    const entry = this.#end++;
    this.#keys[entry] = key;
    this.#values[entry] = value;
    this.#hashes[entry] = hash;
    if (this.#weights !== null) {
      this.#weights[entry] = weight;
      this.#weight += weight;
    }
    const bucket = hash & (this.#buckets.length - 1);
    this.#chain[entry] = this.#buckets[bucket];
    this.#buckets[bucket] = entry;
    this.#size++;
  }

  /**
   * Rebuilds the arrays at a capacity, without holes, hashing with a seed: grows, shrinks,
   * squeezes out holes, or (with a new seed) scatters keys that collided. Unfinished iterators
   * move with the entries they stand on.
   *
   * At the same capacity the entries are packed where they are, not copied into new arrays. A cache
   * at its memory bound squeezes out the holes its evictions leave again and again; new arrays each
   * time would hold every slot twice at the moment of the copy, and leave the old ones to the
   * garbage collector, which is what the eviction flood's peak is made of (`bench/README.md`).
   * Packing in place is safe because an entry only ever moves towards the front.
   */
  #rehash(seed: number, capacity: number): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const oldHashes = this.#hashes;
    const oldWeights = this.#weights;
    const inPlace = capacity === oldKeys.length;
    const sameSeed = seed === this.#seed;
    const keys: (string | undefined)[] = inPlace ? oldKeys : new Array(capacity);
    const values: (V | undefined)[] = inPlace ? oldValues : new Array(capacity);
    const hashes = inPlace ? oldHashes : new Int32Array(capacity);
    const weights = oldWeights === null || inPlace ? oldWeights : new Float64Array(capacity);
    const chain = inPlace ? this.#chain : new Int32Array(capacity);
    const buckets = inPlace ? this.#buckets.fill(-1) : new Int32Array(capacity).fill(-1);
    const mask = capacity - 1;
    // Iterators in order of place, moved as the entries before them are packed.
    const cursors = this.#liveCursors().sort((a, b) => a.at - b.at);
    let next = 0;
    let live = 0;
    for (let entry = 0; entry < this.#end; entry++) {
      while (next < cursors.length && cursors[next].at <= entry) cursors[next++].at = live;
      const key = oldKeys[entry];
      if (key === undefined) continue;
      const hash = sameSeed ? oldHashes[entry] : hashFor(key, seed);
      keys[live] = key;
      values[live] = oldValues[entry];
      hashes[live] = hash;
      if (weights !== null) weights[live] = (oldWeights as Float64Array)[entry];
      chain[live] = buckets[hash & mask];
      buckets[hash & mask] = live;
      live++;
    }
    while (next < cursors.length) cursors[next++].at = live;
    // Packed in place, the slots past the last entry still hold keys and values that moved.
    if (inPlace) {
      keys.fill(undefined, live, this.#end);
      values.fill(undefined, live, this.#end);
    }
    this.#seed = seed;
    this.#keys = keys;
    this.#values = values;
    this.#hashes = hashes;
    this.#weights = weights;
    this.#chain = chain;
    this.#buckets = buckets;
    this.#end = live;
  }

  /** The places of the iterators still running, forgetting those that were dropped. */
  #liveCursors(): Cursor[] {
    const live: Cursor[] = [];
    for (const ref of this.#cursors) {
      const cursor = ref.deref();
      if (cursor === undefined) this.#cursors.delete(ref);
      else live.push(cursor);
    }
    return live;
  }
}
