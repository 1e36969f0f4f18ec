/**
 * Transactions when memory is full or persistence is failing: refuse at the door, never halfway
 * through.
 *
 * Outside a transaction, the write path (`writes.ts`) checks before each write. Inside one, that
 * check would come too late: `EXEC` would run the first commands of the queue and refuse the rest,
 * and the client would get half a transaction. Redis checks earlier, in `processCommand()`, before
 * a command is queued or `EXEC` runs, and so does this gate, in Redis's order: memory first, then
 * the disk.
 *
 * ```
 * MULTI                 +OK
 * SET k v               -OOM command not allowed when used memory > 'maxmemory'.   (any command:
 * EXEC                  -EXECABORT Transaction discarded because of previous errors.  a queue grows)
 *
 * MULTI / SET k v       +OK / +QUEUED        memory fills up, from another client, meanwhile
 * EXEC                  -EXECABORT Transaction discarded because of: OOM command not allowed ...
 *
 * MULTI / SET k v       +OK / +QUEUED        the log's disk fills up meanwhile
 * EXEC                  -EXECABORT Transaction discarded because of: MISCONF Errors writing to ...
 * ```
 *
 * While memory is full, every command sent inside `MULTI` is refused, reads included (queueing
 * itself takes memory), except those that end the transaction or the connection; `EXEC` is refused
 * only if its queue holds a command that may add data (`refusedWhenFull`): a queue of reads and
 * deletions still runs, and may free the memory. While persistence is failing, the write commands
 * (and `PING`, which Redis refuses too) are refused while queueing, and `EXEC` if its queue holds a
 * write. Unknown commands, wrong arities and `no-multi` commands get their own errors first, as in
 * Redis.
 *
 * @module
 */

import { ErrorReply } from "../../shared/resp/reply.ts";
import type { CommandSpec } from "../../shared/server/command_table.ts";
import {
  abortExec,
  dispatch,
  inMulti,
  queuedCommands,
  refuseQueued,
} from "../02-threaded/transaction.ts";
import { resolveCommand } from "../01-single-client/connection.ts";
import { refusedWhenFull } from "./commands.ts";
import { EVICTOR, type Evictor, OOM_ERROR } from "./eviction.ts";
import type { PersistenceOptions } from "./persistence/mod.ts";
import { PERSISTENCE } from "./persistence/stage.ts";
import type { Execute } from "../../shared/server/hooks.ts";
import type { Stage } from "../../shared/server/stage.ts";

/** What the gate checks. */
export interface GateOptions {
  /** Frees memory by the policy and says whether the data fits; `null` without `--maxmemory`. */
  evictor: Evictor | null;
  /** `-MISCONF` while persistence is failing, else `null` (`Persistence.writeDenied`). */
  writeDenied: () => ErrorReply | null;
}

/** What Redis lets through inside `MULTI` when memory is full: what ends the transaction. */
const ALWAYS_ADMITTED: ReadonlySet<string> = new Set(["exec", "discard", "quit", "reset"]);

/**
 * Wraps the dispatcher with the checks that transactions need.
 *
 * @param options The memory bound and the persistence check.
 * @param run The dispatcher to wrap; lab 2's `dispatch` by default.
 * @returns The dispatcher to give the server (`ServerHooks.execute`).
 * @example
 * ```ts
 * hooks.execute = transactionGate({ evictor, writeDenied: () => persistence.writeDenied() });
 * ```
 */
export function transactionGate(options: GateOptions, run: Execute = dispatch): Execute {
  const { evictor, writeDenied } = options;
  return (session, args) => {
    // The hot path: outside a transaction, the write path's own checks are the right ones.
    if (!inMulti(session)) return run(session, args);
    const table = session.server.commands;
    const spec = resolveCommand(table, args);
    if (spec instanceof ErrorReply || spec.flags.includes("no-multi")) return run(session, args);
    if (spec.name === "exec") {
      // A wrong arity is EXEC's own error; only a runnable EXEC is checked.
      if (args.length !== 1) return run(session, args);
      const queue = queuedCommands(session).map((queued) => resolveCommand(table, queued));
      if (evictor !== null && queue.some(mayAddData) && !evictor.performEvictions()) {
        session.server.commandStats.of(spec).rejected++;
        return abortExec(session, OOM_ERROR);
      }
      const denied = queue.some(isWrite) ? writeDenied() : null;
      if (denied === null) return run(session, args);
      session.server.commandStats.of(spec).rejected++;
      return abortExec(session, denied);
    }
    if (ALWAYS_ADMITTED.has(spec.name)) return run(session, args);
    // Refused before it runs: INFO commandstats counts it as rejected_calls, as Redis does.
    if (evictor !== null && !evictor.performEvictions()) {
      session.server.commandStats.of(spec).rejected++;
      return refuseQueued(session, OOM_ERROR);
    }
    const denied = isWrite(spec) || spec.name === "ping" ? writeDenied() : null;
    if (denied === null) return run(session, args);
    session.server.commandStats.of(spec).rejected++;
    return refuseQueued(session, denied);
  };
}

/** Whether a queued command is one that memory being full refuses. */
function mayAddData(spec: CommandSpec | ErrorReply): boolean {
  return !(spec instanceof ErrorReply) && refusedWhenFull(spec);
}

/** Whether a queued command writes: what failing persistence refuses. */
function isWrite(spec: CommandSpec | ErrorReply): boolean {
  return !(spec instanceof ErrorReply) && spec.flags.includes("write");
}

/**
 * The stage: {@link transactionGate} around the command runner, when there is something to check
 * (a memory limit, or persistence that may fail). Without either, it adds nothing to the hot path.
 */
export const writeGate: Stage<{ maxmemory: number; persistence: PersistenceOptions }> = {
  name: "write gate",
  module: import.meta.url,
  when: ({ maxmemory, persistence }) =>
    maxmemory > 0 || persistence.appendonly || persistence.save.length > 0,
  install(assembly) {
    const running = assembly.need(PERSISTENCE);
    const evictor = assembly.options.maxmemory > 0 ? assembly.need(EVICTOR) : null;
    assembly.wrapExecute((run) =>
      transactionGate({ evictor, writeDenied: () => running.writeDenied() }, run)
    );
  },
};
