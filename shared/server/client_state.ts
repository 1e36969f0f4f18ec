/**
 * One connected client's state: what `CLIENT LIST` shows and what changes the way its commands
 * run. A module of its own so that the server state and the session can both hold it.
 *
 * @module
 */

import type { Protocol } from "../resp/reply.ts";

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
  /**
   * How many of the next replies are not sent (`CLIENT REPLY`): `Infinity` after `OFF`, until `ON`;
   * two after `SKIP`, its own (Redis sends none) and the next command's; zero normally. One number,
   * so the connection loop pays one comparison per command for the whole feature.
   */
  repliesToDrop = 0;
  /** The number of the database it reads and writes (`SELECT`; `CLIENT LIST` `db=`). */
  database = 0;
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
