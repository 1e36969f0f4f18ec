/**
 * Why a secure connection ended: one error class per stage, each carrying a machine-readable
 * reason, so the server can log a precise line and a test can check that the right alarm went off.
 *
 * ```ts
 * try {
 *   await channel.read(buffer);
 * } catch (error) {
 *   if (error instanceof RecordError && error.reason === "replayed-record") …
 * }
 * ```
 *
 * @module
 */

/** What went wrong during the handshake. */
export type HandshakeFailure =
  /** The first bytes from the client were not the secure channel's magic (plain RESP, say). */
  | "plaintext-client"
  /** The server answered the ClientHello with something that is not a ServerHello. */
  | "not-secure-server"
  /** The handshake did not finish within `handshakeTimeoutMs`. */
  | "handshake-timeout"
  /** A message was malformed, of the wrong type, or too long. */
  | "bad-handshake"
  /** The peer speaks another version of the protocol. */
  | "unsupported-version"
  /** The client offers no record format the server is configured for. */
  | "no-common-cipher"
  /** The ServerHello's Ed25519 signature does not verify: tampered, or a forged identity. */
  | "bad-signature"
  /** The client refused the server's identity key (known-hosts mismatch, wrong pinned key). */
  | "server-key-rejected"
  /** A Finished message's MAC is wrong: the two sides did not derive the same keys. */
  | "bad-finished"
  /** The peer sent an alert and gave up. */
  | "peer-alert";

/** What went wrong with a record once the channel was up. */
export type RecordFailure =
  /** The tag (GCM) or HMAC (Fernet) does not verify: a flipped bit, or a forged record. */
  | "bad-record-mac"
  /** A record with a sequence number already seen: someone sent it again. */
  | "replayed-record"
  /** A record with a sequence number from the future: one was dropped or records were swapped. */
  | "reordered-record"
  /** The stream ended in the middle of a record. */
  | "truncated-record"
  /** A header announced more bytes than this side accepts in one record. */
  | "record-too-large"
  /** A record that cannot be parsed (shorter than its tag, not base64url, …). */
  | "malformed-record"
  /** This direction has sent as many records as its counter allows; it must close, not wrap. */
  | "sequence-exhausted";

/** Every reason a channel can give. */
export type ChannelFailure = HandshakeFailure | RecordFailure;

/** Base class for everything that ends a secure connection on purpose. */
export class ChannelError extends Error {
  /** Why, as a stable code a program can test. */
  readonly reason: ChannelFailure;

  /**
   * Makes an error with a reason code and a sentence for people.
   *
   * @param reason The code.
   * @param message What happened, for the log.
   */
  constructor(reason: ChannelFailure, message: string) {
    super(message);
    this.reason = reason;
    this.name = "ChannelError";
  }
}

/** The handshake failed; no command was sent or run. */
export class HandshakeError extends ChannelError {
  /** The handshake-stage reason. */
  declare readonly reason: HandshakeFailure;

  /**
   * Makes a handshake error.
   *
   * @param reason The code.
   * @param message What happened, for the log.
   */
  constructor(reason: HandshakeFailure, message: string) {
    super(reason, message);
    this.name = "HandshakeError";
  }
}

/** A record failed a check; the connection is closed, nothing more is read from it. */
export class RecordError extends ChannelError {
  /** The record-stage reason. */
  declare readonly reason: RecordFailure;

  /**
   * Makes a record error.
   *
   * @param reason The code.
   * @param message What happened, for the log.
   */
  constructor(reason: RecordFailure, message: string) {
    super(reason, message);
    this.name = "RecordError";
  }
}

/**
 * The client will not trust the key the server presented. Thrown by the `verifyServerKey`
 * functions (`pinnedFingerprint`, `KnownHosts`); the handshake stops before any command.
 */
export class ServerKeyRejectedError extends HandshakeError {
  /** The fingerprint the client expected. */
  readonly expected: string;
  /** The fingerprint the server presented. */
  readonly actual: string;

  /**
   * Makes the error.
   *
   * @param expected The trusted fingerprint.
   * @param actual The presented fingerprint.
   * @param message The full explanation, for the user.
   */
  constructor(expected: string, actual: string, message: string) {
    super("server-key-rejected", message);
    this.expected = expected;
    this.actual = actual;
    this.name = "ServerKeyRejectedError";
  }
}
