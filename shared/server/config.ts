/**
 * Configuration parameters as `CONFIG GET` shows them.
 *
 * Each parameter is a name and a function that reads its current value, so the registry never holds
 * a stale copy. Clients ask for a few on connect: `redis-benchmark` reads `save` and `appendonly`
 * to print a warning when persistence is on.
 *
 * A parameter that can change while the server runs also has a function that sets it (`CONFIG
 * SET`). One without is reported as Redis reports its immutable ones, such as `databases`; some
 * parameters Redis can change at runtime (`port`, `bind`) are immutable here, a simplification.
 *
 * @module
 */

import { globMatch } from "../glob.ts";

/**
 * Changes a parameter; returns `null`, or why the value was refused in Redis's words (`argument
 * must be between 1 and 4294967295 inclusive`).
 */
export type ConfigSetter = (value: string) => string | null;

/**
 * A setter for an integer parameter, parsed and bounded as Redis's numeric configs are.
 *
 * @param min The smallest value allowed.
 * @param max The largest.
 * @param store Receives the new value.
 * @returns The setter.
 */
export function integerSetter(min: number, max: number, store: (n: number) => void): ConfigSetter {
  return (value) => {
    // Redis's string2ll(): digits with an optional minus, no leading zeros or spaces.
    if (!/^(?:0|-?[1-9][0-9]{0,18})$/.test(value)) {
      return "argument couldn't be parsed into an integer";
    }
    const n = Number(value);
    if (n < min || n > max) return `argument must be between ${min} and ${max} inclusive`;
    store(n);
    return null;
  };
}

/** The configuration parameters a server exposes. */
export class ConfigRegistry {
  #params = new Map<string, () => string>();
  #setters = new Map<string, ConfigSetter>();

  /**
   * Adds a parameter, or replaces one.
   *
   * @param name The name in lower case, as Redis spells it (`maxclients`).
   * @param read Returns the current value.
   * @param set Changes it (`CONFIG SET`); without one the parameter is immutable.
   * @returns The registry, for chaining.
   */
  define(name: string, read: () => string, set?: ConfigSetter): this {
    this.#params.set(name, read);
    if (set === undefined) this.#setters.delete(name);
    else this.#setters.set(name, set);
    return this;
  }

  /**
   * Sets parameters as Redis's `CONFIG SET` does: all or none. Every name is checked first (the
   * first unknown, immutable or repeated one is the error), then each value is set in order; if one
   * is refused, those already set get their old values back.
   *
   * @param pairs Names (any case) and values.
   * @returns `null` on success, or Redis's error text without the `ERR ` prefix.
   * @example
   * ```ts
   * registry.apply([["maxclients", "100"]]); // null
   * registry.apply([["nope", "1"]]);  // "Unknown option or number of arguments for CONFIG SET - 'nope'"
   * ```
   */
  apply(pairs: readonly (readonly [string, string])[]): string | null {
    const failed = (name: string, why: string) =>
      `CONFIG SET failed (possibly related to argument '${name}') - ${why}`;
    const names: string[] = [];
    for (const [given] of pairs) {
      const name = given.toLowerCase();
      if (!this.#params.has(name)) {
        return `Unknown option or number of arguments for CONFIG SET - '${given}'`;
      }
      if (!this.#setters.has(name)) return failed(given, "can't set immutable config");
      if (names.includes(name)) return failed(given, "duplicate parameter");
      names.push(name);
    }
    const old = names.map((name) => this.#params.get(name)?.() ?? "");
    for (let i = 0; i < names.length; i++) {
      const error = this.#setters.get(names[i])?.(pairs[i][1]) ?? null;
      if (error !== null) {
        for (let j = 0; j < i; j++) this.#setters.get(names[j])?.(old[j]);
        return failed(names[i], error);
      }
    }
    return null;
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
