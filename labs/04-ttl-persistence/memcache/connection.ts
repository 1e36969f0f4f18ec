/**
 * One memcached client's connection, from the first byte to the close.
 *
 * The loop has lab 2's shape (`labs/02-threaded/connection.ts`): read, decode every whole request,
 * run each, write the replies, and only then read again. Awaiting the write before the next read is
 * the backpressure: a client that stops reading stops being served, and costs the server one batch
 * of replies, not an ever-growing queue.
 *
 * One thing differs, because memcached replies can be big where RESP commands are small: a single
 * `get` of a hundred 1 MiB items is a 100 MiB reply. So replies are queued as *pieces* that point at
 * the values in the keyspace (no copy), and once the queue holds more than {@link FLUSH_AT} bytes the
 * loop writes it out before running the next request. Memory per connection stays at about one
 * read buffer, one data block, and one write chunk, however much a client pipelines.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { writeByteString } from "../../../shared/resp/bytes.ts";
import { isDisconnect, type Transport, writeAll } from "../../../shared/transport.ts";
import { type DecoderLimits, FramingError, MemcacheDecoder } from "./decoder.ts";
import type { Request } from "./protocol.ts";
import { CLOSE, type MemcacheStore } from "./store.ts";

/** How much one read asks for, as lab 2 (memcached reads 16 KiB too). */
const READ_SIZE = 16 * 1024;

/** Queued reply bytes past which the loop writes before running more requests. */
export const FLUSH_AT = 256 * 1024;

/** The largest write; a reply bigger than this goes out in several. */
const WRITE_CHUNK = 16 * 1024;

/** What a connection needs from its server. */
export interface ConnectionOptions {
  /** Runs the requests; shared by every connection. */
  store: MemcacheStore;
  /** Decoder limits. */
  limits?: Partial<DecoderLimits>;
  /** Awaited before replies are written (lab 4's `appendfsync always`). */
  beforeWrite?: () => Promise<void> | undefined;
  /** Writes one line to the server's log. */
  log: (message: string) => void;
}

/**
 * Replies waiting to be written, as byte strings. A value is queued as the keyspace's own string
 * and only copied into bytes when written, one chunk at a time.
 */
export class ReplyQueue {
  #pieces: string[] = [];
  /** Reused for every write, allocated at the first one (many connections never get that far). */
  #chunk: Uint8Array | null = null;
  /** Bytes queued. */
  pending = 0;

  /**
   * Queues a reply.
   *
   * @param reply One byte string, or several pieces.
   */
  add(reply: string | string[]): void {
    if (typeof reply === "string") {
      this.#pieces.push(reply);
      this.pending += reply.length;
      return;
    }
    for (const piece of reply) {
      this.#pieces.push(piece);
      this.pending += piece.length;
    }
  }

  /**
   * Writes everything queued and empties the queue.
   *
   * @param transport Where to write.
   * @returns How many bytes were written.
   */
  async writeTo(transport: Transport): Promise<number> {
    const pieces = this.#pieces;
    const total = this.pending;
    this.#pieces = [];
    this.pending = 0;
    // The common case, a few small replies, is one copy and one write.
    const chunk = this.#chunk ??= new Uint8Array(WRITE_CHUNK);
    let fill = 0;
    for (const piece of pieces) {
      if (piece.length > chunk.length - fill) {
        if (fill > 0) await writeAll(transport, chunk.subarray(0, fill));
        fill = 0;
        if (piece.length > chunk.length) {
          // A big value: one temporary copy of it, written as it is.
          await writeAll(transport, Buffer.from(piece, "latin1"));
          continue;
        }
      }
      writeByteString(piece, chunk, fill);
      fill += piece.length;
    }
    if (fill > 0) await writeAll(transport, chunk.subarray(0, fill));
    return total;
  }
}

/**
 * Serves one connection until the client leaves, sends `quit`, breaks the framing, or the transport
 * is closed from outside (server shutdown). Never throws; always closes the transport.
 *
 * @param transport The connection.
 * @param peer The client's address, for the log.
 * @param options The store, limits and hooks.
 */
export async function serveMemcacheClient(
  transport: Transport,
  peer: string,
  options: ConnectionOptions,
): Promise<void> {
  const { store, log } = options;
  const decoder = new MemcacheDecoder(options.limits);
  const out = new ReplyQueue();
  const readBuffer = new Uint8Array(READ_SIZE);

  const flush = async () => {
    if (out.pending === 0) return;
    // With appendfsync always, no reply leaves before the writes it reports are on disk.
    const durable = options.beforeWrite?.();
    if (durable !== undefined) await durable;
    store.stats.bytes_written += await out.writeTo(transport);
  };

  try {
    let open = true;
    while (open) {
      const n = await transport.read(readBuffer);
      if (n === null) break;
      store.stats.bytes_read += n;
      decoder.push(readBuffer.subarray(0, n));
      for (;;) {
        let request: Request | null;
        try {
          request = decoder.next();
        } catch (error) {
          if (!(error instanceof FramingError)) throw error;
          // Memcached closes without a word here: the stream cannot be followed any more.
          log(`Memcached client ${peer} closed: ${error.message}`);
          open = false;
          break;
        }
        if (request === null) break;
        const outcome = store.execute(request);
        if (outcome === CLOSE) {
          open = false;
          break;
        }
        if (outcome !== null) out.add(outcome);
        if (out.pending > FLUSH_AT) await flush();
      }
      // Awaiting the write before reading again is the backpressure described above.
      await flush();
    }
  } catch (error) {
    if (!isDisconnect(error)) log(`Memcached client ${peer} failed: ${error}`);
  } finally {
    try {
      transport.close();
    } catch {
      // Already closed by shutdown.
    }
  }
}
