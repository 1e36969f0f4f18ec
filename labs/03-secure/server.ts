/**
 * Lab 3's server: lab 2's server with a secure channel in front of it and a password behind it.
 *
 * Run it with `deno task lab3` (add `--port 0` for any free port, `--help` for every flag).
 *
 * Lab 2's stages, then lab 3's (see `shared/server/stage.ts`):
 *
 * ```
 * connect-time commands · lab 1's commands · serve one client          (lab 1)
 * serve many · lab 2's commands · transactions                           (lab 2)
 * secure channel   each connection's handshake, then encrypted records   (secure_channel.ts)
 *                  or standard TLS with --tls-cert/--tls-key
 * auth             AUTH and requirepass; nothing else runs before AUTH   (auth.ts)
 * ```
 *
 * @module
 */

import { runStages, type Stage } from "../../shared/server/stage.ts";
import { lab2Stages } from "../02-threaded/server.ts";
import { auth } from "./auth.ts";
import { type Lab3Options, parseLab3Args } from "./cli.ts";
import { secureChannel } from "./secure_channel.ts";

/** Lab 3's stages, in the order they are installed. */
export const lab3Stages: readonly Stage<Lab3Options>[] = [
  ...lab2Stages,
  secureChannel,
  auth,
];

if (import.meta.main) await runStages(lab3Stages, parseLab3Args(Deno.args));
