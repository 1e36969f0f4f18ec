/**
 * The two ends of a connection, as `CLIENT LIST` and the log name them.
 *
 * @module
 */

/** Addresses of the two ends of a connection, for `CLIENT LIST` and the log. */
export interface Peer {
  /** The client's address, `host:port`. */
  remote: string;
  /** The server's address, `host:port`. */
  local: string;
}

/**
 * Formats a `Deno.Addr` as `host:port`.
 *
 * @param addr A network address.
 * @returns `host:port`, or the transport name for other address kinds.
 * @example
 * ```ts
 * formatAddr({ transport: "tcp", hostname: "127.0.0.1", port: 6379 }); // "127.0.0.1:6379"
 * ```
 */
export function formatAddr(addr: Deno.Addr): string {
  return addr.transport === "tcp" || addr.transport === "udp"
    ? `${addr.hostname}:${addr.port}`
    : addr.transport;
}
