/**
 * Lab 3's server: lab 2's server with a secure channel in front of it.
 *
 * Run it with `deno task lab3` (add `--port 0` for any free port, `--help` for every flag).
 *
 * Nothing of lab 2 is copied. Lab 2's `runServer` takes hooks, and this lab fills two of them:
 *
 * ```
 * socket ─▶ upgrade: handshake, then records ─▶ lab 2's loop ─▶ execute: AUTH gate ─▶ dispatch
 * ```
 *
 * - `upgrade` turns each accepted TCP connection into a {@link Transport} that reads and writes
 *   plaintext while the wire carries only encrypted records (`channel/`). Until its handshake is
 *   done, a connection is not a client: it runs no command, and if the handshake fails or takes
 *   longer than `--handshake-timeout`, it is closed and the log says why.
 * - `execute` wraps lab 2's `dispatch` in the password check (`auth.ts`).
 *
 * With `--tls-cert` and `--tls-key` the listener speaks standard TLS instead, and `upgrade` only
 * waits for the TLS handshake; everything after it is the same.
 *
 * @module
 */

import { ServerState } from "../../shared/server/server_state.ts";
import type { Peer } from "../../shared/server/connection.ts";
import type { CommandTable } from "../../shared/server/command_table.ts";
import type { Transport } from "../../shared/transport.ts";
import { lab2CommandTable, runServer, type ServerHooks } from "../02-threaded/server.ts";
import { WatchedKeyspace } from "../02-threaded/watched_keyspace.ts";
import { authCommands, authGate, PasswordGate } from "./auth.ts";
import {
  acceptSecure,
  aeadLibrary,
  describeAeadLibrary,
  loadOrCreateIdentity,
} from "./channel/mod.ts";
import { type Lab3Options, parseLab3Args } from "./cli.ts";
import { certificateFingerprint, tlsHandshake, tlsTransport } from "./tls.ts";
import { Tracer } from "./trace.ts";

/**
 * Builds lab 3's command table: lab 2's, plus `AUTH`, with `HELLO` taught its `AUTH` option.
 *
 * @param gate The password, if any.
 * @returns The table.
 */
export function lab3CommandTable(gate: PasswordGate): CommandTable {
  const table = lab2CommandTable();
  const hello = table.get("hello");
  if (hello === undefined) throw new TypeError("Cannot add AUTH: lab 2's table has no HELLO");
  return table.registerAll(authCommands(gate, hello));
}

/**
 * Builds lab 3's server state: lab 2's keyspace and commands, `AUTH`, and `requirepass` in
 * `CONFIG GET`.
 *
 * @param gate The password, if any.
 * @returns The state, ready for `runServer`.
 */
export function lab3ServerState(gate: PasswordGate): ServerState {
  const server = new ServerState({ commands: lab3CommandTable(gate), db: new WatchedKeyspace() });
  // Redis answers CONFIG GET requirepass with the password, to a client that has given it.
  server.config.define("requirepass", () => gate.configured);
  return server;
}

/**
 * Starts listening and works out how each connection is upgraded: TLS, or the secure channel
 * with this server's identity. Prints the identity (or the certificate's fingerprint) first, so a
 * user can compare it with what a client shows.
 */
async function listen(
  server: ServerState,
  options: Lab3Options,
  tracer: Tracer,
): Promise<{ listener: Deno.Listener; upgrade: NonNullable<ServerHooks["upgrade"]> }> {
  const { host: hostname, port, handshakeTimeoutMs } = options;
  if (options.tls !== undefined) {
    const cert = await Deno.readTextFile(options.tls.certFile);
    const key = await Deno.readTextFile(options.tls.keyFile);
    console.log(`tls certificate: ${certificateFingerprint(cert)}`);
    const listener = Deno.listenTls({ hostname, port, cert, key });
    return {
      listener,
      upgrade: async (conn: Deno.Conn, peer: Peer): Promise<Transport> => {
        const tls = tlsTransport(await tlsHandshake(conn as Deno.TlsConn, handshakeTimeoutMs));
        // TLS hides its records inside the runtime, so the trace sees plaintext only.
        return tracer.enabled ? tracer.wrapPlaintext(tls, peer.remote) : tls;
      },
    };
  }
  const identity = await loadOrCreateIdentity(options.dir);
  console.log(`server identity: ${identity.fingerprint}`);
  const crypto = aeadLibrary(options.crypto);
  server.log(
    `Secure channel: ${options.cipher} records` +
      (options.cipher === "fernet" ? "" : ` sealed by ${describeAeadLibrary(crypto)}`) + "; " +
      (identity.created ? "created a new identity key" : "identity key") +
      ` in ${identity.keyFile ?? options.dir}`,
  );
  const listener = Deno.listen({ hostname, port });
  return {
    listener,
    upgrade: (conn: Deno.Conn, peer: Peer) =>
      acceptSecure(conn, {
        identity,
        cipher: options.cipher,
        crypto,
        handshakeTimeoutMs,
        trace: tracer.enabled ? tracer.sink(peer.remote) : undefined,
      }),
  };
}

if (import.meta.main) {
  const options = parseLab3Args(Deno.args);
  const gate = new PasswordGate(options.requirepass);
  const server = lab3ServerState(gate);
  const tracer = new Tracer({ enabled: options.trace, secret: options.requirepass });
  let listening;
  try {
    listening = await listen(server, options, tracer);
  } catch (error) {
    console.error(`Cannot start: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
  await runServer(server, listening.listener, {
    ...options,
    hooks: {
      upgrade: listening.upgrade,
      execute: authGate(gate),
      onConnect: (session) => gate.admit(session),
      outputLimit: (session) => gate.outputLimit(session),
      // With a password, protected mode lets clients from other machines in: AUTH guards them.
      hasPassword: () => gate.required,
    },
  });
}
