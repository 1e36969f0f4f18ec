/**
 * Transactions when memory is full: refuse at the door, never halfway through.
 *
 * Outside a transaction, the write path (`writes.ts`) checks memory before each write. Inside
 * one, that check would come too late: `EXEC` would run the first commands of the queue and
 * refuse the rest, and the client would get half a transaction. Redis checks earlier, in
 * `processCommand()`, before a command is queued or `EXEC` runs, and so does this gate:
 *
 * ```
 * MULTI                 +OK
 * SET k v               -OOM command not allowed when used memory > 'maxmemory'.   (any command:
 * EXEC                  -EXECABORT Transaction discarded because of previous errors.  a queue grows)
 *
 * MULTI / SET k v       +OK / +QUEUED        memory fills up, from another client, meanwhile
 * EXEC                  -EXECABORT Transaction discarded because of: OOM command not allowed ...
 * ```
 *
 * While memory is full, every command sent inside `MULTI` is refused, reads included (queueing
 * itself takes memory), except those that end the transaction or the connection. `EXEC` is
 * refused only if its queue holds a command that may add data (`refusedWhenFull`): a queue of
 * reads and deletions still runs, and may free the memory. Unknown commands, wrong arities and
 * `no-multi` commands get their own errors first, as in Redis.
 *
 * @module
 */

import { ErrorReply, type Reply } from "../../shared/resp/reply.ts";
import type { CommandTable } from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";
import {
  abortExec,
  dispatch,
  inMulti,
  queuedCommands,
  refuseQueued,
} from "../02-threaded/transaction.ts";
import { refusedWhenFull } from "./commands.ts";
import { type Evictor, OOM_ERROR } from "./eviction.ts";

/** Runs one command for a client: lab 2's transaction-aware `dispatch`, or a wrapper of it. */
export type Execute = (session: Session, args: string[]) => Reply | Promise<Reply>;

/** What Redis lets through inside `MULTI` when memory is full: what ends the transaction. */
const ALWAYS_ADMITTED: ReadonlySet<string> = new Set(["exec", "discard", "quit", "reset"]);

/**
 * Wraps the dispatcher with the memory check that transactions need.
 *
 * @param evictor Frees memory by the policy, and says whether the data now fits.
 * @param run The dispatcher to wrap; lab 2's `dispatch` by default.
 * @returns The dispatcher to give the server (`ServerHooks.execute`).
 * @example
 * ```ts
 * hooks.execute = memoryGate(evictor);
 * ```
 */
export function memoryGate(evictor: Evictor, run: Execute = dispatch): Execute {
  return (session, args) => {
    // The hot path: outside a transaction, the write path's own check is the right one.
    if (!inMulti(session)) return run(session, args);
    const table = session.server.commands;
    const spec = table.resolve(args);
    if (spec instanceof ErrorReply || spec.flags.includes("no-multi")) return run(session, args);
    if (spec.name === "exec") {
      // A wrong arity is EXEC's own error; only a runnable EXEC is checked.
      const queue = queuedCommands(session);
      if (args.length !== 1 || !queue.some((queued) => mayAddData(table, queued))) {
        return run(session, args);
      }
      return evictor.performEvictions() ? run(session, args) : abortExec(session, OOM_ERROR);
    }
    if (ALWAYS_ADMITTED.has(spec.name) || evictor.performEvictions()) return run(session, args);
    return refuseQueued(session, OOM_ERROR);
  };
}

/** Whether a queued command is one that memory being full refuses. */
function mayAddData(table: CommandTable, queued: string[]): boolean {
  const spec = table.resolve(queued);
  return !(spec instanceof ErrorReply) && refusedWhenFull(spec);
}
