/**
 * `--requirepass` and `AUTH`: a password every client must give before its commands run.
 *
 * Redis's rules, which this module reproduces word for word (`auth_test.ts` checks them against a
 * real `redis-server --requirepass`):
 *
 * ```
 * PING                      -NOAUTH Authentication required.
 * AUTH wrong                -WRONGPASS invalid username-password pair or user is disabled.
 * AUTH hunter2              +OK           (or AUTH default hunter2: the user is always "default")
 * HELLO 2 AUTH default hunter2            authenticates and says hello in one command
 * ```
 *
 * Before `AUTH`, only commands flagged `noauth` run (`AUTH`, `HELLO`, `QUIT`). A misspelt command
 * or a wrong number of arguments still gets its usual error, because Redis checks those first.
 *
 * Three things matter more than the texts:
 *
 * - **Constant time.** `a === b` on strings stops at the first byte that differs, so how long a
 *   wrong guess takes says how much of it was right, and an attacker with a stopwatch can find
 *   the password a byte at a time. We compare the SHA-256 digests of both with
 *   `crypto.timingSafeEqual`, which looks at every byte whatever it finds. Comparing digests
 *   rather than the passwords themselves also hides the password's length: both digests are
 *   always 32 bytes.
 * - **Secrets stay out of the log.** A failed `AUTH` is logged with the client's address, never
 *   with what it sent.
 * - **Little for a stranger to spend.** Until a client has authenticated, its decoder holds it to
 *   Redis's limits for such clients (10 arguments, 16 KiB each; `UNAUTHENTICATED_LIMITS` in the
 *   shared decoder), so it cannot make the server buffer megabytes it will never run.
 * - **Replies are rationed too.** A stranger's commands can only be refused, but a refusal is
 *   still a reply to encrypt and send: one with more than {@link UNAUTHENTICATED_OUTPUT_LIMIT}
 *   bytes of them waiting is disconnected.
 * - **Guessing is slow and quiet.** After {@link MAX_AUTH_FAILURES} wrong passwords one
 *   connection is closed (Redis has no such limit). A new connection costs a new handshake, an
 *   X25519 exchange and an Ed25519 signature on the server, so guesses per second are bounded by
 *   handshakes per second instead of by how fast `AUTH` runs. And an attacker who guesses all day
 *   must not fill the disk with one log line per guess: the first failure in each
 *   {@link AUTH_LOG_WINDOW_MS} is logged, the rest are counted and summed up in the next line.
 * - **The wire.** A password sent in the clear is a password given away (see the lesson). In this
 *   lab `AUTH` travels inside the encrypted channel, or inside TLS.
 *
 * The gate is lab 2's `dispatch` wrapped in one check, passed to `runServer` as its `execute` hook.
 * Whether a client has authenticated is kept beside the client in a `WeakSet`, the way lab 2 keeps
 * transactions: it is this lab's concept, so it does not belong in the shared `ClientState`.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { byteStringToBytes } from "../../shared/resp/bytes.ts";
import { err, ErrorReply, OK } from "../../shared/resp/reply.ts";
import type { CommandHandler, CommandSpec } from "../../shared/server/command_table.ts";
import type { ClientState, Session } from "../../shared/server/session.ts";
import { helloVersion } from "../../shared/commands/connection.ts";
import { resolveCommand } from "../01-single-client/connection.ts";
import { dispatch } from "../02-threaded/transaction.ts";
import type { Execute } from "../../shared/server/hooks.ts";
import type { Stage } from "../../shared/server/stage.ts";

/** Redis's reply to a command sent before `AUTH`. */
export const NOAUTH: ErrorReply = new ErrorReply("NOAUTH Authentication required.");

/** Redis's reply to a wrong password (or a user other than `default`). */
export const WRONGPASS: ErrorReply = new ErrorReply(
  "WRONGPASS invalid username-password pair or user is disabled.",
);

/** Redis's reply to `AUTH password` when the server has no password. */
export const NO_PASSWORD_CONFIGURED: ErrorReply = new ErrorReply(
  "ERR AUTH <password> called without any password configured for the default user. " +
    "Are you sure your configuration is correct?",
);

