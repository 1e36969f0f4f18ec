/**
 * Lab 2's connection loop: lab 1's loop, made fit for many clients at once.
 *
 * The shape is the same as `shared/server/connection.ts` — read, decode, run, write one batch — and
 * it reuses that module's `execute()`. Three things change, each because other clients now exist:
 *
 * 1. **Transactions.** Commands go through `dispatch()` (see `transaction.ts`), which queues them
 *    while the client is inside `MULTI`.
 * 2. **A bound on queued replies.** A client can pipeline a few kilobytes of `GET big` and ask for
 *    gigabytes of replies. While a batch runs, its replies collect in one buffer; past
 *    `maxOutputBuffer` bytes the client is disconnected with a line in the log, like Redis's
 *    `client-output-buffer-limit`.
 * 3. **Backpressure.** The loop awaits each batch's write before it reads the next request. A
 *    client that stops reading fills the kernel's socket buffers, the write stops completing, and
 *    the loop stops reading and running that client's commands. So a client that never reads costs
 *    this server at most one batch of replies — never an ever-growing queue — while every other
 *    connection carries on, because an `await` only pauses *this* connection's task. `--timeout`
 *    then reclaims such a client, as it would any idle one.
 *
 * The road not taken: a separate writer task with a queue, reading on while replies wait (that is
 * what Redis does). It overlaps reading and writing for a slow reader, but the queue needs its own
 * limit, and lab 1's one-buffer-per-batch stays simpler to read.
 *
 * @module
 */

import { RespWriter } from "../../shared/resp/encoder.ts";
import type { Reply } from "../../shared/resp/reply.ts";
import { RequestDecoder } from "../../shared/resp/request_decoder.ts";
import { type BatchOptions, type Peer, runCommands } from "../../shared/server/connection.ts";
import type { ServerState } from "../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../shared/server/session.ts";
import { isDisconnect, type Transport, writeAll } from "../../shared/transport.ts";
import { dispatch, endTransaction } from "./transaction.ts";

/** How much one read asks for: 16 KiB, as Redis's `PROTO_IOBUF_LEN`. */
const READ_SIZE = 16 * 1024;

/** Options for {@link serveClient}. */
export interface ServeOptions {
  /** Most bytes of replies held for one client before it is disconnected. */
  maxOutputBuffer: number;
  /**
   * Open connections by client id. The loop adds itself on start and removes itself on exit, so
   * the server can close idle clients and, at shutdown, everyone.
   */
  open: Map<number, Transport>;
  /** Runs one command; lab 2's transaction-aware {@link dispatch} by default. */
  execute?: (session: Session, args: string[]) => Reply | Promise<Reply>;
  /** Awaited before each batch of replies is written (lab 4: until its log is on disk). */
  beforeWrite?: () => Promise<void> | undefined;
}

/**
 * Serves one connection until the client leaves, sends `QUIT`, breaks the protocol, exceeds the
 * output limit, or is closed from outside (idle timeout, shutdown). Never throws; always closes
 * the transport. Many of these run at once, one per client, each an ordinary async function.
 *
 * @param server The server's shared state.
 * @param transport The connection.
 * @param peer The two ends' addresses.
 * @param options Limits and the table of open connections.
 */
export async function serveClient(
  server: ServerState,
  transport: Transport,
  peer: Peer,
  options: ServeOptions,
): Promise<void> {
  const client = new ClientState(server.nextClientId(), peer.remote, peer.local, Date.now());
  const session: Session = { db: server.db, client, server };
  const decoder = new RequestDecoder(server.limits);
  const out = new RespWriter();
  const readBuffer = new Uint8Array(READ_SIZE);

  // Made once per connection, not once per batch: the loop below runs for every read.
  const batchOptions: BatchOptions = {
    execute: options.execute ?? dispatch,
    maxOutput: options.maxOutputBuffer,
  };

  server.clients.set(client.id, client);
  options.open.set(client.id, transport);
  server.stats.connectionsReceived++;
  try {
    for (;;) {
      const n = await transport.read(readBuffer);
      if (n === null) break;
      // Any bytes count as activity for the idle timeout, even half a command (as in Redis).
      // This is the one clock reading per batch; execute() takes none (see its comment).
      client.lastInteraction = Date.now();
      decoder.push(readBuffer.subarray(0, n));
      // runCommands() returns a promise only if a handler did, so a batch of ordinary commands
      // costs no extra trip through the microtask queue.
      const pending = runCommands(session, decoder, out, batchOptions);
      const end = pending instanceof Promise ? await pending : pending;
      if (end === "overflow") {
        server.log(
          `Client id=${client.id} addr=${client.addr} closed for overcoming of output buffer ` +
            `limits: ${out.length} bytes of replies pending, limit ${options.maxOutputBuffer}`,
        );
        out.take();
        break;
      }
      // Awaiting the write before reading again is the backpressure described above.
      if (out.length > 0) {
        const durable = options.beforeWrite?.();
        if (durable !== undefined) await durable;
        // One write nearly always takes the whole batch; writeAll() is only for the rest of a
        // short write. Calling write() directly saves an async function, and its trip through the
        // microtask queue, per batch.
        const replies = out.take();
        const written = await transport.write(replies);
        if (written < replies.length) await writeAll(transport, replies.subarray(written));
      }
      out.shrink();
      if (end === "close") break;
    }
  } catch (error) {
    if (!isDisconnect(error)) {
      server.log(`Client id=${client.id} addr=${client.addr} failed: ${error}`);
    }
  } finally {
    endTransaction(session);
    server.clients.delete(client.id);
    options.open.delete(client.id);
    out.shrink();
    try {
      transport.close();
    } catch {
      // Already closed by the idle sweep or by shutdown.
    }
  }
}
