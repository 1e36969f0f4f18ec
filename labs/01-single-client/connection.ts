/**
 * One client's connection, from the first byte to the close: the whole data path of lab 1.
 *
 * ```
 * read bytes ─▶ decoder ─▶ command table ─▶ handler ─▶ encoder ─▶ one write per read
 * ```
 *
 * A client may pipeline: send many commands without waiting for the replies. One read then holds
 * many commands, so the loop runs every whole command the read completed, collects the replies in
 * one buffer, and sends them with a single write. One system call per batch instead of one per
 * reply is most of why a pipelined benchmark is many times faster than one request at a time.
 * Replies go out in the order the commands came in, because a client matches them by position.
 *
 * This is the plain version, written to be read. Lab 2 serves many clients at once and makes this
 * loop fast, one measured step at a time (`labs/02-threaded/batch_loop.ts`, and its lesson's
 * "Many clients, fast"); what it does for each client stays what this file does.
 *
 * @module
 */

import { ProtocolError } from "../../shared/resp/errors.ts";
import { cString, ErrorReply, type Reply } from "../../shared/resp/reply.ts";
import {
  type CommandRegistry,
  type CommandSpec,
  unknownCommand,
  wrongArity,
} from "../../shared/server/command_table.ts";
import type { CommandCounters } from "../../shared/server/command_stats.ts";
import { NotImplementedError } from "../../shared/server/not_implemented.ts";
import type { ServerState } from "../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../shared/server/session.ts";
import { isDisconnect, type Transport, writeAll } from "../../shared/transport.ts";
import { Decoder } from "./decoder.ts";
import { ReplyWriter } from "./encoder.ts";
import type { Peer } from "../../shared/server/peer.ts";

export { formatAddr, type Peer } from "../../shared/server/peer.ts";

/**
 * How many bytes one read may bring: Redis reads 16 KiB at a time (`PROTO_IOBUF_LEN`). A bigger
 * command simply takes several reads; the decoder keeps what it has not used.
 */
const READ_SIZE = 16 * 1024;

/**
 * Serves one connection until the client leaves, sends `QUIT`, or breaks the protocol. Never
 * throws; always closes the transport.
 *
 * The loop waits for each batch's write before it reads again. With one client that is simply
 * the natural order; lab 2 explains why it also matters once there are many (backpressure).
 *
 * @param server The server's shared state: keyspace, command table, clients.
 * @param transport The connection.
 * @param peer The two ends' addresses.
 * @example
 * ```ts
 * for await (const conn of listener) {
 *   await serveConnection(server, conn, { remote: "127.0.0.1:50000", local: "127.0.0.1:6379" });
 * }
 * ```
 */
export async function serveConnection(
  server: ServerState,
  transport: Transport,
  peer: Peer,
): Promise<void> {
  const client = new ClientState(server.nextClientId(), peer.remote, peer.local, Date.now());
  const session: Session = { db: server.db, client, server };
  const decoder = new Decoder(server.limits);
  const readBuffer = new Uint8Array(READ_SIZE);
  const out = new ReplyWriter();
  // Every error this client is sent is counted as it is encoded (INFO errorstats).
  out.onError = (message) => server.commandStats.error(message);
  server.clients.set(client.id, client);
  server.stats.connectionsReceived++;
  try {
    // exercise step 1: until the client closes: read, give the bytes to the decoder, run the whole commands (runBatch), send their replies in one write
    let open = true;
    while (open) {
      const n = await transport.read(readBuffer);
      if (n === null) break; // the client closed its end
      // Any bytes count as activity (CLIENT LIST's idle time), even half a command, as in Redis.
      client.lastInteraction = Date.now();
      // The decoder copies the bytes, so the same read buffer serves the next read.
      decoder.push(readBuffer.subarray(0, n));
      open = await runBatch(session, decoder, out);
      // Everything this read completed is answered in one write; possibly nothing, if the read
      // held only part of a command.
      if (out.length > 0) await writeAll(transport, out.take());
      // A buffer that grew for one big reply (a GET of a large value) is let go once it is sent.
      out.shrink();
    }
    // exercise starter: throw new NotImplementedError(1, "serve the connection");
  } catch (error) {
    // A client that vanishes mid-write is ordinary; anything else is worth a line in the log.
    if (!isDisconnect(error)) {
      server.log(`Client id=${client.id} addr=${client.addr} failed: ${error}`);
    }
  } finally {
    server.clients.delete(client.id);
    try {
      transport.close();
    } catch {
      // Already closed (the server is shutting down): nothing left to release.
    }
  }
}

/**
 * Runs every whole command the decoder holds, writing each reply into `out`.
 *
 * @returns `false` once the connection must close after these replies: the client sent `QUIT`,
 *   or bytes that break the protocol.
 */
async function runBatch(session: Session, decoder: Decoder, out: ReplyWriter): Promise<boolean> {
  for (;;) {
    let args: string[] | null;
    try {
      args = decoder.next();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // Past a framing error nobody can tell where the next command starts, so, like Redis,
      // answer with the error and close. The replies before it still go out first.
      out.write(new ErrorReply(`ERR ${error.message}`));
      session.server.log(
        `Protocol error (${error.detail}) from client id=${session.client.id} ` +
          `addr=${session.client.addr}: closing`,
      );
      return false;
    }
    if (args === null) return true; // no whole command left: read more
    const before = out.length;
    out.write(await execute(session, args), session.client.protocol);
    // CLIENT REPLY OFF or SKIP: the reply was encoded, so its error (if any) is counted, as Redis
    // counts it, and then dropped.
    if (session.client.repliesToDrop > 0) dropReply(session, out, before);
    // QUIT: its +OK goes out, and nothing after it in the same batch runs, as in Redis.
    if (session.client.closeAfterReply) return false;
  }
}

