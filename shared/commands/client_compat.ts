/**
 * The commands real clients send on connect, as one list a server registers.
 *
 * @module
 */

import type { CommandSpec } from "../server/command_table.ts";
import { connectionCommands } from "./connection.ts";
import { introspectionCommands } from "./introspection.ts";

/** Every command real clients expect on connect. */
export const clientCompatCommands: readonly CommandSpec[] = [
  ...connectionCommands,
  ...introspectionCommands,
];
