/**
 * The commands every lab's server registers besides its own: connection handshakes and
 * introspection.
 *
 * @module
 */

import type { CommandSpec } from "../server/command_table.ts";
import { connectionCommands } from "./connection.ts";
import { introspectionCommands } from "./introspection.ts";

export { connectionCommands } from "./connection.ts";
export { introspectionCommands } from "./introspection.ts";

/** Every command real clients expect on connect. */
export const clientCompatCommands: readonly CommandSpec[] = [
  ...connectionCommands,
  ...introspectionCommands,
];
