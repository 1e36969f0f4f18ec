/**
 * Lab 2's connection: the batch loop (`runBatchLoop` in `batch_loop.ts`, lab 1's loop made fast),
 * given the three things it needs once other clients exist.
 *
 * 1. **Transactions.** Commands go through `dispatch()` (see `transaction.ts`), which queues them
 *    while the client is inside `MULTI`; when the client leaves, its watches are dropped.
 * 2. **A bound on queued replies.** A client can pipeline a few kilobytes of `GET big` and ask for
 *    gigabytes of replies. While a batch runs, its replies collect in one buffer; past
 *    `maxOutputBuffer` bytes the client is disconnected with a line in the log, like Redis's
 *    `client-output-buffer-limit`. One reply bigger than the limit on its own is the exception:
 *    it is sent whole before the batch goes on, because a value the server stored must stay
 *    readable (see `runCommands` in `batch_loop.ts`).
 * 3. **A table of open connections**, so the server can close idle clients (`--timeout`) and, at
 *    shutdown, everyone.
 *
 * The loop itself already has what many clients need most: it awaits each batch's write before
 * reading more, so a client that stops reading costs one batch of replies, never an ever-growing
 * queue, and an `await` pauses only that client's task. The road not taken: a separate writer task
 * with a queue, reading on while replies wait (that is what Redis does). It overlaps reading and
 * writing for a slow reader, but the queue needs its own limit, and one buffer per batch stays
 * simpler to read.
 *
 * @module
 */

import type { Peer } from "../01-single-client/connection.ts";
import type { ServerState } from "../../shared/server/server_state.ts";
import type { ConnectionHooks } from "../../shared/server/hooks.ts";
import type { Transport } from "../../shared/transport.ts";
import { runBatchLoop } from "./batch_loop.ts";
import { dispatch, endTransaction } from "./transaction.ts";

/** Options for {@link serveClient}. */
export interface ServeOptions extends ConnectionHooks {
  /** Most bytes of replies held for one client before it is disconnected. */
  maxOutputBuffer: number;
  /** Open connections by client id; the loop adds itself on start and removes itself on exit. */
  open: Map<number, Transport>;
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
export function serveClient(
  server: ServerState,
  transport: Transport,
  peer: Peer,
  options: ServeOptions,
): Promise<void> {
  return runBatchLoop(server, transport, peer, {
    execute: options.execute ?? dispatch,
    maxOutput: options.maxOutputBuffer,
    beforeWrite: options.beforeWrite,
    onConnect: options.onConnect,
    outputLimit: options.outputLimit,
    open: options.open,
    onClose: endTransaction,
  });
}
