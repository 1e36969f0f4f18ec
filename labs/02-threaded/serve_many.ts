/**
 * Lab 2's loop: many clients at once, within limits.
 *
 * The lesson is one missing word. Lab 1's accept loop awaited each client before accepting the
 * next; this one starts the client's task and goes straight back to `accept()`:
 *
 * ```ts
 * serveClient(server, conn, ...);   // no await: the task runs while we accept the next client
 * ```
 *
 * Each `serveClient` call is an async function that spends nearly all its life parked at an
 * `await` (waiting for bytes, or for a write to finish). While one is parked, the event loop runs
 * whichever other task has something to do. That is how Redis serves ten thousand clients on one
 * thread, and how the Python `select()` lab does it by hand; a `threading.Thread` per client gets
 * the same effect from the operating system, at the price of a stack per client and a lock around
 * everything they share.
 *
 * Many clients need limits one client never did: `--maxclients`, an idle `--timeout`, a bound on
 * the replies held for a client that does not read them, and a shutdown that closes everyone.
 *
 * @module
 */

import { MAX_BYTE_STRING } from "../../shared/resp/limits.ts";
import { formatAddr, type Peer } from "../../shared/server/peer.ts";
import { noDelay } from "../../shared/no_delay.ts";
import { integerSetter } from "../../shared/server/config.ts";
import {
  protectedModeRefusal,
  protectedModeSetter,
  type ProtectedModeState,
} from "../../shared/server/protected_mode.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import type { Transport } from "../../shared/transport.ts";
import type { ConnectionHooks } from "../../shared/server/hooks.ts";
import { Part, type Stage } from "../../shared/server/stage.ts";
import type { Lab2Options } from "./cli.ts";
import { serveClient } from "./connection.ts";
import { Shutdown } from "./shutdown.ts";
import { dispatch } from "./transaction.ts";

/** Redis's reply to a connection past `maxclients`, sent before closing it. */
const MAX_CLIENTS_REPLY = new TextEncoder().encode("-ERR max number of clients reached\r\n");

/** How long to wait before accepting again after accept() fails (out of file descriptors, say). */
const ACCEPT_BACKOFF_MS = 100;

/**
 * Tells a connection why it is turned away (the server is full, or protected mode) and closes it,
 * as Redis does: the client reads one error and then end of stream. A short write on a fresh
 * socket completes at once, so this never waits on the client.
 */
async function refuse(server: ServerState, conn: Deno.Conn, reply: Uint8Array): Promise<void> {
  server.stats.rejectedConnections++;
  try {
    await conn.write(reply);
  } catch {
    // The client already left; nothing to tell it.
  } finally {
    closeQuietly(conn);
  }
}

/**
 * What a later lab may add around lab 2's server without copying it. Lab 3 puts its secure channel
 * in front (`upgrade`) and checks `AUTH` (`execute`); lab 4 logs writes and, with
 * `appendfsync always`, holds replies until the log is on disk (`beforeWrite`).
 */
export interface ServerHooks extends ConnectionHooks {
  /**
   * Turns an accepted connection into the transport commands run over (lab 3: the handshake). If
   * it rejects, the connection is closed, the reason logged, and nobody else notices.
   */
  upgrade?: (conn: Deno.Conn, peer: Peer) => Promise<Transport>;
  /**
   * Whether clients must authenticate (lab 3's `--requirepass`). Without a password, protected
   * mode turns away every client not on the loopback interface (`protected_mode.ts`).
   */
  hasPassword?: () => boolean;
  /** Prints the ready line; `listening on HOST:PORT` on stdout by default. */
  onListening?: (address: { host: string; port: number }) => void;
  /**
   * How the server stops: a signal or lab 4's `SHUTDOWN` asks it, and lab 4's final save may
   * refuse (see `shutdown.ts`). By default, one with no prepare steps: the first signal stops.
   */
  shutdown?: Shutdown;
}

/**
 * Runs lab 2's server on a listener until SIGINT or SIGTERM (or whatever else asks
 * `hooks.shutdown`, and is not refused), then closes every connection and returns once each
 * client's task has finished.
 *
 * @param server The server's state: command table, keyspace, registries.
 * @param listener Where clients connect (`Deno.listen`, or `Deno.listenTls` for lab 3's TLS mode).
 * @param options The limits from the command line, and any hooks.
 */
