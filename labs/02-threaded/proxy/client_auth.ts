/**
 * `--requirepass` for the proxy's own clients: `AUTH` answered by the proxy, in Redis's words.
 *
 * A proxy in front of a password-protected server must not be the way around the password: the
 * upstream sees the proxy's connection, which has authenticated (`--upstream-password`), so the
 * proxy has to ask its own clients. It checks the password itself and never forwards `AUTH`: the
 * upstream connection is shared, and one client's `AUTH` would change it for every client.
 *
 * ```
 * PING                      -NOAUTH Authentication required.
 * AUTH wrong                -WRONGPASS invalid username-password pair or user is disabled.
 * AUTH hunter2              +OK           (or AUTH default hunter2)
 * HELLO 3 AUTH default hunter2            authenticates and says hello in one command
 * ```
 *
 * Lab 3 teaches `AUTH` properly (`labs/03-secure/auth.ts`), and lab 2 cannot import a later lab,
 * so this is the same idea kept small: the password is compared as SHA-256 digests with
 * `timingSafeEqual`, so the time a guess takes says nothing about how much of it was right; until
 * a client has authenticated its decoder holds it to Redis's limits for strangers (few and short
 * arguments: `UNAUTHENTICATED_LIMITS` in the shared decoder) and it may have little output
 * waiting; and a connection that sends
 * {@link MAX_AUTH_FAILURES} wrong passwords is answered, then closed, with one log line. One
 * simplification: before `AUTH`, a misspelt command gets `-NOAUTH` here, where Redis first says
 * it is unknown. Without TLS in front, the password crosses the network in the clear, as it does
 * to a Redis without TLS.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { helloVersion } from "../../../shared/commands/connection.ts";
import { byteStringToBytes } from "../../../shared/resp/bytes.ts";
import { err, ErrorReply, OK } from "../../../shared/resp/reply.ts";
import type { CommandHandler, CommandSpec } from "../../../shared/server/command_table.ts";
import type { Execute } from "../../../shared/server/hooks.ts";
import type { ClientState, Session } from "../../../shared/server/session.ts";

/** Redis's reply to a command sent before `AUTH`. */
export const NOAUTH: ErrorReply = new ErrorReply("NOAUTH Authentication required.");

/** Redis's reply to a wrong password, or a user other than `default`. */
export const WRONGPASS: ErrorReply = new ErrorReply(
  "WRONGPASS invalid username-password pair or user is disabled.",
);

/** Redis's reply to `AUTH password` when there is no password. */
export const NO_PASSWORD_CONFIGURED: ErrorReply = new ErrorReply(
  "ERR AUTH <password> called without any password configured for the default user. " +
    "Are you sure your configuration is correct?",
);

/** Redis 7.0's reply to `HELLO` before `AUTH`, without an `AUTH` option. */
const HELLO_NOAUTH = new ErrorReply(
  "NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP " +
    "protocol version at the same time",
);

/** Wrong passwords one connection may send; the next wrong one is answered, then it is closed. */
export const MAX_AUTH_FAILURES = 5;

/** Most bytes of replies a client that has not authenticated may have waiting. */
const UNAUTHENTICATED_OUTPUT_LIMIT = 16 * 1024;

/** Commands a client may send before `AUTH`, as in Redis (the `noauth` flag). */
const BEFORE_AUTH = new Set(["auth", "hello", "quit"]);

const DEFAULT_USER = "default";

function digest(byteString: string): Uint8Array {
  return createHash("sha256").update(byteStringToBytes(byteString)).digest();
}

/**
 * The proxy's password, if it has one, and the clients that have given it.
 *
 * @example
 * ```ts
 * const auth = new ProxyAuth("hunter2");
 * const execute = auth.gate(proxy.execute);  // runServer's execute hook
 * ```
 */
export class ProxyAuth {
  readonly #password: string | undefined;
  readonly #digest: Uint8Array | undefined;
  readonly #authenticated = new WeakSet<ClientState>();
  readonly #failures = new WeakMap<ClientState, number>();

  /**
   * Creates the gate.
   *
   * @param password The password as a byte string, or `undefined` for none.
   */
  constructor(password: string | undefined) {
    this.#password = password;
    this.#digest = password === undefined ? undefined : digest(password);
  }

  /** Whether clients must `AUTH` first. */
  get required(): boolean {
    return this.#digest !== undefined;
  }

  /** The password, for `CONFIG GET requirepass` (empty when there is none, as in Redis). */
  get configured(): string {
    return this.#password ?? "";
  }

