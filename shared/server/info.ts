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
  /** Each part's fields, in the order the parts were added (see `extend`). */
  fields: (() => InfoFields)[];
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
      fields: [fields],
      inDefault: options.inDefault ?? true,
    });
    return this;
  }

  /**
   * Adds fields to a section, creating it if need be: how a later stage reports what it adds
   * (lab 2's `maxclients` in `Clients`, lab 4's `expired_keys` in `Stats`). A field with the name
   * of an earlier one takes its place, where it was: lab 4's `used_memory` is its keyspace's
   * estimate, not the heap's size.
   *
   * @param title The section, such as `Stats`.
   * @param fields Computes the added fields.
   * @returns The registry, for chaining.
   */
  extend(title: string, fields: () => InfoFields): this {
    const section = this.#sections.get(title.toLowerCase());
    if (section === undefined) return this.define(title, fields);
    section.fields.push(fields);
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
      `# ${s.title}\r\n` + merged(s).map(([k, v]) => `${k}:${v}\r\n`).join("")
    ).join("\r\n");
  }
}

/** A section's fields, each name once: a later part's value replaces an earlier one in place. */
function merged(section: Section): InfoFields {
  if (section.fields.length === 1) return section.fields[0]();
  const values = new Map<string, string | number>();
  for (const part of section.fields) for (const [name, value] of part()) values.set(name, value);
  return [...values];
}
