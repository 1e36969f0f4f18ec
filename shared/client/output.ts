/**
 * What the command-line client prints for one reply, in the style the user chose.
 *
 * @module
 */

import { byteStringToBytes, utf8ToBytes } from "../resp/bytes.ts";
import type { Reply } from "../resp/reply.ts";
import { format, formatRaw, formatRawValue } from "./format.ts";
import { formatJson } from "./json.ts";

/**
 * How replies are printed: `"tty"` like `redis-cli` at a terminal, `"raw"` like `redis-cli --raw`
 * (its default into a pipe), `"json"` one JSON object per command.
 */
export type OutputMode = "tty" | "raw" | "json";

/**
 * Renders one reply as the bytes to write to standard output.
 *
 * The two `redis-cli` styles produce byte strings (a raw value is printed byte for byte, whatever
 * it holds); JSON is text and is written as UTF-8.
 *
 * @param mode The output style.
 * @param command The command that was sent, as byte strings (JSON repeats it).
 * @param reply The server's reply.
 * @returns The bytes, ending in a newline.
 * @example
 * ```ts
 * renderReply("tty", ["GET", "k"], "v"); // bytes of '"v"\n'
 * ```
 */
export function renderReply(
  mode: OutputMode,
  command: readonly string[],
  reply: Reply,
): Uint8Array {
  if (mode !== "json" && printedAsIs(command)) return byteStringToBytes(formatRawValue(reply));
  switch (mode) {
    case "tty":
      return byteStringToBytes(format(reply));
    case "raw":
      return byteStringToBytes(formatRaw(reply));
    case "json":
      return utf8ToBytes(`${formatJson(command, reply)}\n`);
  }
}

/**
 * The commands whose text `redis-cli` prints as it is, unquoted and with no line added, whatever
 * the style: reports meant for people (`INFO`, `CLIENT LIST`, ...), as listed in its
 * `cliSendCommand()`.
 */
function printedAsIs(command: readonly string[]): boolean {
  const name = command[0]?.toLowerCase();
  const sub = command[1]?.toLowerCase();
  switch (name) {
    case "info":
    case "lolwut":
      return true;
    case "client":
      return sub === "list" || sub === "info";
    case "memory":
      return sub === "malloc-stats" || sub === "doctor";
    case "latency":
      return sub === "doctor" || (sub === "graph" && command.length === 3);
    case "cluster":
      return command.length === 2 && (sub === "nodes" || sub === "info");
    default:
      return false;
  }
}
