/**
 * Lab 2's connection loop: lab 1's loop (`labs/01-single-client/connection.ts`), made fast for many
 * clients, one measured step at a time.
 *
 * The data path is the same as lab 1's:
 *
 * ```
 * read bytes ─▶ decoder ─▶ command table ─▶ handler ─▶ encoder ─▶ one write per batch
 * ```
 *
 * A client may pipeline: send many commands without waiting for replies. One read then holds many
 * commands, and the loop runs them all, collects every reply in one buffer, and sends the batch
 * with a single write. Replies go out in the order the commands came in, because a client matches
 * them by position.
 *
 * What this file adds to lab 1's loop, each justified in the lesson ("Many clients, fast") by the
 * benchmark that measured it:
 *
 * - reads go straight into lab 2's decoder's buffer (`request_decoder.ts`: `spare()`/`commit()`);
 * - replies wait for the end of the event loop's turn ({@link endOfTurn}), so every client served
 *   in one turn writes after all the work, as Redis does;
 * - a batch of ordinary commands runs without a single `await` ({@link runCommands});
 * - a bound on queued replies, and the hooks later labs need (transactions, `AUTH`, the log).
 *
 * @module
 */

import { RespWriter } from "../../shared/resp/encoder.ts";
import { ProtocolError } from "../../shared/resp/errors.ts";
import { ErrorReply, type Reply } from "../../shared/resp/reply.ts";
import type { ServerState } from "../../shared/server/server_state.ts";
import type { ConnectionHooks } from "../../shared/server/hooks.ts";
import { ClientState, type Session } from "../../shared/server/session.ts";
import { isDisconnect, type Transport, writeAll } from "../../shared/transport.ts";
import { dropReply, execute, type Peer } from "../01-single-client/connection.ts";
import { RequestDecoder } from "./request_decoder.ts";

/** The promise {@link endOfTurn} hands out in the current turn; `undefined` between turns. */
let turnEnd: Promise<void> | undefined;

/**
 * Resolves once every connection whose bytes arrived in this turn of the event loop has run its
 * commands, so their replies go out together, after all the work. When several reads complete at
 * once, each connection's continuation is already in the microtask queue; the microtask queued
 * here runs after them all. Redis does the same: it writes every client's replies at the end of a
 * turn of its loop (`handleClientsWithPendingWrites()`, called from `beforeSleep()`).
 *
 * The system calls stay the same (one read and one write per batch); doing all the work before
 * any write costs less CPU per request (bench/README.md, "Why the hot path looks the way it does").
 */
function endOfTurn(): Promise<void> {
  return turnEnd ??= new Promise<void>((resolve) => {
    queueMicrotask(() => {
      turnEnd = undefined;
      resolve();
    });
  });
}

/**
 * What a later lab changes about a connection, each because other clients now exist (lab 2) or
 * because writes must reach the disk first (lab 4). Lab 1's loop has none of it.
 */
export interface ConnectionOptions extends ConnectionHooks {
  /**
   * Most bytes of replies one batch may collect; past it the client is disconnected with a line in
   * the log, like Redis's `client-output-buffer-limit`. One reply bigger than this on its own is
   * not cut: it is sent, whole, before the batch goes on (see {@link runCommands}). Default: no
   * limit.
   */
  maxOutput?: number;
  /**
   * Open connections by client id: the loop adds itself on start and removes itself on exit, so
   * the server can close idle clients and, at shutdown, everyone.
   */
  open?: Map<number, Transport>;
  /** Called once the client has gone, to release what a lab keeps per client (lab 2: WATCH). */
  onClose?: (session: Session) => void;
}

/**
 * Serves one connection until the client leaves, sends `QUIT`, breaks the protocol, exceeds the
 * output limit, or the transport is closed from outside (idle timeout, shutdown). Never throws;
 * always closes the transport.
 *
 * The loop awaits each batch's write before it reads the next request. That is backpressure: a
 * client that stops reading fills the kernel's socket buffers, the write stops completing, and
 * this loop stops reading and running that client's commands, so it costs at most one batch of
 * replies, while every other connection carries on (an `await` pauses only this task).
 *
 * @param server The server's shared state.
 * @param transport The connection.
 * @param peer The two ends' addresses.
 * @param options What a lab adds: a dispatcher, an output limit, a wait before writing.
 */
