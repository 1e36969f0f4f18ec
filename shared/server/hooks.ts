/**
 * What a later lab may change about how each connection is served, declared once. Lab 2's loop
 * reads these (`labs/02-threaded/batch_loop.ts`), the stages of later labs set them (see
 * `stage.ts`), and nothing else declares them again.
 *
 * @module
 */

import type { CommandHandler } from "./server_state.ts";
import type { Session } from "./session.ts";

/**
 * Runs one command for a client and returns its reply, or a promise of it: the shape of a
 * command's handler, and of everything that wraps the running of commands (lab 2's `dispatch`,
 * lab 3's AUTH gate, lab 4's write gate).
 */
export type Execute = CommandHandler;

/** The per-connection hooks. Each is optional; without it, the connection behaves as in lab 1. */
export interface ConnectionHooks {
  /** Runs one command (lab 2: queued inside MULTI; lab 3: refused before AUTH). */
  execute?: Execute;
  /**
   * Awaited before each batch of replies is written (lab 4: until its writes are logged, or on
   * disk). When it is absent or returns `undefined`, replies wait for the end of the event loop's
   * turn.
   */
  beforeWrite?: () => Promise<void> | undefined;
  /**
   * Called once the client exists, before its first byte is read (lab 3: until `AUTH`, its decoder
   * enforces Redis's limits for clients that have not authenticated).
   */
  onConnect?: (session: Session) => void;
  /**
   * A client's own reply limit in place of the server's, or `undefined` for the server's (lab 3:
   * about 16 KB until the client has authenticated). Asked at the start of a batch and again only
   * when the replies pass the limit, so it costs nothing per command.
   */
  outputLimit?: (session: Session) => number | undefined;
}
