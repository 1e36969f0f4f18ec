/**
 * Lab 3's stage in front of lab 2's loop: each accepted connection is upgraded before its first
 * command, by the hand-built secure channel (`channel/`) or, with `--tls-cert` and `--tls-key`,
 * by standard TLS.
 *
 * ```
 * socket ─▶ upgrade: handshake, then records ─▶ lab 2's loop ─▶ commands
 * ```
 *
 * `upgrade` turns each accepted TCP connection into a {@link Transport} that reads and writes
 * plaintext while the wire carries only encrypted records. Until its handshake is done, a
 * connection is not a client: it runs no command, and if the handshake fails or takes longer than
 * `--handshake-timeout`, it is closed and the log says why.
 *
 * @module
 */

import type { Peer } from "../../shared/server/peer.ts";
import type { Stage } from "../../shared/server/stage.ts";
import type { Transport } from "../../shared/transport.ts";
import {
  acceptSecure,
  aeadLibrary,
  describeAeadLibrary,
  loadOrCreateIdentity,
} from "./channel/mod.ts";
import type { Lab3Options } from "./cli.ts";
import { certificateFingerprint, tlsHandshake, tlsTransport } from "./tls.ts";
import { Tracer } from "./trace.ts";

/**
 * The stage. It prints the server's identity (or the certificate's fingerprint) before the
 * listening line, so a user can compare it with what a client shows.
 */
export const secureChannel: Stage<Lab3Options> = {
  name: "secure channel",
  module: import.meta.url,
  when: (options) => options.secure || options.tls !== undefined,
  async install(assembly) {
    const { options, server } = assembly;
    const { host: hostname, port, handshakeTimeoutMs } = options;
    const tracer = new Tracer({ enabled: options.trace, secret: options.requirepass });
    if (options.tls !== undefined) {
      const cert = await Deno.readTextFile(options.tls.certFile);
      const key = await Deno.readTextFile(options.tls.keyFile);
      console.log(`tls certificate: ${certificateFingerprint(cert)}`);
      assembly.listen = () => Deno.listenTls({ hostname, port, cert, key });
      assembly.upgrade = async (conn: Deno.Conn, peer: Peer): Promise<Transport> => {
        const tls = tlsTransport(await tlsHandshake(conn as Deno.TlsConn, handshakeTimeoutMs));
        // TLS hides its records inside the runtime, so the trace sees plaintext only.
        return tracer.enabled ? tracer.wrapPlaintext(tls, peer.remote) : tls;
      };
      return;
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
    assembly.upgrade = (conn: Deno.Conn, peer: Peer) =>
      acceptSecure(conn, {
        identity,
        cipher: options.cipher,
        crypto,
        handshakeTimeoutMs,
        trace: tracer.enabled ? tracer.sink(peer.remote) : undefined,
      });
  },
};
