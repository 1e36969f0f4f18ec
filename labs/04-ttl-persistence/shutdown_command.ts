/**
 * `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: stop the server from a client, the same way
 * SIGTERM stops it (lab 2's `shutdown.ts`), with Redis 7.0's flags and replies.
 *
 * ```
 * SHUTDOWN            fsync the log, save if --save is set, exit    (no reply: the connection closes)
 * SHUTDOWN NOSAVE     exit without the final snapshot
 * SHUTDOWN SAVE       save a snapshot even without --save
 * SHUTDOWN FORCE      exit even if fsync or the save fails
 * the save fails      -ERR Errors trying to SHUTDOWN. Check logs.  (and the server keeps running)
 * ```
 *
 * `NOW` is accepted and changes nothing: in Redis it skips waiting for replicas, and this server
 * has none. For the same reason there is never a shutdown in progress that `ABORT` could cancel
 * (Redis's only waits for replicas), so it answers as Redis does when there is none.
 *
 * @module
 */

import { err, OK, type Reply } from "../../shared/resp/reply.ts";
import type { CommandSpec } from "../../shared/server/command_table.ts";
import type { Stage } from "../../shared/server/stage.ts";
import { SHUTDOWN } from "../02-threaded/serve_many.ts";
import type { Shutdown, ShutdownRequest } from "../02-threaded/shutdown.ts";

const SYNTAX_ERROR = err("syntax error");

/**
 * Reads SHUTDOWN's flags, as Redis's `shutdownCommand()` does: any order, any case, repeats
 * allowed; `NOSAVE` with `SAVE`, `ABORT` with any other flag, or an unknown word is a syntax error.
 *
 * @param args The command and its arguments.
 * @returns The request, `"abort"`, or `null` for a syntax error.
 */
export function parseShutdownArgs(args: readonly string[]): ShutdownRequest | "abort" | null {
  const request: ShutdownRequest = {};
  let abort = false;
  let now = false;
  for (const word of args.slice(1)) {
    switch (word.toLowerCase()) {
      case "nosave":
        if (request.save === "save") return null;
        request.save = "nosave";
        break;
      case "save":
        if (request.save === "nosave") return null;
        request.save = "save";
        break;
      case "now":
        now = true;
        break;
      case "force":
        request.force = true;
        break;
      case "abort":
        abort = true;
        break;
      default:
        return null;
    }
  }
  if (abort) return request.save === undefined && !request.force && !now ? "abort" : null;
  return request;
}

/**
 * Builds the SHUTDOWN command for one server.
 *
 * @param shutdown The server's shutdown sequence (the one its signals use).
 * @returns The command, to register in the server's table.
 */
export function shutdownCommand(shutdown: Shutdown): CommandSpec {
  return {
    name: "shutdown",
    arity: -1,
    // no-multi as in Redis: a transaction cannot stop the server halfway through its queue.
    flags: ["admin", "noscript", "loading", "stale", "no-multi"],
    group: "server",
    summary: "Synchronously saves the database(s) to disk and shuts down the server",
    arguments: [
      {
        name: "nosave_save",
        type: "oneof",
        flags: ["optional"],
        arguments: [
          { name: "nosave", type: "pure-token", token: "NOSAVE" },
          { name: "save", type: "pure-token", token: "SAVE" },
        ],
      },
      { name: "now", type: "pure-token", token: "NOW", flags: ["optional"] },
      { name: "force", type: "pure-token", token: "FORCE", flags: ["optional"] },
      { name: "abort", type: "pure-token", token: "ABORT", flags: ["optional"] },
    ],
    handler: async (session, args): Promise<Reply> => {
      const request = parseShutdownArgs(args);
      if (request === null) return SYNTAX_ERROR;
      if (request === "abort") return err("No shutdown in progress.");
      if (await shutdown.request(request)) {
        // The server is stopping and has already closed this connection: Redis sends no reply
        // either, the client sees the connection close. This reply is never written.
        session.client.closeAfterReply = true;
        return OK;
      }
      return err("Errors trying to SHUTDOWN. Check logs.");
    },
  };
}

/** The stage: `SHUTDOWN`, on the same path as a signal (lab 2's {@link SHUTDOWN}). */
export const shutdownStage: Stage<unknown> = {
  name: "shutdown command",
  module: import.meta.url,
  install(assembly) {
    assembly.commands.register(shutdownCommand(assembly.need(SHUTDOWN)));
  },
};