/** Redis 7.0's reply to `HELLO` before `AUTH`, without an `AUTH` option. */
export const HELLO_NOAUTH: ErrorReply = new ErrorReply(
  "NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP " +
    "protocol version at the same time",
);

/** Wrong passwords one connection may send; the next wrong one is answered, then it is closed. */
export const MAX_AUTH_FAILURES = 5;

/**
 * Most bytes of replies a client that has not authenticated may have waiting; past it, it is
 * disconnected. Its commands can only be refused, so a pipeline that earns more than this many
 * refusals is an attacker making the server seal and send replies for free.
 */
export const UNAUTHENTICATED_OUTPUT_LIMIT = 16 * 1024;

/** At most one line about failed `AUTH` per this many milliseconds; the others are counted. */
export const AUTH_LOG_WINDOW_MS = 10_000;

/** The only user this server has, as in a Redis configured with nothing but `requirepass`. */
const DEFAULT_USER = "default";

/** SHA-256 of a byte string: always 32 bytes, whatever the input's length. */
function digest(byteString: string): Uint8Array {
  return createHash("sha256").update(byteStringToBytes(byteString)).digest();
}

/**
 * The server's password, if it has one, and the clients that have given it.
 *
 * @example
 * ```ts
 * const auth = new PasswordGate("hunter2");
 * auth.matches("hunter2"); // true
 * auth.matches("hunter");  // false, after exactly the same work
 * ```
 */
export class PasswordGate {
  /** Only the digest is compared; the password itself is kept for `CONFIG GET requirepass`. */
  readonly #password: string | undefined;
  readonly #digest: Uint8Array | undefined;
  readonly #authenticated = new WeakSet<ClientState>();
  /** Wrong passwords per client; only clients that have sent one are here. */
  readonly #failures = new WeakMap<ClientState, number>();
  /** When the last line about failed `AUTH` was written, and how many failures it has not told. */
  #loggedAt = -Infinity;
  #unlogged = 0;
  #unloggedClosed = 0;
  readonly #now: () => number;

