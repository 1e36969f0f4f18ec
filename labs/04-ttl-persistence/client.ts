/**
 * Lab 4's client: the course's `redis-cli`, pointed at the lab 4 server.
 *
 * ```
 * deno task lab4:client                          an interactive prompt: 127.0.0.1:6379>
 * deno task lab4:client SET session abc EX 10    one command
 * deno task lab4:client TTL session              10, then 9, 8... then -2
 * deno task lab4:client --help                   every option
 * ```
 *
 * @module
 */

import { runClientCli } from "../../shared/client/cli.ts";

if (import.meta.main) {
  Deno.exit(await runClientCli(Deno.args, { usage: "deno task lab4:client" }));
}
