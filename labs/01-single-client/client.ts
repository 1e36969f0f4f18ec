/**
 * Lab 1's client: a small `redis-cli` for the lab 1 server (or any Redis).
 *
 * ```
 * deno task lab1:client                  an interactive prompt: 127.0.0.1:6379>
 * deno task lab1:client SET name Alice   one command
 * deno task lab1:client --help           every option
 * ```
 *
 * All of it lives in `shared/client/`, because every lab's client is the same program: the
 * library that speaks RESP (`client.ts`), the reply formats (`format.ts`) and the prompt
 * (`repl.ts`). Try it against the lab 1 server with two terminals: while one client is connected,
 * a second one's commands wait, because this server serves one client at a time.
 *
 * @module
 */

import { runClientCli } from "../../shared/client/cli.ts";

if (import.meta.main) {
  Deno.exit(await runClientCli(Deno.args, { usage: "deno task lab1:client" }));
}
