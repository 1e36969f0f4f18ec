/**
 * What a command handler can see: the client that sent the command and the server it runs on.
 *
 * {@link Session} is declared with the server state (it points at the server, whose command table
 * holds the handlers that receive it), and {@link ClientState} in its own module; handlers import
 * both from here.
 *
 * @module
 */

export { ClientState } from "./client_state.ts";
export type { RequestLimits, Session } from "./server_state.ts";