export async function runServer(
  server: ServerState,
  listener: Deno.Listener,
  options: Omit<Lab2Options, "host" | "port" | "databases"> & { hooks?: ServerHooks },
): Promise<void> {
  const hooks = options.hooks ?? {};
  const open = new Map<number, Transport>();
  const tasks = new Set<Promise<void>>();
  if (options.protoMaxBulkLen !== undefined) {
    // Read by every connection's decoder when it starts, and by APPEND. A JavaScript string is a
    // little shorter than Redis's longest, so a longer setting is capped, and the log says so.
    // Set here, after lab 4 has replayed its log, so the log replays as it was written: Redis
    // exempts its own log from this limit too.
    server.limits.maxBulkLength = Math.min(options.protoMaxBulkLen, MAX_BYTE_STRING);
    if (options.protoMaxBulkLen > MAX_BYTE_STRING) {
      server.log(
        `proto-max-bulk-len ${options.protoMaxBulkLen} is longer than the longest string this ` +
          `runtime can hold; using ${MAX_BYTE_STRING}`,
      );
    }
  }
  // Both can change while the server runs (CONFIG SET): read from `limits` at each use.
  const limits = { maxclients: options.maxclients, timeout: options.timeout };
  server.config
    .define(
      "maxclients",
      () => String(limits.maxclients),
      integerSetter(1, 4294967295, (n) => limits.maxclients = n),
    )
    .define(
      "timeout",
      () => String(limits.timeout),
      integerSetter(0, 2147483647, (n) => {
        limits.timeout = n;
        startSweep();
      }),
    );
  // Redis's protected mode, on by default: see shared/server/protected_mode.ts.
  const protection: ProtectedModeState = {
    enabled: options.protectedMode ?? true,
    hasPassword: hooks.hasPassword ?? (() => false),
  };
  server.config.define(
    "protected-mode",
    () => protection.enabled ? "yes" : "no",
    protectedModeSetter(protection),
  );
  server.info.extend("Clients", () => [["maxclients", limits.maxclients]]);
  // CLIENT KILL: close the connection; its task then ends and forgets the client.
  server.killClient = (id) => {
    const transport = open.get(id);
    if (transport === undefined) return false;
    open.delete(id);
    closeQuietly(transport);
    return true;
  };
  const addr = listener.addr as Deno.NetAddr;
  server.address = { host: addr.hostname, port: addr.port };
  let stopping = false;
  // Connections still in `upgrade` (a handshake): counted against maxclients, closed at shutdown.
  const upgrading = new Set<Deno.Conn>();

  // Redis's `timeout`: a sweep every so often closes clients that have sent nothing for too long.
  // One timer for the whole server, like Redis's clientsCron, rather than one per connection.
  // Restarted when CONFIG SET changes the timeout; none runs while it is 0.
  let sweep: ReturnType<typeof setInterval> | undefined;
  function startSweep(): void {
    clearInterval(sweep);
    sweep = undefined;
    const timeoutMs = limits.timeout * 1000;
    if (timeoutMs <= 0 || stopping) return;
    sweep = setInterval(() => {
      // exercise step 2: close (and forget) every open client whose last interaction is more than timeoutMs ago, with Redis's "Closing idle client" log line
      const now = Date.now();
      for (const [id, transport] of open) {
        const client = server.clients.get(id);
        if (client === undefined || now - client.lastInteraction <= timeoutMs) continue;
        server.log(
          `Closing idle client id=${id} addr=${client.addr} (timeout ${limits.timeout}s)`,
        );
        open.delete(id);
        closeQuietly(transport);
      }
      // exercise starter: // Not written yet: no client is ever closed for being idle.
    }, Math.min(1000, Math.max(100, timeoutMs / 4)));
  }
  startSweep();

  const shutdown = hooks.shutdown ?? new Shutdown(server.log);
  shutdown.onStop(() => {
    stopping = true;
    clearInterval(sweep);
    listener.close();
    for (const transport of open.values()) closeQuietly(transport);
    for (const conn of upgrading) closeQuietly(conn);
  });
  const stopListening = shutdown.listenForSignals();
  (hooks.onListening ?? printReady)(server.address);

  const serve = async (conn: Deno.Conn): Promise<void> => {
    const peer = { remote: formatAddr(conn.remoteAddr), local: formatAddr(conn.localAddr) };
    let transport: Transport = conn;
    if (hooks.upgrade !== undefined) {
      upgrading.add(conn);
      try {
        transport = await hooks.upgrade(conn, peer);
      } catch (error) {
        server.log(`Connection from ${peer.remote} refused: ${errorText(error)}`);
        closeQuietly(conn);
        return;
      } finally {
        upgrading.delete(conn);
      }
      if (stopping) return closeQuietly(transport);
    }
    await serveClient(server, transport, peer, {
      maxOutputBuffer: options.maxOutputBuffer,
      open,
      execute: hooks.execute ?? dispatch,
      beforeWrite: hooks.beforeWrite,
      onConnect: hooks.onConnect,
      outputLimit: hooks.outputLimit,
    });
  };

  // Protected mode decides per connection, before any byte is read (or, in lab 3, a handshake).
  const admit = (conn: Deno.Conn): Promise<void> => {
    const denied = protectedModeRefusal(conn.remoteAddr, protection);
    return denied === null ? serve(conn) : refuse(server, conn, denied);
  };

  while (!stopping) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (stopping || error instanceof Deno.errors.BadResource) break;
      // Most likely out of file descriptors: wait a little instead of spinning, as mini-redis does.
      server.log(`Accept failed: ${error}; retrying in ${ACCEPT_BACKOFF_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, ACCEPT_BACKOFF_MS));
      continue;
    }
    // Replies leave at once, not after the client's delayed ACK: see shared/no_delay.ts.
    noDelay(conn);
    // Two lesson steps, two markers: the limit (step 2) apart from the loop (step 1), so a
    // workspace with step 1 done still has to refuse the client past --maxclients, and the
    // check of step 2 notices when it does not.
    // exercise step 2: past --maxclients, turn the connection away with Redis's error instead
    const start = open.size + upgrading.size >= limits.maxclients
      ? () => refuse(server, conn, MAX_CLIENTS_REPLY)
      : () => admit(conn);
    // exercise starter: const start = () => admit(conn);
    // Many clients at once: start this client's task and do NOT await it.
    // exercise step 1: start the client's task without awaiting it, so accept() runs again at once
    const task = start();
    // exercise starter: const task = Promise.resolve(await start());
    // Keep the promise so shutdown can wait for every client to finish closing.
    tasks.add(task);
    task.finally(() => tasks.delete(task));
  }
  stopListening();
  clearInterval(sweep);
  await Promise.allSettled(tasks);
}

function printReady(address: { host: string; port: number }): void {
  console.log(`listening on ${address.host}:${address.port}`);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Closed in the meantime (the client left, or shutdown got there first).
  }
}

/** The {@link Shutdown} of a server built with {@link serveMany}, for stages that prepare it. */
export const SHUTDOWN: Part<Shutdown> = new Part("serve many");

/**
 * The stage: clients are served by {@link runServer}, many at once, with lab 2's limits; it
 * replaces lab 1's one-client loop. Signals stop the server through a {@link Shutdown} that later
 * stages may prepare (lab 4: the final save).
 */
export const serveMany: Stage<Lab2Options> = {
  name: "serve many",
  module: import.meta.url,
  install(assembly) {
    const shutdown = new Shutdown(assembly.server.log);
    assembly.provide(SHUTDOWN, shutdown);
    assembly.serve = (listener) =>
      runServer(assembly.server, listener, {
        ...assembly.options,
        hooks: {
          upgrade: assembly.upgrade,
          execute: assembly.execute,
          beforeWrite: assembly.beforeWrite,
          onConnect: assembly.onConnect,
          outputLimit: assembly.outputLimit,
          hasPassword: assembly.hasPassword,
          onListening: (address) => assembly.listening(address),
          shutdown,
        },
      });
  },
};
