/**
 * Lab 4's server: lab 3's server, with keys that expire, a memory bound, persistence, and a
 * memcached port on the same keyspace.
 *
 * Run it with `deno task lab4` (add `--port 0` for any free port, `--help` for every flag).
 *
 * Lab 3's stages, then lab 4's (see `shared/server/stage.ts`):
 *
 * ```
 * connect-time commands · lab 1's commands · serve one client          (lab 1)
 * serve many · lab 2's commands · databases · transactions               (lab 2)
 * secure channel (with --secure or --tls-cert) · auth                    (lab 3)
 * expiry            lazy on every read, active `hz` times a second;      (expiry.ts, keyspace.ts,
 *                   the TTL commands                                      commands.ts)
 * eviction          --maxmemory and its policy; INFO memory               (eviction.ts)
 * persistence       load once listening (-LOADING meanwhile); every write  (persistence/stage.ts,
 *                   made room for and logged; the final save at shutdown  writes.ts)
 * write gate        MULTI and EXEC check memory and persistence           (transaction_gate.ts)
 * memcache port     a second protocol on the same keyspace                (memcache/stage.ts)
 * shutdown command  SHUTDOWN: the final save first, or keep running       (shutdown_command.ts)
 * ```
 *
 * @module
 */

import type { CommandTable } from "../../shared/server/command_table.ts";
import { commandTableOf, runStages, type Stage } from "../../shared/server/stage.ts";
import { lab3Stages } from "../03-secure/server.ts";
import { type Lab4Options, parseLab4Args } from "./cli.ts";
import { expiryCommands } from "./commands.ts";
import type { ExpiringKeyspace } from "./keyspace.ts";
import { eviction } from "./eviction.ts";
import { expiry } from "./expiry.ts";
import { memcachePort } from "./memcache/stage.ts";
import { persistence } from "./persistence/stage.ts";
import { shutdownStage } from "./shutdown_command.ts";
import { writeGate } from "./transaction_gate.ts";

/** Lab 4's stages, in the order they are installed. */
export const lab4Stages: readonly Stage<Lab4Options>[] = [
  ...lab3Stages,
  expiry,
  eviction,
  persistence,
  writeGate,
  memcachePort,
  shutdownStage,
];

/**
 * Builds lab 4's command table without a server, for tests that run commands themselves: lab 2's,
 * with SET replaced by the one that knows expiry and the TTL commands.
 *
 * @param databases The databases the expiry commands act on.
 * @returns The table.
 */
export function lab4CommandTable(databases: readonly ExpiringKeyspace[]): CommandTable {
  return commandTableOf(lab4Stages).registerAll(expiryCommands(databases));
}

if (import.meta.main) await runStages(lab4Stages, parseLab4Args(Deno.args));
