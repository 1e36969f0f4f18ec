/**
 * Lab 1's server: a Redis-compatible cache that serves one client at a time.
 *
 * Run it with `deno task lab1` (add `--port 0` for any free port), then talk to it with
 * `deno task lab1:client`, `redis-cli` or `nc`.
 *
 * The server is its list of stages, installed in order (see `shared/server/stage.ts`). Each later
 * lab starts from this list and adds to it:
 *
 * ```
 * connect-time commands   what clients send on connect: HELLO, CLIENT, COMMAND, INFO, CONFIG
 * lab 1's commands        PING, ECHO, SET, GET, DEL, EXISTS                      (commands.ts)
 * serve one client        accept, serve until the client leaves, accept the next (serve_one.ts)
 * ```
 *
 * @module
 */

import { clientCompatCommands } from "../../shared/commands/mod.ts";
import { parseServerArgs, type ServerCliOptions } from "../../shared/server/cli.ts";
import type { CommandTable } from "../../shared/server/command_table.ts";
import { commandStage, commandTableOf, runStages, type Stage } from "../../shared/server/stage.ts";
import { lab1Commands } from "./commands.ts";
import { serveOneClient } from "./serve_one.ts";

/** Lab 1's stages, in the order they are installed. */
export const lab1Stages: readonly Stage<ServerCliOptions>[] = [
  commandStage("connect-time commands", import.meta.resolve("../../shared/commands/mod.ts"), [
    ...clientCompatCommands,
  ]),
  commandStage("lab 1's commands", import.meta.resolve("./commands.ts"), lab1Commands),
  serveOneClient,
];

/** Builds lab 1's command table: the connect-time commands and lab 1's own. */
export function lab1CommandTable(): CommandTable {
  return commandTableOf(lab1Stages);
}

if (import.meta.main) {
  const options = parseServerArgs(Deno.args, {
    usage: "deno task lab1",
    description: "Lab 1: a Redis-compatible cache server that serves one client at a time.",
  });
  await runStages(lab1Stages, options);
}
