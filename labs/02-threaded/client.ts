/**
 * Lab 2's client: the same small `redis-cli` as lab 1's, pointed at the lab 2 server.
 *
 * ```
 * deno task lab2:client                  an interactive prompt: 127.0.0.1:6379>
 * deno task lab2:client INCR visits      one command
 * deno task lab2:client --help           every option
 * ```
 *
 * Open it in two terminals at once: unlike lab 1, both are answered straight away. Try `MULTI` in
 * one, queue a few commands, and watch the other one's writes make a `WATCH`ed `EXEC` fail.
 *
 * @module
 */

import { runClientCli } from "../../shared/client/cli.ts";

if (import.meta.main) {
  Deno.exit(await runClientCli(Deno.args, { usage: "deno task lab2:client" }));
}
