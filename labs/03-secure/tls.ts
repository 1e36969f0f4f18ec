/**
 * Standard TLS, the production answer to "nothing readable on the wire": what `redis-server
 * --tls-port` speaks and `redis-cli --tls` talks to. Deno's `listenTls` and `connectTls` do the
 * work (rustls inside the runtime); this file adds what the server and client around them need.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Transport } from "../../shared/transport.ts";

/**
 * Waits for a server-side TLS handshake to finish, for at most `timeoutMs`.
 *
 * Deno runs the handshake lazily, on the first read or write. Running it here, in the `upgrade`
 * hook, means a client that is not speaking TLS (say `redis-cli` without `--tls`) fails before it
 * becomes a client, and the log says why.
 *
 * @param conn An accepted TLS connection.
 * @param timeoutMs The limit.
 * @returns The same connection, now with its keys agreed.
 * @throws {Error} When the handshake fails or takes too long; the caller closes the connection.
 */
export async function tlsHandshake(conn: Deno.TlsConn, timeoutMs: number): Promise<Deno.TlsConn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`TLS handshake not finished after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([conn.handshake(), late]);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`TLS handshake failed: ${reason.replace(/ \(os error \d+\)$/, "")}`);
  } finally {
    clearTimeout(timer);
  }
  return conn;
}

/**
 * Wraps a TLS connection so that a peer that hangs up without TLS's goodbye (`close_notify`) reads
 * as an ordinary end of stream.
 *
 * `redis-cli` and most clients just close the socket when they are done. rustls reports that as
 * `UnexpectedEof`, because for a protocol whose messages have no length, such as old HTTP, a cut
 * connection could pass a truncated message off as a whole one. RESP frames carry their own
 * lengths, so a cut mid-command is still noticed (the command never completes), and Redis treats
 * this case as a normal disconnect too.
 *
 * @param conn The TLS connection, handshake done.
 * @returns A transport over it.
 */
export function tlsTransport(conn: Deno.TlsConn): Transport {
  return {
    read: async (buffer) => {
      try {
        return await conn.read(buffer);
      } catch (error) {
        if (error instanceof Deno.errors.UnexpectedEof) return null;
        throw error;
      }
    },
    write: (data) => conn.write(data),
    close: () => conn.close(),
  };
}

/**
 * The SHA-256 fingerprint of a PEM certificate, in the form `openssl x509 -noout -fingerprint
 * -sha256` prints it, so a user can compare the two character for character.
 *
 * @param pem The certificate (the first one, if the file holds a chain).
 * @returns Such as `sha256 Fingerprint=3A:1F:...`.
 * @throws {SyntaxError} When there is no PEM certificate in the text.
 */
export function certificateFingerprint(pem: string): string {
  const match = pem.match(
    /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/,
  );
  if (match === null) throw new SyntaxError("Cannot read certificate: no PEM CERTIFICATE block");
  const der = Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  const hex = createHash("sha256").update(der).digest("hex").toUpperCase();
  return `sha256 Fingerprint=${hex.match(/../g)?.join(":")}`;
}
