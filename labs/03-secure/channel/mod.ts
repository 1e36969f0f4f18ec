/**
 * Lab 3's secure channel: what a server and a client put between the socket and RESP so that
 * nothing readable crosses the network.
 *
 * | file                 | what it holds                                                        |
 * | -------------------- | -------------------------------------------------------------------- |
 * | `handshake.ts`       | the handshake, with every message's exact bytes and why it is signed |
 * | `records.ts`         | the record formats: AES-256-GCM, ChaCha20-Poly1305, Fernet           |
 * | `aead.ts`            | who computes AES-GCM and ChaCha20: `node:crypto` or OpenSSL          |
 * | `openssl.ts`         | the system's OpenSSL through FFI, and why it is worth it             |
 * | `channel.ts`         | `acceptSecure`, `connectSecure`, and the channel as a `Transport`    |
 * | `identity.ts`        | the server's Ed25519 identity key and its fingerprint                |
 * | `known_hosts.ts`     | trust on first use and pinning, as SSH does them                     |
 * | `fernet.ts`          | Fernet tokens, checked against the specification's vectors           |
 * | `byte_reader.ts`     | the read buffer the handshake and the records share                  |
 * | `hex_dump.ts`        | `--trace` output                                                     |
 * | `errors.ts`          | why a connection ended                                               |
 * | `channel_testing.ts` | test fixtures: an echo server, a tampering transport, a relay        |
 *
 * Server:
 *
 * ```ts
 * const identity = await loadOrCreateIdentity("data");
 * console.log(`identity key ${identity.fingerprint}`);
 * await runServer(server, listener, {
 *   ...limits,
 *   hooks: { upgrade: (conn) => acceptSecure(conn, { identity }) },
 * });
 * ```
 *
 * Client:
 *
 * ```ts
 * const knownHosts = await KnownHosts.open(path);
 * const conn = await Deno.connect({ hostname, port });
 * const channel = await connectSecure(conn, {
 *   verifyServerKey: knownHosts.verifier(`${hostname}:${port}`, console.error),
 * });
 * ```
 *
 * @module
 */

export {
  acceptSecure,
  type ClientChannelOptions,
  connectSecure,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_RECORD_SIZE,
  SEAL_SLICE,
  type SecureChannel,
  type ServerChannelOptions,
} from "./channel.ts";
export {
  type AeadLibrary,
  aeadLibrary,
  CRYPTO_CHOICES,
  type CryptoChoice,
  describeAeadLibrary,
} from "./aead.ts";
export {
  ChannelError,
  type ChannelFailure,
  HandshakeError,
  type HandshakeFailure,
  RecordError,
  type RecordFailure,
  ServerKeyRejectedError,
} from "./errors.ts";
export {
  Fernet,
  FernetError,
  type FernetFailure,
  type FernetGenerateOptions,
  type FernetVerifyOptions,
} from "./fernet.ts";
export { type CipherName, MAGIC, PLAINTEXT_CLIENT_REPLY, PROTOCOL_VERSION } from "./handshake.ts";
export { hexDump, type HexDumpOptions } from "./hex_dump.ts";
export {
  fingerprintOf,
  generateIdentity,
  type Identity,
  IDENTITY_FILE,
  loadOrCreateIdentity,
} from "./identity.ts";
export {
  HostKeyChangedError,
  hostKeyName,
  type KnownHostEntry,
  KnownHosts,
  parseFingerprint,
  pinnedFingerprint,
  type VerifyOutcome,
  type VerifyServerKey,
} from "./known_hosts.ts";
export { AES_GCM_RECORD_LIMIT, RECORD_LIMIT, recordLimitFor } from "./records.ts";
export type { Transport } from "../../../shared/transport.ts";
