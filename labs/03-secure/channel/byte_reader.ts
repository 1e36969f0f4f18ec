/**
 * A read buffer over a transport, shared by the handshake and the record layer.
 *
 * Both need "give me exactly N bytes" over a socket that hands out whatever has arrived: half a
 * header, or three records and a bit. Bytes read past the end of the handshake (the client may
 * send its first record right behind its Finished message) stay here for the record layer, which
 * is why the two stages share one reader instead of each owning a buffer.
 *
 * @module
 */

import type { Transport } from "../../../shared/transport.ts";

/**
 * The buffer's usual size: two records of the default 16 KiB, half of it free for each read.
 * A connection that receives bigger records grows its buffer to fit them.
 */
const READ_SIZE = 32 * 1024;

/** Buffered bytes from a transport, consumed from the front. */
export class ByteReader {
  readonly #transport: Transport;
  #buffer = new Uint8Array(READ_SIZE);
  #start = 0;
  #end = 0;

  /**
   * Wraps a transport.
   *
   * @param transport Where the bytes come from.
   */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** How many bytes are buffered and not yet consumed. */
  get available(): number {
    return this.#end - this.#start;
  }

  /**
   * The buffered bytes, without consuming them. Valid until the next {@link fill}.
   *
   * @param n How many; at most {@link available}.
   * @returns A view of the next `n` bytes.
   */
  peek(n: number): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#start + n);
  }

  /**
   * Consumes `n` buffered bytes.
   *
   * @param n How many; at most {@link available}.
   * @returns A view of them, valid until the next {@link fill}.
   */
  take(n: number): Uint8Array {
    const view = this.#buffer.subarray(this.#start, this.#start + n);
    this.#start += n;
    return view;
  }

  /**
   * Reads once from the transport, making room for at least `want` bytes in all.
   *
   * @param want The total the caller is waiting for; the buffer grows to hold it.
   * @returns `false` at end of stream.
   */
  async fill(want = 0): Promise<boolean> {
    this.#makeRoom(want);
    const n = await this.#transport.read(this.#buffer.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /**
   * Reads until at least `n` bytes are buffered.
   *
   * @param n How many.
   * @returns `false` if the stream ended first ({@link available} says how far it got).
   */
  async need(n: number): Promise<boolean> {
    while (this.available < n) {
      if (!(await this.fill(n))) return false;
    }
    return true;
  }

  #makeRoom(want: number): void {
    const used = this.#end - this.#start;
    if (used === 0) {
      this.#start = this.#end = 0;
      // After one huge record, go back to the usual size rather than keep the memory forever.
      if (this.#buffer.length > 4 * READ_SIZE && want <= READ_SIZE) {
        this.#buffer = new Uint8Array(READ_SIZE);
      }
    }
    // Enough free space at the end for a full read, or for what the caller waits for: done.
    const needed = Math.max(want - used, READ_SIZE / 4);
    if (this.#buffer.length - this.#end >= needed) return;
    if (used + needed > this.#buffer.length) {
      // A record bigger than the buffer: grow to fit it (bounded by the largest record accepted,
      // which the record layer checks before asking).
      const bigger = new Uint8Array(Math.max(used + needed, this.#buffer.length * 2));
      bigger.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = bigger;
    } else {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    }
    this.#end = used;
    this.#start = 0;
  }
}
