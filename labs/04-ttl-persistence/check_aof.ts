/**
 * `deno task lab4:check-aof [--fix] FILE`: checks an append-only log, like `redis-check-aof`.
 *
 * It reads the log with the same reader the server replays it with, and reports one of three
 * things:
 *
 * ```
 * AOF analyzed: filename=data/appendonly.aof, size=1234, ok_up_to=1234, ok_up_to_line=60, diff=0
 * AOF data/appendonly.aof is valid
 * ```
 *
 * or a torn tail (the last command cut short, as a crash in the middle of a write leaves it), or
 * corruption (bytes that are not a command, at a given offset). With `--fix` it cuts the file at
 * the last good command and prints what it cut. For a torn tail that is exactly the repair the
 * server makes itself at start-up. For corruption in the middle it is a last resort: everything
 * after the bad byte goes, good commands included, so keep a copy first (`redis-check-aof` asks
 * for a confirmation here; this tool prints the numbers instead, so it can run in a script).
 *
 * Exit codes: 0 the log is valid, or was fixed; 1 the log is not valid (run again with `--fix`);
 * 2 bad usage, or the file cannot be read.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError } from "../../shared/cli.ts";
import { AofReader, preview } from "./persistence/aof.ts";
import { RDB_MAGIC } from "./persistence/rdb/format.ts";

const USAGE = "deno task lab4:check-aof";

const HELP = `Usage: ${USAGE} [--fix] FILE

Checks lab 4's append-only log FILE, like redis-check-aof: reports that it is valid, or the byte
offset where the first bad or incomplete command starts.

Options:
  --fix    cut the file at the last good command (prints what was cut)
  --help   show this help

Exit codes: 0 valid (or fixed), 1 not valid, 2 bad usage or unreadable file.`;

/** What {@link checkAof} found. */
export interface CheckResult {
  /** 0 valid or fixed, 1 not valid, 2 unreadable. */
  exitCode: number;
  /** Where the good part ends. */
  okUpTo: number;
  /** The file's size before any fix. */
  size: number;
}

/**
 * Checks a log and, if asked, truncates it at the last good command.
 *
 * @param path The log.
 * @param options `fix` to truncate; `print` receives each output line.
 * @returns The verdict and the numbers behind it.
 */
export function checkAof(
  path: string,
  options: { fix?: boolean; print?: (line: string) => void } = {},
): CheckResult {
  const print = options.print ?? console.log;
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (error) {
    print(`Cannot read ${path}: ${error instanceof Error ? error.message : error}`);
    return { exitCode: 2, okUpTo: 0, size: 0 };
  }
  const size = bytes.length;
  if (new TextDecoder().decode(bytes.subarray(0, RDB_MAGIC.length)) === RDB_MAGIC) {
    print(
      `${path} is a snapshot (an RDB file), not an append-only file: check it with redis-check-rdb`,
    );
    return { exitCode: 1, okUpTo: 0, size };
  }

  const reader = new AofReader(bytes);
  while (reader.next() !== null) {
    // Only the verdict matters here; the reader checks each command as it goes.
  }
  const end = reader.end ?? { kind: "ok" };
  const okUpTo = end.kind === "ok" ? size : end.kind === "torn" ? end.validUpTo : end.offset;
  // A corrupt command starts at the last good command's end, which is where the file must be cut;
  // the reader's offset may point inside the bad command (at a wrong CRLF, say).
  const cutAt = end.kind === "corrupt" ? lastCommandEnd(bytes, okUpTo) : okUpTo;
  print(
    `AOF analyzed: filename=${path}, size=${size}, ok_up_to=${cutAt}, ` +
      `ok_up_to_line=${countLines(bytes, cutAt)}, diff=${size - cutAt}`,
  );
  if (end.kind === "ok") {
    print(`AOF ${path} is valid`);
    return { exitCode: 0, okUpTo: size, size };
  }
  if (end.kind === "torn") print(`Torn tail at byte offset ${end.validUpTo}: ${end.detail}`);
  else print(`Bad command at byte offset ${end.offset}: ${end.detail}`);

  if (!options.fix) {
    print(`AOF ${path} is not valid. Use the --fix option to try fixing it.`);
    return { exitCode: 1, okUpTo: cutAt, size };
  }
  print(
    `Cutting ${size - cutAt} bytes from byte offset ${cutAt}: ${preview(bytes.subarray(cutAt))}`,
  );
  if (end.kind === "corrupt") {
    print(`!!! Everything after byte offset ${cutAt} is lost, including any good commands there`);
  }
  const file = Deno.openSync(path, { write: true });
  try {
    file.truncateSync(cutAt);
    file.syncSync();
  } finally {
    file.close();
  }
  print(`Successfully truncated AOF ${path} from ${size} to ${cutAt} bytes`);
  return { exitCode: 0, okUpTo: cutAt, size };
}

/** The end of the last whole command at or before `offset`: re-read the file up to there. */
function lastCommandEnd(bytes: Uint8Array, offset: number): number {
  const reader = new AofReader(bytes.subarray(0, offset));
  let end = 0;
  for (let c = reader.next(); c !== null; c = reader.next()) end = c.end;
  return end;
}

function countLines(bytes: Uint8Array, end: number): number {
  let lines = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 0x0a) lines++;
  return lines;
}

if (import.meta.main) {
  const parsed = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        fix: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    }));
  if (parsed.positionals.length !== 1) {
    usageError(`Expected exactly one FILE, got ${parsed.positionals.length}`, USAGE);
  }
  Deno.exit(checkAof(parsed.positionals[0], { fix: parsed.values.fix }).exitCode);
}
