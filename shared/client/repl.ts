/**
 * The two ways the client reads commands when none is given on its command line.
 *
 * At a terminal it is a REPL (read, evaluate, print, loop) with `redis-cli`'s prompt, line editing
 * and a history that the up and down arrows walk through, kept between sessions. `node:readline`
 * does the editing; it ships with Deno.
 *
 * From a pipe (`printf 'SET a 1\nGET a\n' | deno task lab1:client`) there is nobody to prompt: it
 * runs each line to the end of the input and prints each reply, like `redis-cli` does.
 *
 * @module
 */

import process from "node:process";
import { createInterface } from "node:readline";
import { bytesToByteString, utf8ToByteString } from "../resp/bytes.ts";
import { splitArgs } from "../resp/split_args.ts";
import { HISTORY_SIZE, historyPath, isSensitive, loadHistory, saveHistory } from "./history.ts";
import type { CommandRunner } from "./runner.ts";

/**
 * Splits a byte stream into lines, as byte strings without the `\n`. The last line counts even
 * without a line ending.
 *
 * Lines are cut from raw bytes rather than decoded as text first, so that piped input reaches the
 * server byte for byte, even where it is not valid UTF-8.
 *
 * @param input The stream, such as `Deno.stdin.readable`.
 * @returns The lines, one at a time.
 * @example
 * ```ts
 * for await (const line of readLines(Deno.stdin.readable)) console.log(line);
 * ```
 */
export async function* readLines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of input) {
    const lines = (pending + bytesToByteString(chunk)).split("\n");
    pending = lines.pop() ?? "";
    yield* lines;
  }
  if (pending !== "") yield pending;
}

/**
 * Runs every line of piped input, in order, until the input ends or a line says `quit`.
 *
 * @param runner Runs each line and prints its reply.
 * @param input The commands, one per line.
 * @example
 * ```ts
 * await runPiped(runner, Deno.stdin.readable);
 * ```
 */
export async function runPiped(
  runner: CommandRunner,
  input: ReadableStream<Uint8Array>,
): Promise<void> {
  for await (const line of readLines(input)) {
    if (!await runner.runLine(line)) break;
  }
}

/**
 * Runs the interactive prompt until `quit`, `exit`, Ctrl-D or Ctrl-C.
 *
 * @param runner Runs each line and prints its reply; its prompt shows whether we are connected.
 * @example
 * ```ts
 * if (Deno.stdin.isTerminal()) await runInteractive(runner);
 * ```
 */
export async function runInteractive(runner: CommandRunner): Promise<void> {
  let historyFile = historyPath();
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    // Line editing needs a terminal on both sides; with stdout redirected, plain lines are better.
    terminal: Deno.stdout.isTerminal(),
    history: historyFile ? loadHistory(historyFile) : [],
    historySize: HISTORY_SIZE,
  });

  // Ctrl-D on an empty line closes the interface. Waiting for a line that will never come would
  // hang forever, so every wait below also ends on "close".
  let closed = false;
  rl.on("close", () => closed = true);

  // Called with the live history array (newest first) each time a line is added. Node documents
  // that a listener may edit it: that is how a password stays out of memory and off the disk.
  rl.on("history", (lines: string[]) => {
    const latest = splitArgs(utf8ToByteString(lines[0] ?? ""));
    if (latest !== null && isSensitive(latest)) lines.shift();
    if (historyFile && !saveHistory(historyFile, lines)) historyFile = undefined;
  });

  // In raw mode Ctrl-C is a key, not a signal. redis-cli leaves on it, even with a command in
  // flight, which is the way out of a server that never answers (lab 1's second client).
  rl.on("SIGINT", () => {
    runner.interrupt();
    rl.close();
  });

  await runner.connect();
  rl.setPrompt(runner.prompt);
  rl.prompt();
  let quit = false;
  for await (const text of rl) {
    // A terminal gives text; the server wants bytes, so "é" goes out as its two UTF-8 bytes.
    quit = !await runner.runLine(utf8ToByteString(text));
    if (quit || closed) break;
    rl.setPrompt(runner.prompt);
    rl.prompt();
  }
  if (!closed) rl.close();
  // Left with Ctrl-D or Ctrl-C: end the prompt's line, so the shell's prompt starts on its own.
  if (!quit) console.log();
}
