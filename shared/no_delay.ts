/**
 * Turning off Nagle's algorithm on a connection, so that every reply leaves as soon as it is
 * written.
 *
 * By default TCP holds back a small segment while an earlier one is still unacknowledged (Nagle's
 * algorithm), hoping to send fewer, fuller packets. The peer, for its part, delays its ACK,
 * hoping to piggyback it on data of its own. For a request/reply protocol the two wait for each
 * other: a pipelined batch that arrives in two reads gets its replies in two writes; the first
 * goes out, the second is held until the first is acknowledged, and the client acknowledges only
 * when its delayed-ACK timer fires, because it is still waiting for the rest of its replies. Every
 * such round trip then costs a timer tick instead of microseconds. `bench/README.md` has the
 * numbers (its 1 KiB rows).
 *
 * Redis sets `TCP_NODELAY` on every client connection it creates (`createClient()` in
 * `networking.c`), and so does every accept loop in this course, through {@link noDelay}, right
 * after `accept()`. This server already writes each batch of replies in one write, so turning
 * Nagle off does not produce a flood of tiny packets: it only stops the last write of a batch from
 * waiting.
 *
 * @module
 */

/**
 * Sets `TCP_NODELAY` on a TCP connection; leaves any other connection as it is.
 *
 * A `Deno.TlsConn` has no `setNoDelay` (Deno does not expose the TCP socket under a TLS stream),
 * and a Unix socket has no Nagle to turn off, so for those this does nothing.
 *
 * @param conn A connection just accepted (or just opened).
 * @returns The same connection, so a loop can write `serve(noDelay(conn))`.
 * @example
 * ```ts
 * const listener = Deno.listen({ port: 6379 });
 * const conn = noDelay(await listener.accept());
 * ```
 */
export function noDelay<C extends Deno.Conn>(conn: C): C {
  if (isTcp(conn)) conn.setNoDelay(true);
  return conn;
}

/** A `Deno.TcpConn` is the only kind of connection with `setNoDelay`. */
function isTcp(conn: Deno.Conn): conn is Deno.Conn & Pick<Deno.TcpConn, "setNoDelay"> {
  return "setNoDelay" in conn && typeof conn.setNoDelay === "function";
}
