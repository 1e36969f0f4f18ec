/**
 * The memcached listener: accepts connections on its own port, up to a limit, serves each with
 * `connection.ts`, and closes them all on shutdown. `mod.ts` explains how the pieces fit.
 *
 * @module
 */

import { noDelay } from "../../../shared/no_delay.ts";
import type { ExpiringKeyspace } from "../keyspace.ts";
import { serveMemcacheClient } from "./connection.ts";
import { type DecoderLimits, DEFAULT_DECODER_LIMITS } from "./decoder.ts";
import { MemcacheStore } from "./store.ts";

/** What the memcached listener needs from lab 4's server. */
export interface MemcacheOptions {
  /** Interface to listen on. */
  host: string;
  /** `--memcache-port`; 0 picks a free one. */
  port: number;
  /** The keyspace the RESP side also serves. */
  db: ExpiringKeyspace;
  /**
   * Logs a write, as the RESP command that replays it with absolute times: lab 4's write path
   * (`WritePath.propagate`), the one way into the log for both protocols.
   */
  propagate: (args: string[]) => void;
  /** Awaited before replies are written (`appendfsync always`). */
  beforeWrite: () => Promise<void> | undefined;
  /** Writes one line to the server's log. */
  log: (message: string) => void;
  /** Most connections at once (memcached's `-c`, 1024); past it a client is told and closed. */
  maxConnections?: number;
  /** Line and item limits; memcached's defaults otherwise. */
  limits?: Partial<DecoderLimits>;
  /**
   * Called before a storage command adds data, to evict under `--maxmemory` (such as
   * `() => evictor.performEvictions()`); `false` fails the command with memcached's
   * `SERVER_ERROR out of memory storing object`. Without it, memcached writes are not bounded.
   */
  makeRoom?: () => boolean;
  /** Why writes are refused right now (persistence is failing), or `null`. */
  writeDenied?: () => string | null;
}

/** A running memcached listener. */
export interface MemcacheServer {
  /** The address it listens on. */
  readonly address: { host: string; port: number };
  /** The store the connections share: its `stats`, its cas uniques. */
  readonly store: MemcacheStore;
  /** Stops listening, closes every memcached connection, and waits for them. */
  close(): Promise<void>;
}

/** Memcached's answer when it is full (with its default `maxconns_fast`), before it hangs up. */
const TOO_MANY = new TextEncoder().encode("ERROR Too many open connections\r\n");

/** How long to wait before accepting again after accept() fails (out of file descriptors, say). */
const ACCEPT_BACKOFF_MS = 100;

/**
 * Starts serving the memcached text protocol.
 *
 * @param options Where to listen and what to serve.
 * @returns The running listener.
 * @example
 * ```ts
 * const memcache = startMemcacheServer({
 *   host: "127.0.0.1", port: 11211, db, propagate: () => {}, beforeWrite: () => undefined,
 *   log: console.error,
 * });
 * // ... later, at shutdown:
 * await memcache.close();
 * ```
 */
export function startMemcacheServer(options: MemcacheOptions): MemcacheServer {
  const maxConnections = options.maxConnections ?? 1024;
  const limits = { ...DEFAULT_DECODER_LIMITS, ...options.limits };
  const listener = Deno.listen({ hostname: options.host, port: options.port });
  const store = new MemcacheStore({
    db: options.db,
    propagate: options.propagate,
    maxConnections,
    maxItemSize: limits.maxItemSize,
    makeRoom: options.makeRoom,
    writeDenied: options.writeDenied,
  });
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let closing = false;

  const serve = async (conn: Deno.Conn): Promise<void> => {
    const remote = conn.remoteAddr as Deno.NetAddr;
    open.add(conn);
    store.stats.curr_connections++;
    store.stats.total_connections++;
    try {
      await serveMemcacheClient(conn, `${remote.hostname}:${remote.port}`, {
        store,
        limits,
        beforeWrite: options.beforeWrite,
        log: options.log,
      });
    } finally {
      open.delete(conn);
      store.stats.curr_connections--;
    }
  };

  const refuse = async (conn: Deno.Conn): Promise<void> => {
    store.stats.rejected_connections++;
    options.log(`Memcached connection refused: ${maxConnections} connections already open`);
    try {
      await conn.write(TOO_MANY);
    } catch {
      // The client already left.
    } finally {
      conn.close();
    }
  };

  const acceptLoop = (async () => {
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closing || error instanceof Deno.errors.BadResource) break;
        options.log(`Memcached accept failed: ${error}; retrying in ${ACCEPT_BACKOFF_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_BACKOFF_MS));
        continue;
      }
      // Replies leave at once, not after the client's delayed ACK: see shared/no_delay.ts.
      noDelay(conn);
      // Each client gets its own task, not awaited: that is what serves many at once (lab 2).
      const task = open.size >= maxConnections ? refuse(conn) : serve(conn);
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })();

  const addr = listener.addr as Deno.NetAddr;
  let closed: Promise<void> | undefined;
  return {
    address: { host: addr.hostname, port: addr.port },
    store,
    close() {
      closed ??= (async () => {
        closing = true;
        listener.close();
        // Closing a connection ends its pending read, so each task finishes promptly.
        for (const conn of open) {
          try {
            conn.close();
          } catch {
            // Closed in the meantime.
          }
        }
        await acceptLoop;
        await Promise.allSettled(tasks);
        store.close();
      })();
      return closed;
    },
  };
}
