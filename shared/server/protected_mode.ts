/**
 * Redis's protected mode: a server with no password answers only clients on the loopback
 * interface.
 *
 * A cache started with `--host 0.0.0.0` "just to try it" is reachable by the whole network, and
 * with no password anyone there can read, change and erase every key. Redis's answer, after open
 * instances by the thousand were wiped and held to ransom, is to refuse such clients with a
 * long error that tells the operator the four ways out, then close the connection. This module
 * is that decision and that text; `runServer` asks it once per accepted connection.
 *
 * Redis 7 applies it whatever the listener is bound to: before 7.0 an explicit `bind` turned it
 * off, and 7.0 dropped that exception ("Modifying the bind parameter to a non-default value will
 * no longer implicitly disable protected-mode", its release notes). This follows Redis 7.
 *
 * @module
 */

import { type ConfigSetter } from "./config.ts";

/**
 * Redis 7.0's reply to a client refused by protected mode, word for word from `networking.c`
 * (`clientAcceptHandler`), its typo ("Setup a an") included: scripts match these words.
 */
export const PROTECTED_MODE_DENIED: string = "-DENIED Redis is running in protected mode because " +
  "protected mode is enabled and no password is set for the default user. In this mode " +
  "connections are only accepted from the loopback interface. If you want to connect from " +
  "external computers to Redis you may adopt one of the following solutions: 1) Just disable " +
  "protected mode sending the command 'CONFIG SET protected-mode no' from the loopback " +
  "interface by connecting to Redis from the same host the server is running, however MAKE " +
  "SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make " +
  "this change permanent. 2) Alternatively you can just disable the protected mode by editing " +
  "the Redis configuration file, and setting the protected mode option to 'no', and then " +
  "restarting the server. 3) If you started the server manually just for testing, restart it " +
  "with the '--protected-mode no' option. 4) Setup a an authentication password for the " +
  "default user. NOTE: You only need to do one of the above things in order for the server to " +
  "start accepting connections from the outside.\r\n";

const DENIED_BYTES = new TextEncoder().encode(PROTECTED_MODE_DENIED);

/** What the decision needs to know about the server. */
export interface ProtectedModeState {
  /** `protected-mode yes` (Redis's default), changeable with `CONFIG SET`. */
  enabled: boolean;
  /** Whether clients must authenticate (`--requirepass`): then anyone may connect. */
  hasPassword(): boolean;
}

/**
 * Whether a client's address is the loopback interface, by Redis's test: exactly `127.0.0.1` or
 * `::1`. Redis does not count the rest of `127.0.0.0/8`, so neither does this. The IPv4-mapped
 * `::ffff:127.0.0.1` counts too: a dual-stack listener on `::` reports IPv4 clients that way,
 * where Redis, which opens separate IPv4 and IPv6 sockets, sees the plain form.
 *
 * @param hostname The client's address, as `Deno.NetAddr.hostname` gives it.
 * @returns `true` for a loopback client.
 */
export function isLoopbackAddress(hostname: string): boolean {
  const address = hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}

/**
 * Decides whether protected mode refuses a new connection, and with what.
 *
 * @param remoteAddr The client's address (`conn.remoteAddr`). A Unix socket is always allowed,
 *   as in Redis: only local users can reach it.
 * @param state Whether protected mode is on, and whether there is a password.
 * @returns The bytes to send before closing the connection, or `null` to serve it.
 * @example
 * ```ts
 * const state = { enabled: true, hasPassword: () => false };
 * protectedModeRefusal({ transport: "tcp", hostname: "192.0.2.7", port: 5000 }, state); // DENIED
 * protectedModeRefusal({ transport: "tcp", hostname: "127.0.0.1", port: 5000 }, state); // null
 * ```
 */
export function protectedModeRefusal(
  remoteAddr: Deno.Addr,
  state: ProtectedModeState,
): Uint8Array | null {
  if (!state.enabled || state.hasPassword()) return null;
  if (remoteAddr.transport !== "tcp" && remoteAddr.transport !== "udp") return null;
  return isLoopbackAddress(remoteAddr.hostname) ? null : DENIED_BYTES;
}

/**
 * Parses `yes` or `no`, as Redis's boolean configs do (any case).
 *
 * @param text The value given.
 * @returns The boolean, or `null` if it is neither word.
 */
export function parseYesNo(text: string): boolean | null {
  const word = text.toLowerCase();
  return word === "yes" ? true : word === "no" ? false : null;
}

/**
 * `CONFIG SET protected-mode yes|no`, with Redis's error for any other word.
 *
 * @param state The state the setting changes.
 * @returns The setter.
 */
export function protectedModeSetter(state: ProtectedModeState): ConfigSetter {
  return (value) => {
    const enabled = parseYesNo(value);
    if (enabled === null) return "argument must be 'yes' or 'no'";
    state.enabled = enabled;
    return null;
  };
}
