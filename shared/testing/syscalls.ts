/**
 * Watching a server's file system calls with `strace`: how a check sees an fsync, which nothing a
 * client can observe shows (the bytes are readable whether or not they reached the disk, until the
 * power goes out).
 *
 * The server runs under `strace -D`: strace is then a detached grandchild and the server keeps
 * its own process, so a signal meant for the server (SIGTERM to stop it, SIGKILL for a crash)
 * reaches it, and strace ends with it. `-y` prints the path behind every file descriptor.
 *
 * @module
 */

/** The calls a durability check reads: the two fsyncs, and the renames that publish a file. */
const CALLS = ["fsync", "fdatasync", "rename", "renameat", "renameat2"];

/**
 * The command line that runs a program under `strace`, logging {@link CALLS} to `log`; the
 * program's own command line follows it.
 *
 * @param log Where strace writes.
 * @returns `strace` and its options.
 */
export function straceCommand(log: string): string[] {
  return ["strace", "-D", "-f", "-qq", "-y", "-o", log, "-e", `trace=${CALLS.join(",")}`];
}

/** One finished call from strace's log. */
export interface Syscall {
  /** `fsync`, `rename`, …. */
  name: string;
  /**
   * The paths among its arguments, in order: a file descriptor's (`22</data/dump.rdb>`) and a
   * quoted path's (`"temp-12.rdb"`).
   */
  paths: string[];
  /** Whether it returned 0. */
  ok: boolean;
}

const WHOLE = /^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)/;
const STARTED = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/;
const RESUMED = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(-?\d+)/;

/**
 * Reads strace's log into the calls it shows, in the order they finished. A call another
 * thread's call interrupted is logged in two halves (`<unfinished ...>`, then `<... resumed>`);
 * the halves are joined.
 *
 * @param text The log.
 * @returns The calls.
 */
export function readSyscalls(text: string): Syscall[] {
  const calls: Syscall[] = [];
  const started = new Map<string, string>();
  for (const line of text.split("\n")) {
    const whole = WHOLE.exec(line);
    if (whole !== null) {
      calls.push({ name: whole[1], paths: pathsIn(whole[2]), ok: whole[3] === "0" });
      continue;
    }
    const first = STARTED.exec(line);
    if (first !== null) {
      started.set(first[1], first[3]);
      continue;
    }
    const rest = RESUMED.exec(line);
    if (rest !== null) {
      const args = (started.get(rest[1]) ?? "") + rest[3];
      started.delete(rest[1]);
      calls.push({ name: rest[2], paths: pathsIn(args), ok: rest[4] === "0" });
    }
  }
  return calls;
}

/** The paths in a call's arguments: `<...>` after a descriptor, or a quoted string. */
function pathsIn(args: string): string[] {
  return [...args.matchAll(/\d+<([^>]*)>|"((?:[^"\\]|\\.)*)"/g)]
    .map((m) => m[1] ?? m[2]);
}
