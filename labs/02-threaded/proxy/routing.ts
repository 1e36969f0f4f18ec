/**
 * Which commands the proxy answers itself, which it refuses, and (by elimination) which it
 * forwards.
 *
 * Most commands are about data, and the upstream owns the data: forward them. A few are about the
 * *connection* the client is talking on — its name, its protocol, whether it is closing — and that
 * connection ends at the proxy: the proxy answers those itself. Forwarding `CLIENT SETNAME` would
 * rename the shared upstream connection, for every client at once.
 *
 * The commands refused are those that would change the shared upstream connection for every
 * client using it, or take it over:
 *
 * - `SELECT`, `AUTH`, `RESET`, `READONLY`, `READWRITE` change that connection's state;
 * - `SUBSCRIBE` and friends, `MONITOR`, `SYNC` turn it into a stream of pushed messages, which
 *   would break the one-reply-per-request order every other client relies on;
 * - `BLPOP` and the other blocking commands would stop it for everyone until they return.
 *
 * Transactions (`MULTI`, `WATCH`) need connection state too, but they are too useful to refuse:
 * the proxy gives such a client a connection of its own (see `caching_proxy.ts`).
 *
 * @module
 */

import { ErrorReply } from "../../../shared/resp/reply.ts";

/**
 * Commands the proxy answers itself, from its own command table. They describe the client's
 * connection to the proxy, or the proxy: `INFO` gains a `# Proxy` section, `CONFIG GET` shows the
 * proxy's limits.
 */
export const LOCAL_COMMANDS: ReadonlySet<string> = new Set([
  "quit",
  "hello",
  "client",
  "info",
  "config",
]);

const CONNECTION_STATE = "it would change the upstream connection that every client shares";
const PUSH = "it would turn the shared upstream connection into a stream of pushed messages";
const BLOCKING = "it would block the upstream connection that every client shares";

/** Refused commands, by lower-case name, with the reason the client reads. */
const REFUSED = new Map<string, string>([
  ["select", CONNECTION_STATE],
  ["auth", CONNECTION_STATE],
  ["reset", CONNECTION_STATE],
  ["readonly", CONNECTION_STATE],
  ["readwrite", CONNECTION_STATE],
  ["subscribe", PUSH],
  ["psubscribe", PUSH],
  ["ssubscribe", PUSH],
  ["unsubscribe", PUSH],
  ["punsubscribe", PUSH],
  ["sunsubscribe", PUSH],
  ["monitor", PUSH],
  ["sync", PUSH],
  ["psync", PUSH],
  ["blpop", BLOCKING],
  ["brpop", BLOCKING],
  ["brpoplpush", BLOCKING],
  ["blmove", BLOCKING],
  ["blmpop", BLOCKING],
  ["bzpopmin", BLOCKING],
  ["bzpopmax", BLOCKING],
  ["bzmpop", BLOCKING],
  ["wait", BLOCKING],
  ["waitaof", BLOCKING],
]);

/**
 * The proxy's refusal of a command, if it refuses it.
 *
 * @param name The command name in lower case.
 * @param args The whole command (`XREAD` is refused only with its `BLOCK` option).
 * @returns `-ERR 'select' is not supported by this proxy: ...`, or `undefined` to go ahead.
 * @example
 * ```ts
 * refusalOf("get", ["GET", "k"]);          // undefined
 * refusalOf("select", ["SELECT", "1"]);    // ErrorReply
 * ```
 */
export function refusalOf(name: string, args: readonly string[]): ErrorReply | undefined {
  let reason = REFUSED.get(name);
  if (
    reason === undefined && (name === "xread" || name === "xreadgroup") &&
    args.some((arg) => arg.toLowerCase() === "block")
  ) reason = BLOCKING;
  return reason === undefined
    ? undefined
    : new ErrorReply(`ERR '${name}' is not supported by this proxy: ${reason}`);
}
