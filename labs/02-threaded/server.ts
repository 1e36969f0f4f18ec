/**
 * Lab 2's server: a Redis-compatible cache that serves many clients at once.
 *
 * Run it with `deno task lab2` (add `--port 0` for any free port, `--help` for the limits).
 *
 * Lab 1's stages, then lab 2's (see `shared/server/stage.ts`):
 *
 * ```
 * connect-time commands   HELLO, CLIENT, COMMAND, INFO, CONFIG                  (lab 1)
 * lab 1's commands        PING, ECHO, SET, GET, DEL, EXISTS                     (lab 1)
 * serve one client        replaced by the next stage                            (lab 1)
 * serve many              one task per client, maxclients, timeout, output bound (serve_many.ts)
 * lab 2's commands        SET NX/XX/GET, counters, strings, KEYS, SCAN, RENAME…  (commands.ts …)
 * databases               SELECT, MOVE, SWAPDB, FLUSHALL; --databases N          (databases.ts)
 * transactions            MULTI/EXEC/WATCH; commands run through dispatch()     (transaction.ts)
 * ```
 *
 * @module
 */

import type { CommandTable } from "../../shared/server/command_table.ts";
import { commandStage, commandTableOf, runStages, type Stage } from "../../shared/server/stage.ts";
import { lab1Stages } from "../01-single-client/server.ts";
import { type Lab2Options, parseLab2Args } from "./cli.ts";
import { lab2Commands } from "./commands.ts";
import { databaseCommands } from "./databases.ts";
import { keyspaceCommands } from "./keyspace_commands.ts";
import { serveMany } from "./serve_many.ts";
import { serverCommands } from "./server_commands.ts";
import { stringCommands } from "./string_commands.ts";
import { transactions } from "./transaction.ts";

/** Lab 2's own commands, in the order they are registered: each may replace an earlier one. */
const LAB2_COMMANDS = [
  ...lab2Commands,
  ...stringCommands,
  ...keyspaceCommands,
  ...serverCommands,
];

/** Lab 2's stages, in the order they are installed. */
export const lab2Stages: readonly Stage<Lab2Options>[] = [
  ...lab1Stages,
  serveMany,
  commandStage("lab 2's commands", import.meta.resolve("./commands.ts"), LAB2_COMMANDS),
  commandStage("databases", import.meta.resolve("./databases.ts"), databaseCommands),
  transactions,
];

/**
 * Builds lab 2's command table without a server: lab 1's, with SET replaced by the one that knows
 * NX/XX/GET, plus lab 2's string and keyspace commands and transactions. For tools that run
 * commands themselves (the caching proxy, the race demo, benchmarks).
 */
export function lab2CommandTable(): CommandTable {
  return commandTableOf(lab2Stages);
}

if (import.meta.main) await runStages(lab2Stages, parseLab2Args(Deno.args));
