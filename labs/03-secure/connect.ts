/**
 * Connecting to lab 3's server from code: TCP, then the secure handshake (or TLS), then `AUTH` if
 * there is a password. The client library after that is lab 1's `RedisClient`, unchanged: it runs
 * over any {@link Transport}, and the channel is one.
 *
 * ```ts
 * const client = await connectLab3({
 *   host: "127.0.0.1",
 *   port: 6379,
 *   verifyServerKey: pinnedFingerprint("SHA256:..."),
 *   password: "hunter2",
 * });
 * await client.send("SET", "greeting", "hello");
 * ```
 *
 * @module
 */

import { RedisClient } from "../../shared/client/client.ts";
import { noDelay } from "../../shared/no_delay.ts";
import { ErrorReply } from "../../shared/resp/reply.ts";
import type { Transport } from "../../shared/transport.ts";
import { type ClientChannelOptions, connectSecure } from "./channel/mod.ts";
import { tlsTransport } from "./tls.ts";

/** How to reach a lab 3 server and decide whether to trust it. */
export interface Lab3ConnectOptions {
  /** Host name or address (default `127.0.0.1`). */
  host?: string;
  /** TCP port (default 6379). */
  port?: number;
  /**
   * Secure channel: decides whether the server's identity key is the one this client trusts, and
   * throws if not (a known-hosts file, a pinned fingerprint). Required unless {@link tls} is set.
   */
  verifyServerKey?: ClientChannelOptions["verifyServerKey"];
  /** Standard TLS instead of the channel, trusting these CA certificates (PEM). */
  tls?: { caCerts?: string[] };
  /** `--trace`: gets lines showing each frame before and after encryption. */
  trace?: (line: string) => void;
  /** Give up on a handshake that has not finished by then (default 5000 ms). */
  handshakeTimeoutMs?: number;
}

/**
 * Opens a connection to a lab 3 server and runs the handshake.
 *
 * @param options Where, and how to check the server.
 * @returns A transport that reads and writes plaintext; only ciphertext crosses the wire.
 * @throws {Error} When the server cannot be reached, the handshake fails, or the server's key is
 *   refused. Nothing has been sent but the handshake.
 */
export async function openLab3Transport(options: Lab3ConnectOptions): Promise<Transport> {
  const hostname = options.host ?? "127.0.0.1";
  const port = options.port ?? 6379;
  if (options.tls !== undefined) {
    const conn = await Deno.connectTls({ hostname, port, caCerts: options.tls.caCerts });
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return tlsTransport(conn);
  }
  if (options.verifyServerKey === undefined) {
    throw new TypeError("Cannot connect securely without a way to verify the server's key");
  }
  // Small records should leave at once: a command waits for its reply (see shared/no_delay.ts).
  const conn = noDelay(await Deno.connect({ hostname, port }));
  try {
    return await connectSecure(conn, {
      verifyServerKey: options.verifyServerKey,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      trace: options.trace,
    });
  } catch (error) {
    try {
      conn.close();
    } catch {
      // the channel closed it already
    }
    throw error;
  }
}

/**
 * Connects to a lab 3 server and, if given a password, authenticates.
 *
 * @param options Where, how to check the server, and the password.
 * @returns A client whose commands travel encrypted.
 * @throws {Error} As {@link openLab3Transport}; and {@link AuthError} when the password is
 *   refused (the connection is closed first).
 */
export async function connectLab3(
  options: Lab3ConnectOptions & { password?: string; user?: string },
): Promise<RedisClient> {
  const client = RedisClient.over(await openLab3Transport(options));
  if (options.password !== undefined) {
    const refused = await authenticate(client, options.password, options.user);
    if (refused !== undefined) {
      await client.close();
      throw new AuthError(refused);
    }
  }
  return client;
}

/**
 * Sends `AUTH [user] password`.
 *
 * @param client A connected client.
 * @param password The password.
 * @param user The user name; leave it out for `AUTH password`, as `redis-cli -a` sends it.
 * @returns `undefined` when the server accepted it, else its error reply.
 */
export async function authenticate(
  client: RedisClient,
  password: string,
  user?: string,
): Promise<ErrorReply | undefined> {
  const reply = user === undefined
    ? await client.send("AUTH", password)
    : await client.send("AUTH", user, password);
  return reply instanceof ErrorReply ? reply : undefined;
}

/** The server refused the password. */
export class AuthError extends Error {
  /** The server's reply, such as `WRONGPASS invalid username-password pair ...`. */
  readonly reply: ErrorReply;

  /**
   * Wraps the server's refusal.
   *
   * @param reply The server's error reply.
   */
  constructor(reply: ErrorReply) {
    super(`AUTH failed: ${reply.message}`);
    this.name = "AuthError";
    this.reply = reply;
  }
}
