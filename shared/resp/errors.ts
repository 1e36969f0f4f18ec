/**
 * The one error the decoders throw.
 *
 * @module
 */

/**
 * Bytes that break the protocol: a length that is not a number, a missing `$`, a bulk string over
 * the limit. The message is what Redis says after `ERR Protocol error: `, so the server can send it
 * word for word before it closes the connection.
 *
 * It is a custom class because callers catch it by type: a protocol error closes one connection,
 * any other exception is a bug in the server.
 */
export class ProtocolError extends Error {
  /**
   * Describes what broke the protocol.
   *
   * @param detail What was wrong, in Redis's words, for example `invalid bulk length`.
   */
  constructor(readonly detail: string) {
    super(`Protocol error: ${detail}`);
    this.name = "ProtocolError";
  }
}
