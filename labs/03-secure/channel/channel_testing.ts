/**
 * Test fixtures for the secure channel: a small echo server that speaks it, a transport that
 * tampers with what passes through it, and a relay that records the bytes on the wire.
 *
 * Everything here listens on 127.0.0.1, port 0, and is an `AsyncDisposable`, so a test that fails
 * half-way still closes its sockets (Deno's sanitizers check).
 *
 * @module
 */

import { concatBytes } from "../../../shared/resp/bytes.ts";
import type { Transport } from "../../../shared/transport.ts";
import { writeAll } from "../../../shared/transport.ts";
import {
  acceptSecure,
  type ClientChannelOptions,
  connectSecure,
  type SecureChannel,
  type ServerChannelOptions,
} from "./channel.ts";

/** How one connection to the {@link EchoServer} ended: cleanly, or with the error it threw. */
export type Outcome = "closed" | Error;

/** A server that echoes plaintext back over the secure channel. */
export interface EchoServer extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /**
   * How the n-th accepted connection (from 0) ended; waits until it has ended.
   *
   * @param n The connection's index, in accept order.
   */
  outcome(n: number): Promise<Outcome>;
  /** Closes the listener and every connection, and waits for their tasks. */
  close(): Promise<void>;
}

/** Options for {@link startEchoServer}. */
export interface EchoServerOptions extends ServerChannelOptions {
  /** Wraps each accepted connection before the handshake (to tamper with what the server sends). */
  wrap?: (conn: Deno.TcpConn) => Transport;
}

/**
 * Starts an echo server over the secure channel.
 *
 * @param options The channel's server options, plus an optional wrapper for each connection.
 * @returns The running server.
 */
export function startEchoServer(options: EchoServerOptions): EchoServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const outcomes: PromiseWithResolvers<Outcome>[] = [];
  const open = new Set<Transport>();
  const slot = (n: number) => {
    while (outcomes.length <= n) outcomes.push(Promise.withResolvers());
    return outcomes[n];
  };
  let accepted = 0;

  const serve = async (conn: Deno.TcpConn, n: number) => {
    let transport: Transport = options.wrap?.(conn) ?? conn;
    open.add(transport);
    try {
      const channel = await acceptSecure(transport, options);
      open.delete(transport);
      transport = channel;
      open.add(channel);
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        const got = await channel.read(buffer);
        if (got === null) break;
        await writeAll(channel, buffer.subarray(0, got));
      }
      slot(n).resolve("closed");
    } catch (error) {
      slot(n).resolve(error instanceof Error ? error : new Error(String(error)));
    } finally {
      open.delete(transport);
      closeQuietly(transport);
    }
  };

  const tasks: Promise<void>[] = [];
  const acceptLoop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      conn.setNoDelay(true);
      tasks.push(serve(conn, accepted++));
    }
  })();

  const close = async () => {
    closeQuietly(listener);
    for (const transport of open) closeQuietly(transport);
    await acceptLoop;
    await Promise.all(tasks);
  };
  return {
    port: listener.addr.port,
    outcome: (n) => slot(n).promise,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Connects to a port on 127.0.0.1 and runs the client handshake.
 *
 * @param port Where.
 * @param options The channel's client options.
 * @param wrap Wraps the connection before the handshake (to tamper with what the client sends).
 * @returns The channel.
 */
export async function connectClient(
  port: number,
  options: ClientChannelOptions,
  wrap?: (conn: Deno.TcpConn) => Transport,
): Promise<SecureChannel> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  return await connectSecure(wrap?.(conn) ?? conn, options);
}

/**
 * Decides what actually goes on the wire for one write: the bytes as they are, changed, several
 * pieces, or nothing (`[]`). `index` counts the writes on this connection from 0; a client's
 * writes 0 and 1 are its handshake (ClientHello, ClientFinished), a server's write 0 is its
 * ServerHello and ServerFinished; records follow.
 */
export type WriteTamper = (data: Uint8Array, index: number) => Uint8Array[];

/** A transport that lets a test change the bytes its writes put on the wire. */
export class TamperingTransport implements Transport {
  readonly #conn: Deno.Conn;
  readonly #tamper: WriteTamper;
  #writes = 0;

  /**
   * Wraps a connection.
   *
   * @param conn The real connection.
   * @param tamper What to send instead of each write.
   */
  constructor(conn: Deno.Conn, tamper: WriteTamper) {
    this.#conn = conn;
    this.#tamper = tamper;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.#conn.read(buffer);
  }

  async write(data: Uint8Array): Promise<number> {
    for (const piece of this.#tamper(data.slice(), this.#writes++)) {
      await writeAll(this.#conn, piece);
    }
    return data.length;
  }

  close(): void {
    this.#conn.close();
  }
}

/** A TCP relay between a client and a server that keeps a copy of every byte in each direction. */
export interface Relay extends AsyncDisposable {
  /** The relay's own port: connect here instead of to the server. */
  readonly port: number;
  /** Everything the clients sent, concatenated. */
  toServer(): Uint8Array;
  /** Everything the server sent, concatenated. */
  toClient(): Uint8Array;
  /** Closes the relay and every connection through it. */
  close(): Promise<void>;
}

/**
 * Starts a relay in front of a server on 127.0.0.1: what an eavesdropper on the network sees.
 *
 * @param serverPort The server's port.
 * @returns The relay.
 */
export function startRelay(serverPort: number): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sent: Uint8Array[] = [];
  const received: Uint8Array[] = [];
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];

  const pump = async (from: Deno.Conn, to: Deno.Conn, log: Uint8Array[]) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        log.push(buffer.slice(0, n));
        await writeAll(to, buffer.subarray(0, n));
      }
    } catch {
      // One side went away; the finally closes the other.
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  };

  const acceptLoop = (async () => {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch {
        return;
      }
      const server = await Deno.connect({ hostname: "127.0.0.1", port: serverPort });
      conns.add(client).add(server);
      tasks.push(pump(client, server, sent), pump(server, client, received));
    }
  })();

  const close = async () => {
    closeQuietly(listener);
    for (const conn of conns) closeQuietly(conn);
    await acceptLoop;
    await Promise.all(tasks);
  };
  return {
    port: listener.addr.port,
    toServer: () => concatBytes(sent),
    toClient: () => concatBytes(received),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Reads from a transport until `n` bytes have arrived.
 *
 * @param transport Where from.
 * @param n How many.
 * @returns The bytes.
 * @throws {Error} If the stream ends first.
 */
export async function readExactly(transport: Transport, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const k = await transport.read(out.subarray(got));
    if (k === null) throw new Error(`Stream ended after ${got} of ${n} bytes`);
    got += k;
  }
  return out;
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
