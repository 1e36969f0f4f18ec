/**
 * The REPL's command history, kept in a file between sessions, as `redis-cli` keeps
 * `~/.rediscli_history`.
 *
 * The file is `~/.cachelab_history`, one command per line, oldest first. The environment variable
 * `CACHELAB_HISTFILE` names another file, or turns history off when it is empty or `/dev/null`.
 * History is a convenience, so every failure here is silent: no home directory, no permission, a
 * read-only disk all mean "no history", never an error in the middle of a session.
 *
 * @module
 */

import { join } from "node:path";

/** The environment variable that overrides where history is kept. */
export const HISTORY_ENV = "CACHELAB_HISTFILE";

/** How many commands are remembered. */
export const HISTORY_SIZE = 1000;

/**
 * Is a permission granted already? Asking with `querySync` never prompts, whereas touching the
 * environment or a file without the permission makes Deno stop and ask the user at the terminal.
 */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Finds the history file.
 *
 * @returns Its path, or `undefined` when history is turned off or there is no home directory.
 * @example
 * ```ts
 * historyPath(); // "/home/ada/.cachelab_history"
 * ```
 */
export function historyPath(): string | undefined {
  if (granted({ name: "env", variable: HISTORY_ENV })) {
    const chosen = Deno.env.get(HISTORY_ENV);
    if (chosen !== undefined) return chosen === "" || chosen === "/dev/null" ? undefined : chosen;
  }
  if (!granted({ name: "env", variable: "HOME" })) return undefined;
  const home = Deno.env.get("HOME");
  return home ? join(home, ".cachelab_history") : undefined;
}

/**
 * Reads the history file.
 *
 * @param path The file, as {@link historyPath} found it.
 * @returns The remembered commands, newest first (the order `node:readline` wants); empty when
 *   the file is missing or unreadable.
 */
export function loadHistory(path: string): string[] {
  if (!granted({ name: "read", path })) return [];
  try {
    const lines = Deno.readTextFileSync(path).split("\n").filter((line) => line !== "");
    return lines.slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

/**
 * Writes the history file, readable by its owner only: commands can hold keys and values that
 * are nobody else's business.
 *
 * @param path The file.
 * @param lines The commands, newest first.
 * @returns `false` if the file could not be written.
 */
export function saveHistory(path: string, lines: readonly string[]): boolean {
  if (!granted({ name: "write", path })) return false;
  try {
    const text = lines.slice(0, HISTORY_SIZE).toReversed().map((line) => `${line}\n`).join("");
    Deno.writeTextFileSync(path, text, { mode: 0o600 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Tells whether a command carries a password, so that it is kept out of the history file. The
 * list is `redis-cli`'s: `AUTH`, `ACL SETUSER`, `CONFIG SET` of a password, and `HELLO` or
 * `MIGRATE` with an `AUTH` option.
 *
 * @param args The command as typed, split into arguments.
 * @returns `true` if the line must not be remembered.
 * @example
 * ```ts
 * isSensitive(["AUTH", "hunter2"]);  // true
 * isSensitive(["SET", "k", "v"]);    // false
 * ```
 */
export function isSensitive(args: readonly string[]): boolean {
  const words = args.map((arg) => arg.toLowerCase());
  switch (words[0]) {
    case "auth":
      return true;
    case "acl":
      return words[1] === "setuser";
    case "config":
      return words[1] === "set" &&
        ["requirepass", "masterauth", "masteruser"].includes(words[2] ?? "");
    case "hello":
    case "migrate":
      return words.includes("auth") || words.includes("auth2");
    default:
      return false;
  }
}