export async function runBatchLoop(
  server: ServerState,
  transport: Transport,
  peer: Peer,
  options: ConnectionOptions = {},
): Promise<void> {
  const client = new ClientState(server.nextClientId(), peer.remote, peer.local, Date.now());
  const decoder = new RequestDecoder(server.limits);
  const session: Session = { db: server.db, client, server, requestLimits: decoder };
  const out = new RespWriter();
  // Every error this client is sent is counted as it is encoded (INFO errorstats).
  out.onError = (message) => server.commandStats.error(message);

  server.clients.set(client.id, client);
  options.open?.set(client.id, transport);
  server.stats.connectionsReceived++;
  options.onConnect?.(session);
  try {
    for (;;) {
      // Straight into the decoder's buffer: one buffer per client, no copy (see spare()).
      const n = await transport.read(decoder.spare());
      if (n === null) break;
      // Any bytes count as activity (CLIENT LIST's idle time, lab 2's --timeout), even half a
      // command, as in Redis: one clock reading per read, not one per command, because each reading is a call out of V8
      // that cost a pipelined GET a noticeable share of its time (bench/README.md).
      client.lastInteraction = Date.now();
      decoder.commit(n);
      let end: BatchEnd;
      do {
        // runCommands() returns a promise only if a handler did, so a batch of ordinary commands
        // costs no extra trip through the microtask queue.
        const pending = runCommands(session, decoder, out, options);
        end = pending instanceof Promise ? await pending : pending;
        if (end === "overflow") {
          server.log(
            `Client id=${client.id} addr=${client.addr} closed for overcoming of output buffer ` +
              `limits: ${out.length} bytes of replies pending, limit ${
                outputLimit(session, options)
              }`,
          );
          out.take();
          return;
        }
        if (out.length > 0) {
          await (options.beforeWrite?.() ?? endOfTurn());
          // One write nearly always takes the whole batch; writeAll() is only for the rest of a
          // short write. Calling write() directly saves an async function, and its trip through
          // the microtask queue, per batch.
          const replies = out.take();
          const written = await transport.write(replies);
          if (written < replies.length) await writeAll(transport, replies.subarray(written));
        }
        out.shrink();
        // "send": one reply was bigger than the limit. It has gone out, and only once the client
        // took it (the write's await); the rest of the batch runs now, still in order.
      } while (end === "send");
      if (end === "close") break;
    }
  } catch (error) {
    if (!isDisconnect(error)) {
      server.log(`Client id=${client.id} addr=${client.addr} failed: ${error}`);
    }
  } finally {
    options.onClose?.(session);
    server.clients.delete(client.id);
    options.open?.delete(client.id);
    out.shrink();
    try {
      transport.close();
    } catch {
      // Already closed by the idle sweep or by shutdown: nothing left to release.
    }
  }
}

/**
 * How a batch ended: read more; close after sending (QUIT, protocol error); send the replies so far
 * and then run the rest (one reply bigger than the output limit); or output too big (disconnect).
 */
export type BatchEnd = "more" | "close" | "send" | "overflow";

/**
 * Runs every whole command the decoder holds, encoding each reply into `out`.
 *
 * The output limit (`maxOutput`) is there for a client that asks for more than it reads: a few
 * kilobytes of pipelined `GET big` can ask for gigabytes. Replies past the limit end the batch with
 * "overflow", and the client is disconnected, as Redis does past `client-output-buffer-limit`. But
 * one reply that is bigger than the limit on its own is a value the client asked for once, and is
 * sent, not cut: the batch ends with "send", the caller writes the replies so far, and calls again
 * for the rest. Redis's own limit for ordinary clients is off by default for the same reason
 * (`normal 0 0 0`); this server has one on by default, so it must not make a stored value
 * unreadable. The write's await is the bound for such a client: if it stops reading, the write
 * stops completing, and the server holds that one reply and nothing more.
 *
 * An `async` function always returns a promise, and awaiting it costs a trip through the
 * microtask queue even when every handler answered at once, which is nearly always. So this stays
 * an ordinary function while the replies are plain values, and hands the rest of the batch to an
 * async helper only when a handler returns a promise (bench/README.md has the measurement).
 *
 * @param session The client and server.
 * @param decoder Holds the bytes received so far.
 * @param out Collects the replies for one write.
 * @param options How to run a command, and an output limit.
 * @returns Why the batch ended, or a promise of it if a handler returned a promise.
 */
