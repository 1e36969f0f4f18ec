/**
 * Configuration parameters as `CONFIG GET` shows them.
 *
 * Each parameter is a name and a function that reads its current value, so the registry never holds
 * a stale copy. Clients ask for a few on connect: `redis-benchmark` reads `save` and `appendonly`
 * to print a warning when persistence is on.
 *
 * @module
 */

import { globMatch } from "../glob.ts";

/** The configuration parameters a server exposes. */
export class ConfigRegistry {
  #params = new Map<string, () => string>();

  /**
   * Adds a parameter, or replaces one.
   *
   * @param name The name in lower case, as Redis spells it (`maxclients`).
   * @param read Returns the current value.
   * @returns The registry, for chaining.
   */
  define(name: string, read: () => string): this {
    this.#params.set(name, read);
    return this;
  }

  /**
   * Every parameter whose name matches one of the glob patterns, case-insensitively, each once.
   *
   * @param patterns Glob patterns such as `max*`.
   * @returns Name and value pairs, in definition order.
   */
  match(patterns: readonly string[]): [string, string][] {
    const found: [string, string][] = [];
    for (const [name, read] of this.#params) {
      if (patterns.some((p) => globMatch(p, name, { nocase: true }))) found.push([name, read()]);
    }
    return found;
  }
}
