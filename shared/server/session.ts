/**
 * What a command handler can see: the client that sent the command and the server it runs on.
 *
 * @module
 */

import type { Keyspace } from "../keyspace.ts";
import type { Protocol } from "../resp/reply.ts";
import type { ServerState } from "./server_state.ts";

/** One connected client, as `CLIENT LIST` and `INFO clients` describe it. */
export class ClientState {
  /** Set by `CLIENT SETNAME` or `HELLO ... SETNAME`; empty means none. */
  name = "";
  /** Set by `CLIENT SETINFO LIB-NAME` (the client library, such as `ioredis`). */
  libName = "";
  /** Set by `CLIENT SETINFO LIB-VER`. */
  libVersion = "";
  /** The last command this client ran, in lower case. */
  lastCommand = "NULL";
  /** When the client last sent a command, in milliseconds since the epoch. */
  lastInteraction: number;
  /**
   * Set by `QUIT`: the server sends the replies it has, then closes the connection. Later commands
   * already received in the same batch are not run, as in Redis.
   */
  closeAfterReply = false;
  /** Set by `CLIENT NO-EVICT on`: shown in `CLIENT LIST` as flag `e` (no lab evicts clients). */
  noEvict = false;
  /** The protocol its replies are written in: RESP2, or RESP3 after `HELLO 3` (`CLIENT LIST` `resp=`). */
  protocol: Protocol = 2;

  /**
   * Records a newly connected client.
   *
   * @param id A number unique for the life of the server (`CLIENT ID`).
   * @param addr The client's address, `host:port`.
   * @param localAddr The server's end of the connection, `host:port`.
   * @param connectedAt When it connected, in milliseconds since the epoch.
   */
  constructor(
    readonly id: number,
    readonly addr: string,
    readonly localAddr: string,
    readonly connectedAt: number,
  ) {
    this.lastInteraction = connectedAt;
  }
}

/**
 * What a command may change about how its client's next commands are decoded: whether Redis's
 * limits for a client that has not authenticated apply (`RequestDecoder.unauthenticated`).
 */
export interface RequestLimits {
  /** While `true`, arrays and bulk strings are held to the pre-`AUTH` limits. */
  unauthenticated: boolean;
}

/** The context every command handler receives. */
export interface Session {
  /** The keyspace the command reads and writes. */
  readonly db: Keyspace;
  /** The client that sent the command. */
  readonly client: ClientState;
  /** The server: its configuration, statistics, other clients. */
  readonly server: ServerState;
  /**
   * The switch for Redis's tighter limits before `AUTH`, on the decoder the client's commands come
   * from (absent when they do not come from a socket). Only the switch, not the decoder: what runs
   * a command should not depend on how the bytes before it were held.
   */
  readonly requestLimits?: RequestLimits;
}
