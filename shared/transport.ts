/**
 * The byte pipe a connection runs over.
 *
 * A plain TCP connection (`Deno.Conn`) already has this shape. Lab 3's encrypted channel
 * implements it too, which is why nothing after the channel needs to know whether the bytes were
 * encrypted on the wire.
 *
 * @module
 */

/** A bidirectional byte stream. `Deno.Conn` and `Deno.TlsConn` satisfy it as they are. */
export interface Transport {
  /**
   * Reads some bytes into `buffer`.
   *
   * @returns How many bytes were read, or `null` at end of stream.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /**
   * Writes some of `data`.
   *
   * @returns How many bytes were written; may be fewer than `data.length`.
   */
  write(data: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
}

/**
 * Writes all of `data`, calling `write` as often as it takes.
 *
 * @param transport Where to write.
 * @param data The bytes.
 */
export async function writeAll(transport: Transport, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await transport.write(data.subarray(written));
}

/**
 * Errors that only mean "the other side went away" (or we closed the socket during shutdown):
 * ordinary ends of a connection, not faults worth a stack trace.
 *
 * @param error What a read or write threw.
 * @returns `true` for a normal disconnect.
 */
export function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}
