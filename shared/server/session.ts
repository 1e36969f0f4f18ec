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
 * What a command may see of the decoder its client's bytes come through. The decoder itself is a
 * lab's (lab 2's `RequestDecoder`); this names only the part a handler touches, so that `shared/`
 * needs no lab.
 */
export interface RequestSource {
  /**
   * Whether the client has yet to authenticate, so that Redis's tighter limits for such clients
   * apply (lab 3's `AUTH` sets and clears it).
   */
  unauthenticated: boolean;
  /** See lab 2's `RequestDecoder.lastFrameLength`. */
  lastFrameLength(command: readonly string[]): number;
  /** See lab 2's `RequestDecoder.copyLastFrame`. */
  copyLastFrame(target: Uint8Array, at: number): void;
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
   * The decoder the client's commands come from, when they come from a socket. Lab 4's log copies
   * a command's bytes from it rather than encoding the arguments again
   * (lab 2's `RequestDecoder.lastFrameLength`).
   */
  readonly requests?: RequestSource;
}
