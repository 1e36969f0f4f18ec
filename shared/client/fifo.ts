/**
 * A first-in, first-out queue whose `shift()` stays cheap however long the queue grows.
 *
 * `Array.prototype.shift()` moves every remaining element, so a client with many commands in flight
 * would copy the whole backlog per reply (`bench/README.md` has the measurement). This queue reads
 * from a moving head index instead, and copies only now and then, when the consumed part is at
 * least half of the array.
 *
 * @module
 */

/** Compacting a short queue costs more than the few slots it frees. */
const COMPACT_AFTER = 1024;

/**
 * A queue: `push` at the back, `shift` from the front, both O(1) amortized.
 *
 * @example
 * ```ts
 * const queue = new Fifo<string>();
 * queue.push("a");
 * queue.push("b");
 * queue.shift(); // "a"
 * ```
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items are waiting. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /**
   * Adds an item at the back.
   *
   * @param item The item.
   */
  push(item: T): void {
    this.#items.push(item);
  }

  /**
   * Removes the item at the front.
   *
   * @returns The oldest item, or `undefined` if the queue is empty.
   */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    // Clear the slot so the item can be garbage-collected while the array lives on.
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      // Empty again, the usual state between bursts: start over at no cost.
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /**
   * Removes every item.
   *
   * @returns The items, oldest first.
   */
  drain(): T[] {
    const rest: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) rest.push(item);
    return rest;
  }
}