/**
 * Drops the reply just encoded into `out` (from `before` on), for a client that asked not to get it
 * with `CLIENT REPLY OFF` or `SKIP`, and counts it off.
 *
 * @param session The client.
 * @param out The batch's replies (lab 1's writer, or the shared one later labs use).
 * @param before The batch's length before the reply was encoded.
 */
export function dropReply(
  session: Session,
  out: { truncate(length: number): void },
  before: number,
): void {
  out.truncate(before);
  // While replies are OFF the count is Infinity, which stays Infinity: only ON ends it.
  session.client.repliesToDrop--;
}

/**
 * Runs one command: look it up, check its arity, call its handler. A handler that throws is a bug,
 * but it must not take the server down: the client gets an error and the log gets the stack.
 *
 * @param session The client and server.
 * @param args The command and its arguments, as byte strings.
 * @returns The reply, or a promise of it (a handler may wait, in later labs for the disk).
 * @example
 * ```ts
 * execute(session, ["GET", "name"]); // the value, or null
 * execute(session, ["GET"]); // ErrorReply: wrong number of arguments for 'get' command
 * ```
 */
export function execute(session: Session, args: string[]): Reply | Promise<Reply> {
  const { server, client } = session;
  const spec = resolveCommand(server.commands, args);
  server.stats.commandsProcessed++;
  if (spec instanceof ErrorReply) {
    // Refused before it ran (wrong arity): INFO commandstats' rejected_calls, as in Redis.
    server.commandStats.reject(server.commands, args);
    return spec;
  }
  client.lastCommand = spec.name;
  // A container such as CLIENT has no handler of its own; resolveCommand() sent it to a subcommand.
  const handler = spec.handler;
  if (handler === undefined) {
    server.commandStats.reject(server.commands, args);
    return wrongArity(spec.name);
  }
  // One map lookup per command; the clock is read only once someone has asked for the numbers.
  const counters = server.commandStats.of(spec);
  const started = server.commandStats.timing ? performance.now() : -1;
  let reply: Reply | Promise<Reply>;
  try {
    reply = handler(session, args);
  } catch (error) {
    reply = internalError(session, spec.name, error);
  }
  if (reply instanceof Promise) {
    return reply.then(
      (settled) => finished(counters, started, settled),
      (error) => finished(counters, started, internalError(session, spec.name, error)),
    );
  }
  return finished(counters, started, reply);
}

/**
 * Finds the command a request names and checks its number of arguments, as Redis does before
 * running anything: a handler never sees a `GET` with three arguments. Arity counts the command's
 * own name, and a negative arity means "at least": `GET key` is 2, `SET key value [options]` -3.
 *
 * @param commands The command table.
 * @param args The request: the command's name, in any letter case, and its arguments.
 * @returns The command to run, or the error to answer instead, in Redis's words.
 * @example
 * ```ts
 * resolveCommand(table, ["get", "k"]); // GET's spec
 * resolveCommand(table, ["GET"]); // -ERR wrong number of arguments for 'get' command
 * ```
 */
export function resolveCommand(
  commands: CommandRegistry,
  args: readonly string[],
): CommandSpec | ErrorReply {
  // exercise step 3: look the name up (unknownCommand if absent), let subcommandOf() pick a container's subcommand, then check the arity (wrongArity)
  const command = commands.get(args[0]);
  if (command === undefined) return unknownCommand(args);
  // A container such as CLIENT is looked up by its second word, and that one's arity counts.
  const spec = command.subcommands && args.length >= 2 ? subcommandOf(command, args) : command;
  if (spec instanceof ErrorReply) return spec;
  const arityOk = spec.arity > 0 ? args.length === spec.arity : args.length >= -spec.arity;
  return arityOk ? spec : wrongArity(spec.name);
  // exercise starter: return commands.get(args[0]) ?? notImplemented(3, "refuse an unknown command");
}

/**
 * The subcommand a request names: `CLIENT SETNAME` is the spec `client|setname` of `CLIENT`.
 *
 * @param container A command with subcommands.
 * @param args The request, with the subcommand's name, in any letter case, second.
 * @returns The subcommand, or Redis's error naming the container.
 */
// exercise step 8: find "container|subcommand" among its subcommands, or Redis's "unknown subcommand ... Try CLIENT HELP." error
function subcommandOf(container: CommandSpec, args: readonly string[]): CommandSpec | ErrorReply {
  const wanted = `${container.name}|${args[1].toLowerCase()}`;
  const sub = container.subcommands?.find((s) => s.name === wanted);
  if (sub !== undefined) return sub;
  return new ErrorReply(
    `ERR unknown subcommand '${cString(args[1], 128)}'. Try ${args[0].toUpperCase()} HELP.`,
  );
}

/**
 * Adds a command's outcome to its counters once it has run, as Redis's `call()` does afterwards:
 * so `INFO commandstats` does not count the `INFO` that prints it.
 */
function finished(counters: CommandCounters, started: number, reply: Reply): Reply {
  counters.calls++;
  if (started >= 0) {
    counters.usec += (performance.now() - started) * 1000;
    counters.timedCalls++;
  }
  if (reply instanceof ErrorReply) counters.failed++;
  return reply;
}

function internalError(session: Session, name: string, error: unknown): ErrorReply {
  // In an exercise workspace a TODO throws this on purpose: tell the student which step it is.
  if (error instanceof NotImplementedError) return new ErrorReply(`ERR ${error.message}`);
  session.server.log(`Command '${name}' failed: ${error instanceof Error ? error.stack : error}`);
  return new ErrorReply(`ERR internal error in '${name}'`);
}
