/**
 * What the load generator sends: a command mix, encoded once, before the clock starts.
 *
 * Encoding `SET key:000000004711 xxxx…` costs more than the server spends executing it. A generator
 * that encodes while it measures is partly measuring itself, and on a 2-core machine it takes that
 * CPU from the server. So the whole stream of commands is encoded once into one buffer, and every
 * batch the generator sends is a slice of it:
 *
 * ```
 * one buffer:  [SET k1 v][GET k7][SET k3 v][GET k2] [GET k9][SET k4 v][GET k1][GET k5] …
 *              └────────── batch 0 (pipeline 4) ──┘ └────────── batch 1 ──────────────┘
 * ```
 *
 * Connections walk through the batches from different starting points and wrap around. The keys
 * are drawn at random from the keyspace with a fixed seed, so two runs send the same bytes.
 *
 * @module
 */

import { RespWriter } from "../shared/resp/encoder.ts";
import { SeededRandom } from "../shared/testing/random.ts";

/** The commands a mix can contain. */
export const MIX_COMMANDS = ["set", "get", "incr", "ping"] as const;

/** One of {@link MIX_COMMANDS}. */
export type MixCommand = typeof MIX_COMMANDS[number];

/** One command of a mix and its share. */
export interface MixEntry {
  /** The command. */
  command: MixCommand;
  /** Its relative weight; `set:50,get:50` and `set:1,get:1` are the same mix. */
  weight: number;
}

/** How to build the command stream. */
export interface WorkloadOptions {
  /** Commands and their weights. */
  mix: readonly MixEntry[];
  /** Commands per batch. */
  pipeline: number;
  /** How many distinct keys to use (`key:000000000000` up to this minus one). */
  keyspace: number;
  /** Bytes in each SET value. */
  valueSize: number;
  /** Seed for the key and command choice; the same seed sends the same bytes. */
  seed?: number;
}

/** Fewest and most commands to pre-encode; between the two, one per key of the keyspace. */
const MIN_POOL = 1024;
const MAX_POOL = 65_536;

/**
 * Parses a mix such as `set:50,get:50` or `ping`. A command without a weight has weight 1.
 *
 * @param text Comma-separated `command[:weight]`.
 * @returns The entries, in the order given.
 * @throws {SyntaxError} For an unknown command or a weight that is not a positive number.
 * @example
 * ```ts
 * parseMix("set:80,get:20"); // [{ command: "set", weight: 80 }, { command: "get", weight: 20 }]
 * ```
 */
export function parseMix(text: string): MixEntry[] {
  const entries: MixEntry[] = [];
  for (const part of text.split(",")) {
    const [name, weightText, extra] = part.trim().toLowerCase().split(":");
    const command = MIX_COMMANDS.find((c) => c === name);
    if (command === undefined || extra !== undefined) {
      throw new SyntaxError(
        `Cannot parse mix entry "${part}": expected command[:weight] with command one of ${
          MIX_COMMANDS.join(", ")
        }`,
      );
    }
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (!Number.isFinite(weight) || weight <= 0) {
      throw new SyntaxError(`Cannot parse mix entry "${part}": weight must be a positive number`);
    }
    entries.push({ command, weight });
  }
  return entries;
}

/**
 * Formats a mix back into its command-line form.
 *
 * @param mix The entries.
 * @returns Such as `set:50,get:50`.
 */
export function formatMix(mix: readonly MixEntry[]): string {
  return mix.map((e) => `${e.command}:${e.weight}`).join(",");
}

/**
 * The pre-encoded command stream, cut into batches of `pipeline` commands.
 *
 * @example
 * ```ts
 * const batches = new Batches({ mix: parseMix("set,get"), pipeline: 16, keyspace: 1000, valueSize: 32 });
 * await conn.write(batches.full(0)); // 16 commands, already encoded
 * ```
 */
export class Batches {
  /** How many whole batches there are; batch indexes wrap around modulo this. */
  readonly count: number;
  /** Commands per batch. */
  readonly pipeline: number;
  /** How many bytes all batches take together. */
  readonly byteLength: number;
  #views: Uint8Array[];
  #bytes: Uint8Array;
  /** `#ends[i]` is the offset just past command `i` in `#bytes`. */
  #ends: Uint32Array;

  /**
   * Encodes the whole stream.
   *
   * @param options The mix, pipeline depth, keyspace, value size and seed.
   */
  constructor(options: WorkloadOptions) {
    const { mix, pipeline, keyspace, valueSize } = options;
    if (mix.length === 0) throw new RangeError("Cannot build a workload from an empty mix");
    this.pipeline = pipeline;
    // Enough commands that random keys cover a typical keyspace, bounded so memory stays small.
    const wanted = Math.min(MAX_POOL, Math.max(MIN_POOL, keyspace));
    this.count = Math.max(1, Math.ceil(wanted / pipeline));
    const total = this.count * pipeline;

    const rng = new SeededRandom(options.seed ?? 1);
    const random = () => rng.float();
    const totalWeight = mix.reduce((sum, e) => sum + e.weight, 0);
    const ascii = new TextEncoder();
    const value = new Uint8Array(valueSize).fill(0x78); // "xxx…", as redis-benchmark's -d sends
    const names = Object.fromEntries(MIX_COMMANDS.map((c) => [c, ascii.encode(c.toUpperCase())]));
    const writer = new RespWriter();
    this.#ends = new Uint32Array(total);
    for (let i = 0; i < total; i++) {
      let pick = random() * totalWeight;
      const entry = mix.find((e) => (pick -= e.weight) < 0) ?? mix[mix.length - 1];
      // Fixed-width keys in redis-benchmark's style (`key:__rand_int__` with -r), so every key has
      // the same length and both tools store comparable data.
      const n = Math.floor(random() * keyspace);
      const suffix = String(n).padStart(12, "0");
      switch (entry.command) {
        case "set":
          writer.command([names.set, ascii.encode(`key:${suffix}`), value]);
          break;
        case "get":
          writer.command([names.get, ascii.encode(`key:${suffix}`)]);
          break;
        case "incr":
          // Its own keys: INCR on a SET value of "xxx" would be an error, not an increment.
          writer.command([names.incr, ascii.encode(`counter:${suffix}`)]);
          break;
        case "ping":
          writer.command([names.ping]);
          break;
      }
      this.#ends[i] = writer.length;
    }
    this.#bytes = writer.take().slice();
    this.byteLength = this.#bytes.length;
    // One view per batch, made now, so that sending a batch allocates nothing.
    this.#views = Array.from({ length: this.count }, (_, b) => this.prefix(b, pipeline));
  }

  /**
   * A whole batch.
   *
   * @param index Which batch, wrapped modulo {@link count}.
   * @returns Its bytes: `pipeline` encoded commands.
   */
  full(index: number): Uint8Array {
    return this.#views[index % this.count];
  }

  /**
   * The first `commands` commands of a batch: the last, shorter batch of a run that sends an exact
   * number of requests.
   *
   * @param index Which batch, wrapped modulo {@link count}.
   * @param commands From 1 to `pipeline`.
   * @returns Their bytes.
   */
  prefix(index: number, commands: number): Uint8Array {
    const first = (index % this.count) * this.pipeline;
    const start = first === 0 ? 0 : this.#ends[first - 1];
    return this.#bytes.subarray(start, this.#ends[first + commands - 1]);
  }
}