  /**
   * Whether a client may run any command.
   *
   * @param client The client.
   * @returns `true` once it has authenticated, or always when there is no password.
   */
  isAuthenticated(client: ClientState): boolean {
    return this.#digest === undefined || this.#authenticated.has(client);
  }

  /**
   * Holds a new client to Redis's decoder limits for strangers: `runServer`'s `onConnect` hook.
   *
   * @param session The new client.
   */
  admit(session: Session): void {
    if (session.requestLimits !== undefined && this.required) {
      session.requestLimits.unauthenticated = true;
    }
  }

  /**
   * A small reply limit until the client has authenticated: `runServer`'s `outputLimit` hook.
   *
   * @param session The client.
   * @returns Its limit in bytes, or `undefined` for the server's.
   */
  outputLimit(session: Session): number | undefined {
    return this.isAuthenticated(session.client) ? undefined : UNAUTHENTICATED_OUTPUT_LIMIT;
  }

  /**
   * Wraps the proxy's command runner: before `AUTH`, only `AUTH`, `HELLO` and `QUIT` run.
   *
   * @param run The proxy's `execute`.
   * @returns The runner for `runServer`'s `execute` hook; `run` itself when there is no password.
   */
  gate(
    run: Execute,
  ): Execute {
    if (!this.required) return run;
    return (session, args) => {
      if (this.isAuthenticated(session.client) || BEFORE_AUTH.has(args[0].toLowerCase())) {
        return run(session, args);
      }
      session.client.lastInteraction = Date.now();
      return NOAUTH;
    };
  }

  /**
   * `AUTH`, and a `HELLO` that understands its `AUTH` option, for the proxy's own table.
   *
   * @param hello The proxy's `HELLO`, to wrap.
   * @returns The specs to register.
   */
  commands(hello: CommandSpec): CommandSpec[] {
    const sharedHello = hello.handler;
    if (sharedHello === undefined) throw new TypeError("Cannot wrap HELLO: it has no handler");
    return [
      {
        name: "auth",
        arity: -2,
        flags: ["noauth", "fast"],
        group: "connection",
        summary: "Authenticates the connection",
        arguments: [
          { name: "username", type: "string", flags: ["optional"] },
          { name: "password", type: "string" },
        ],
        handler: (session, args) => {
          if (args.length > 3) return err("syntax error");
          if (args.length === 2 && !this.required) return NO_PASSWORD_CONFIGURED;
          const [user, password] = args.length === 2 ? [DEFAULT_USER, args[1]] : [args[1], args[2]];
          return this.#login(session, user, password) ?? OK;
        },
      },
      { ...hello, handler: this.#hello(sharedHello) },
    ];
  }

  /** `HELLO [protover [AUTH user pass] ...]`: the password first, then the shared `HELLO`. */
  #hello(hello: CommandHandler): CommandHandler {
    return (session, args) => {
      if (args.length >= 2) {
        const version = helloVersion(args[1]);
        if (version instanceof ErrorReply) return version;
      }
      const at = args.findIndex((arg, i) => i >= 2 && arg.toLowerCase() === "auth");
      let rest = args;
      if (at >= 0) {
        if (at + 2 >= args.length) return err(`Syntax error in HELLO option '${args[at]}'`);
        const refused = this.#login(session, args[at + 1], args[at + 2]);
        if (refused !== undefined) return refused;
        rest = [...args.slice(0, at), ...args.slice(at + 3)];
      }
      if (!this.isAuthenticated(session.client)) return HELLO_NOAUTH;
      return hello(session, rest);
    };
  }

  /** Checks a user and password in constant time; `undefined` when they are right. */
  #login(session: Session, user: string, password: string): ErrorReply | undefined {
    // Both checks always run, so a wrong user name takes as long as a wrong password.
    const userOk = user === DEFAULT_USER;
    const passwordOk = this.#digest === undefined ||
      timingSafeEqual(digest(password), this.#digest);
    const { client } = session;
    if (userOk && passwordOk) {
      this.#authenticated.add(client);
      if (session.requestLimits !== undefined) session.requestLimits.unauthenticated = false;
      return undefined;
    }
    const failures = (this.#failures.get(client) ?? 0) + 1;
    this.#failures.set(client, failures);
    // One line per closed connection, never per guess, and never what was sent.
    if (failures >= MAX_AUTH_FAILURES && !this.#authenticated.has(client)) {
      client.closeAfterReply = true;
      session.server.log(
        `Client id=${client.id} addr=${client.addr} closed after ${failures} failed AUTH`,
      );
    }
    return WRONGPASS;
  }
}
