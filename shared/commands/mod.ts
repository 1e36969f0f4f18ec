/**
 * The commands every lab's server registers besides its own: connection handshakes and
 * introspection.
 *
 * @module
 */

export { clientCompatCommands } from "./client_compat.ts";
export { connectionCommands } from "./connection.ts";
export { introspectionCommands } from "./introspection.ts";