export function runCommands(
  session: Session,
  decoder: RequestDecoder,
  out: RespWriter,
  options: ConnectionOptions = {},
): BatchEnd | Promise<BatchEnd> {
  const run = options.execute ?? execute;
  let maxOutput = outputLimit(session, options);
  for (;;) {
    const args = nextCommand(session, decoder, out);
    if (args === "close") return "close";
    if (args === null) return "more";
    const reply = run(session, args);
    if (reply instanceof Promise) return finishBatch(session, decoder, out, options, reply);
    const before = out.length;
    out.write(reply, session.client.protocol);
    // CLIENT REPLY OFF or SKIP: encoded, so an error is counted as Redis counts it, then dropped.
    if (session.client.repliesToDrop > 0) dropReply(session, out, before);
    if (session.client.closeAfterReply) return "close";
    if (out.length > maxOutput) {
      const end = pastLimit(session, out, before, options);
      if (end !== undefined) return end;
      maxOutput = outputLimit(session, options);
    }
  }
}

/** The rest of a batch once a handler has returned a promise. */
async function finishBatch(
  session: Session,
  decoder: RequestDecoder,
  out: RespWriter,
  options: ConnectionOptions,
  first: Promise<Reply>,
): Promise<BatchEnd> {
  const run = options.execute ?? execute;
  let maxOutput = outputLimit(session, options);
  let pending: Reply | Promise<Reply> = first;
  for (;;) {
    const before = out.length;
    out.write(pending instanceof Promise ? await pending : pending, session.client.protocol);
    if (session.client.repliesToDrop > 0) dropReply(session, out, before);
    if (session.client.closeAfterReply) return "close";
    if (out.length > maxOutput) {
      const end = pastLimit(session, out, before, options);
      if (end !== undefined) return end;
      maxOutput = outputLimit(session, options);
    }
    const args = nextCommand(session, decoder, out);
    if (args === "close") return "close";
    if (args === null) return "more";
    pending = run(session, args);
  }
}

/**
 * What the output limit makes of a batch whose replies have grown past the limit it started with:
 * `undefined` to go on, "send" when the last reply alone is bigger than the limit, "overflow" when
 * the client asked for more than the limit in several replies.
 *
 * @param before Where the last reply starts in `out`.
 */
function pastLimit(
  session: Session,
  out: RespWriter,
  before: number,
  options: ConnectionOptions,
): "send" | "overflow" | undefined {
  // exercise step 2: read the limit again (an AUTH in this batch may have raised it); past it, "send" if the last reply alone is bigger than the limit, else "overflow"
  const limit = outputLimit(session, options);
  if (out.length <= limit) return undefined;
  return out.length - before > limit ? "send" : "overflow";
  // exercise starter: return undefined;
}

/** The most bytes of replies this client's batch may collect. */
function outputLimit(session: Session, options: ConnectionOptions): number {
  return options.outputLimit?.(session) ?? options.maxOutput ?? Infinity;
}

/**
 * Takes the next command from the decoder: its arguments, `null` for "no whole command yet", or
 * "close" after writing the reply to a protocol error.
 */
function nextCommand(
  session: Session,
  decoder: RequestDecoder,
  out: RespWriter,
): string[] | null | "close" {
  try {
    return decoder.next();
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    // Past a framing error the byte stream cannot be trusted, so, like Redis, answer and close.
    out.write(new ErrorReply(`ERR ${error.message}`));
    session.server.log(
      `Protocol error (${error.detail}) from client id=${session.client.id} addr=${session.client.addr}: closing`,
    );
    return "close";
  }
}
