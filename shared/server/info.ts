/**
 * The sections of `INFO`.
 *
 * `INFO` is how an operator (and a client library's ready check) sees inside the server. Each lab
 * registers the sections it knows about; a section is a function that returns its current fields,
 * computed when asked.
 *
 * The text format is Redis's, which client libraries parse:
 *
 * ```
 * # Server\r\n
 * redis_version:7.0.0\r\n
 * \r\n
 * # Clients\r\n
 * connected_clients:1\r\n
 * ```
 *
 * @module
 */

/** A section's fields, in order. */
export type InfoFields = [string, string | number][];

interface Section {
  title: string;
  fields: () => InfoFields;
  /** Part of the plain `INFO` with no argument, as in Redis (`commandstats` is not, for instance). */
  inDefault: boolean;
}

/** The registered `INFO` sections. */
export class InfoRegistry {
  #sections = new Map<string, Section>();

  /**
   * Adds a section, or replaces one.
   *
   * @param title As printed, such as `Server`; `INFO server` finds it case-insensitively.
   * @param fields Computes the section's fields.
   * @param options `inDefault: false` leaves the section out of a bare `INFO`.
   * @returns The registry, for chaining.
   */
  define(title: string, fields: () => InfoFields, options: { inDefault?: boolean } = {}): this {
    this.#sections.set(title.toLowerCase(), {
      title,
      fields,
      inDefault: options.inDefault ?? true,
    });
    return this;
  }

  /**
   * Renders the sections asked for.
   *
   * @param names Section names; none means the default set; `all` and `everything` mean every one.
   * @returns The text of `INFO`, with CRLF line endings.
   */
  render(names: readonly string[]): string {
    const wanted = names.map((n) => n.toLowerCase());
    const every = wanted.includes("all") || wanted.includes("everything");
    const chosen = [...this.#sections.entries()].filter(([key, s]) =>
      every || (wanted.length === 0 || wanted.includes("default") ? s.inDefault : false) ||
      wanted.includes(key)
    );
    return chosen.map(([, s]) =>
      `# ${s.title}\r\n` + s.fields().map(([k, v]) => `${k}:${v}\r\n`).join("")
    ).join("\r\n");
  }
}