  /**
   * Creates the gate.
   *
   * @param password The password as a byte string, or `undefined` for none (every client may run
   *   every command, as in Redis without `requirepass`).
   * @param options `now`: the clock for the log's summaries, so tests need not wait.
   */
  constructor(password: string | undefined, options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
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
   * Checks a candidate password in constant time.
   *
   * @param candidate What the client sent, as a byte string.
   * @returns `true` if it is the password; always `true` when none is configured.
   */
  matches(candidate: string): boolean {
    if (this.#digest === undefined) return true;
    // exercise step 6: compare SHA-256 digests with timingSafeEqual, never the strings with ===
    return timingSafeEqual(digest(candidate), this.#digest);
    // exercise starter: throw new NotImplementedError(6, "check the password in constant time");
  }

  /**
   * Whether a client may run any command.
   *
   * @param client The client.
   * @returns `true` once it has authenticated, or always when no password is configured.
   */
  isAuthenticated(client: ClientState): boolean {
    return this.#digest === undefined || this.#authenticated.has(client);
  }

  /**
   * Holds a newly connected client to Redis's limits for clients that have not authenticated, if
   * a password is required. The server calls it (as `runServer`'s `onConnect` hook) before it
   * reads the client's first byte; {@link login} lifts the limits.
   *
   * @param session The new client.
   */
  admit(session: Session): void {
    if (session.requestLimits !== undefined && this.required) {
      session.requestLimits.unauthenticated = true;
    }
  }

  /**
   * The reply limit for a client: {@link UNAUTHENTICATED_OUTPUT_LIMIT} until it has
   * authenticated, then the server's own (`undefined`). The server's `outputLimit` hook.
   *
   * @param session The client.
   * @returns Its limit in bytes, or `undefined` for the server's.
   */
  outputLimit(session: Session): number | undefined {
    return this.isAuthenticated(session.client) ? undefined : UNAUTHENTICATED_OUTPUT_LIMIT;
  }

  /**
   * Checks `user` and `password` and, if they are right, lets the client in.
   *
   * @returns `undefined` on success, else the reply to send. A wrong password leaves a client that
   *   had already authenticated still authenticated, as in Redis.
   */
  login(session: Session, user: string, password: string): ErrorReply | undefined {
    // Both checks always run, so a wrong user name takes as long as a wrong password.
    const userOk = user === DEFAULT_USER;
    const passwordOk = this.matches(password);
    const { client } = session;
    if (userOk && passwordOk) {
      // exercise step 6: let the client in: remember it in #authenticated, and lift the request limits of a client that has not authenticated (session.requestLimits)
      this.#authenticated.add(client);
      if (session.requestLimits !== undefined) session.requestLimits.unauthenticated = false;
      return undefined;
      // exercise starter: throw new NotImplementedError(6, "let an authenticated client in");
    }
    const failures = (this.#failures.get(client) ?? 0) + 1;
    this.#failures.set(client, failures);
    // Only a client still locked out is cut off: one that has authenticated already has the
    // password, and in Redis a wrong AUTH leaves it authenticated.
    const closing = failures >= MAX_AUTH_FAILURES && !this.#authenticated.has(client);
    if (closing) client.closeAfterReply = true;
    this.#logFailure(session, closing ? failures : 0);
    return WRONGPASS;
  }

  /**
   * Logs a failed `AUTH`, or counts it for the next line when one was written less than
   * {@link AUTH_LOG_WINDOW_MS} ago. The address says who; what they sent stays out of the log.
   */
  #logFailure({ client, server }: Session, closedAfter: number): void {
    this.#unlogged++;
    if (closedAfter > 0) this.#unloggedClosed++;
    const now = this.#now();
    if (now - this.#loggedAt < AUTH_LOG_WINDOW_MS) return;
    const earlier = this.#unlogged - 1;
    const closed = this.#unloggedClosed - (closedAfter > 0 ? 1 : 0);
    server.log(
      `Client id=${client.id} addr=${client.addr} failed AUTH: wrong user name or password` +
        (closedAfter > 0 ? `; closing it after ${closedAfter} failures` : "") +
        (earlier > 0
          ? ` (and ${earlier} more failed AUTH since the last such line, ${closed} ` +
            "connections closed for it)"
          : ""),
    );
    this.#loggedAt = now;
    this.#unlogged = 0;
    this.#unloggedClosed = 0;
  }
}

/** `AUTH [username] password`. */
function authHandler(gate: PasswordGate): CommandHandler {
  return (session, args) => {
    if (args.length > 3) return err("syntax error");
    if (args.length === 2 && !gate.required) return NO_PASSWORD_CONFIGURED;
    const [user, password] = args.length === 2 ? [DEFAULT_USER, args[1]] : [args[1], args[2]];
    return gate.login(session, user, password) ?? OK;
  };
}

/** Redis refuses names with spaces or control characters: they would break `CLIENT LIST`. */
function isPrintableWord(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/**
 * `HELLO [protover [AUTH user pass] [SETNAME name]]` with a password: the shared `HELLO` does the
 * talking, this wrapper decides whether the client may hear it. The order of checks is Redis's:
 * protocol version, then option syntax, then the password, then "are you authenticated?".
 */
function helloHandler(gate: PasswordGate, hello: CommandHandler): CommandHandler {
  return (session, args) => {
    if (args.length >= 2) {
      // The version is judged first, and nothing is switched until the password is dealt with.
      const version = helloVersion(args[1]);
      if (version instanceof ErrorReply) return version;
    }
    let credentials: [string, string] | undefined;
    const rest: string[] = args.slice(0, 2);
    for (let i = 2; i < args.length; i++) {
      const option = args[i].toLowerCase();
      const left = args.length - i - 1;
      if (option === "auth" && left >= 2) {
        credentials = [args[i + 1], args[i + 2]];
        i += 2;
      } else if (option === "setname" && left >= 1) {
        if (!isPrintableWord(args[i + 1])) {
          return err("Client names cannot contain spaces, newlines or special characters.");
        }
        rest.push(args[i], args[i + 1]);
        i += 1;
      } else {
        return err(`Syntax error in HELLO option '${args[i]}'`);
      }
    }
    if (credentials !== undefined) {
      const refused = gate.login(session, ...credentials);
      if (refused) return refused;
    }
    if (!gate.isAuthenticated(session.client)) return HELLO_NOAUTH;
    // The password has been dealt with; the shared HELLO sees only what is left.
    return hello(session, rest);
  };
}

/**
 * The commands this lab adds or changes: `AUTH`, and a `HELLO` that understands its `AUTH`
 * option.
 *
 * @param gate The password.
 * @param hello The `HELLO` handler to wrap (the shared one, from the lab 2 command table).
 * @returns Command specs to register.
 */
export function authCommands(gate: PasswordGate, hello: CommandSpec): CommandSpec[] {
  const sharedHello = hello.handler;
  if (sharedHello === undefined) throw new TypeError("Cannot wrap HELLO: it has no handler");
  return [
    {
      name: "auth",
      arity: -2,
      // noauth: the one command that must run before authentication.
      flags: ["noauth", "fast", "loading"],
      group: "connection",
      summary: "Authenticates the connection",
      arguments: [
        { name: "username", type: "string", flags: ["optional"] },
        { name: "password", type: "string" },
      ],
      handler: authHandler(gate),
    },
    { ...hello, handler: helloHandler(gate, sharedHello) },
  ];
}

/**
 * Wraps a command runner so that, while a password is required, a client that has not
 * authenticated can run only `noauth` commands; anything else is answered `-NOAUTH`.
 *
 * @param gate The password.
 * @param run What runs an allowed command; lab 2's transaction-aware `dispatch` by default.
 * @returns The runner to pass as `runServer`'s `execute` hook.
 */
export function authGate(
  gate: PasswordGate,
  run: Execute = dispatch,
): Execute {
  // Without a password there is nothing to check: hand back lab 2's runner untouched.
  if (!gate.required) return run;
  return (session, args) => {
    // exercise step 6: an authenticated client's command runs; before AUTH, only an unknown command, a wrong arity (their usual errors) or a noauth command runs: anything else is counted as rejected and answered NOAUTH
    // The hot path, once a client has authenticated: one WeakSet lookup per command.
    if (gate.isAuthenticated(session.client)) return run(session, args);
    const spec = resolveCommand(session.server.commands, args);
    // An unknown command or a wrong arity gets its usual error: Redis checks those before AUTH.
    if (spec instanceof ErrorReply || spec.flags.includes("noauth")) return run(session, args);
    session.client.lastInteraction = Date.now();
    // Refused before it runs: INFO commandstats counts it as rejected_calls, as Redis does.
    session.server.commandStats.of(spec).rejected++;
    return NOAUTH;
    // exercise starter: return run(session, args);
  };
}

/**
 * The stage: `AUTH`, `HELLO … AUTH`, `CONFIG GET requirepass`, and, with a password, every
 * command refused until the client has given it, with Redis's limits on what it may send and
 * receive before then.
 */
export const auth: Stage<{ requirepass: string | undefined }> = {
  name: "auth",
  module: import.meta.url,
  install(assembly) {
    const gate = new PasswordGate(assembly.options.requirepass);
    const hello = assembly.commands.get("hello");
    if (hello === undefined) throw new TypeError("Cannot add AUTH: the table has no HELLO");
    assembly.commands.registerAll(authCommands(gate, hello));
    // Redis answers CONFIG GET requirepass with the password, to a client that has given it.
    assembly.server.config.define("requirepass", () => gate.configured);
    assembly.wrapExecute((run) => authGate(gate, run));
    assembly.hasPassword = () => gate.required;
    if (gate.required) {
      assembly.onConnect = (session) => gate.admit(session);
      assembly.outputLimit = (session) => gate.outputLimit(session);
    }
  },
};
