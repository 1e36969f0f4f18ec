/**
 * Which cached keys a command can change, so the proxy knows what to invalidate.
 *
 * This is where "the command table is data" pays off. Lab 2's table already says, for each
 * command, whether it writes (the `write` flag) and where its keys are (`keys: first, last, step`,
 * as `COMMAND INFO` reports them):
 *
 * ```
 * SET    key value          write   keys 1..1 step 1   ─▶ invalidate args[1]
 * MSET   k1 v1 k2 v2        write   keys 1..-1 step 2  ─▶ invalidate args[1], args[3]
 * DEL    k1 k2 k3           write   keys 1..-1 step 1  ─▶ invalidate args[1..3]
 * FLUSHALL                  write   no keys            ─▶ invalidate everything
 * GET    key                readonly                   ─▶ nothing
 * ```
 *
 * A real Redis upstream knows hundreds of commands lab 2 does not (`SETEX`, `GETEX`, `LPUSH`,
 * `SADD`...). For those the proxy asks the upstream itself, once per command name, with
 * `COMMAND INFO name`, and remembers the answer: the upstream's own table, in the same shape. When
 * the answer cannot be trusted to name every key — the command moves its keys around (`EVAL`,
 * `SORT ... STORE`: flag `movablekeys`), or the upstream could not be asked — the proxy assumes the
 * worst and invalidates everything. A cache that is emptied too often is slow; one that is not
 * emptied when it should be is wrong.
 *
 * @module
 */

import { ErrorReply, type Reply, SimpleString } from "../../../shared/resp/reply.ts";
import type { CommandTable, KeyPositions } from "../../../shared/server/command_table.ts";

/** What a command does to cached `GET` answers. */
export type Effect =
  /** Reads only: the cache stays as it is. */
  | { kind: "none" }
  /** Writes these keys: forget them. */
  | { kind: "keys"; keys: string[] }
  /** May write any key: forget everything. */
  | { kind: "all" };

/** Reads only. */
export const NO_EFFECT: Effect = { kind: "none" };
/** May write any key. */
export const EVERY_KEY: Effect = { kind: "all" };

/**
 * The keys of a command, found the way Redis's `COMMAND INFO` describes them: from argument
 * `first` to argument `last` (negative counts from the end, -1 being the last) every `step`.
 *
 * @param args The command and its arguments.
 * @param positions Where its keys are.
 * @returns The key arguments; fewer than expected if the command is short (the upstream will
 *   refuse it anyway).
 */
export function keysOf(args: readonly string[], positions: KeyPositions): string[] {
  const { first, last, step } = positions;
  const end = last < 0 ? args.length + last : Math.min(last, args.length - 1);
  const keys: string[] = [];
  for (let i = first; i <= end && step > 0; i += step) keys.push(args[i]);
  return keys;
}

/**
 * Combines the effects of several commands (the queue of a transaction).
 *
 * @param effects What each command does.
 * @returns One effect covering all of them.
 */
export function combineEffects(effects: readonly Effect[]): Effect {
  const keys: string[] = [];
  for (const effect of effects) {
    if (effect.kind === "all") return EVERY_KEY;
    if (effect.kind === "keys") keys.push(...effect.keys);
  }
  return keys.length === 0 ? NO_EFFECT : { kind: "keys", keys };
}

/** What the proxy keeps of a `COMMAND INFO` entry. */
interface CommandFacts {
  flags: { has(flag: string): boolean };
  keys: KeyPositions;
  /** Subcommands by full name, such as `object|encoding`. */
  subcommands: ReadonlyMap<string, CommandFacts>;
}

/** Key positions of a command without keys (`FLUSHALL`). */
const NO_KEYS: KeyPositions = { first: 0, last: 0, step: 0 };
/** No subcommands. */
const NONE: ReadonlyMap<string, CommandFacts> = new Map();

/**
 * Decides from a command's flags and key positions, whether from lab 2's table or the upstream's.
 * A write with keys at fixed positions invalidates those keys; a write without (`FLUSHALL`), or
 * with keys that move (`movablekeys`), invalidates everything. So does a command that is not marked
 * read-only but whose keys move: in Redis 7.0 that is `EVAL` and `FCALL`, whose scripts may write
 * any key without being flagged `write`.
 */
function decide(facts: CommandFacts, args: readonly string[]): Effect {
  const { flags, keys } = facts;
  const movable = flags.has("movablekeys");
  if (flags.has("write")) {
    return movable || keys.first <= 0 ? EVERY_KEY : { kind: "keys", keys: keysOf(args, keys) };
  }
  return movable && !flags.has("readonly") ? EVERY_KEY : NO_EFFECT;
}

/**
 * Reads one entry of a `COMMAND INFO` reply: `[name, arity, flags, first, last, step, acl
 * categories, tips, key specs, subcommands]` (Redis 7), or `null` for a command the server does
 * not know.
 *
 * @returns The facts, `null` for an unknown command, `undefined` if the reply is not that shape.
 */
function parseCommandInfo(entry: Reply): CommandFacts | null | undefined {
  if (entry === null) return null;
  if (!Array.isArray(entry) || entry.length < 6) return undefined;
  const [, , flags, first, last, step] = entry as readonly Reply[];
  if (
    !Array.isArray(flags) || typeof first !== "number" || typeof last !== "number" ||
    typeof step !== "number"
  ) return undefined;
  const subcommands = new Map<string, CommandFacts>();
  const subs = entry[9];
  if (Array.isArray(subs)) {
    for (const sub of subs as readonly Reply[]) {
      const facts = parseCommandInfo(sub);
      const name = Array.isArray(sub) ? sub[0] : undefined;
      if (facts && typeof name === "string") subcommands.set(name.toLowerCase(), facts);
    }
  }
  return {
    flags: new Set(
      (flags as readonly Reply[]).map((f) => f instanceof SimpleString ? f.value : String(f)),
    ),
    keys: { first, last, step },
    subcommands,
  };
}

/**
 * Tells what a command does to the cache, from lab 2's command table or, for commands it does not
 * have, from the upstream's `COMMAND INFO`.
 *
 * @example
 * ```ts
 * const effects = new CommandEffects(lab2CommandTable(), (args) => upstream.call(args));
 * effects.of(["MSET", "a", "1", "b", "2"]); // { kind: "keys", keys: ["a", "b"] }
 * await effects.of(["SETEX", "a", "10", "v"]); // asks the upstream once: { kind: "keys", ... }
 * ```
 */
export class CommandEffects {
  readonly #table: CommandTable;
  readonly #ask: (args: readonly string[]) => Promise<Reply>;
  /** What the upstream said about commands lab 2 does not have, by lower-case name. */
  readonly #learned = new Map<string, CommandFacts>();

  /**
   * Creates the lookup.
   *
   * @param table The commands the proxy knows without asking (lab 2's).
   * @param ask Sends a command upstream, for `COMMAND INFO`; rejects if the upstream is down.
   */
  constructor(table: CommandTable, ask: (args: readonly string[]) => Promise<Reply>) {
    this.#table = table;
    this.#ask = ask;
  }

  /**
   * What a command does to cached answers.
   *
   * @param args The command and its arguments, as the client sent them.
   * @returns The effect; a promise only the first time a command lab 2 does not know is seen.
   */
  of(args: readonly string[]): Effect | Promise<Effect> {
    const spec = this.#table.get(args[0]);
    if (spec !== undefined) {
      const flags = { has: (flag: string) => (spec.flags as readonly string[]).includes(flag) };
      return decide({ flags, keys: spec.keys ?? NO_KEYS, subcommands: NONE }, args);
    }
    const name = args[0].toLowerCase();
    const learned = this.#learned.get(name);
    return learned !== undefined ? this.#decideLearned(learned, args) : this.#learn(name, args);
  }

  #decideLearned(facts: CommandFacts, args: readonly string[]): Effect {
    // A container such as OBJECT or XGROUP: the subcommand carries the flags and keys.
    if (facts.subcommands.size > 0 && args.length >= 2) {
      const sub = facts.subcommands.get(`${args[0]}|${args[1]}`.toLowerCase());
      // An unknown subcommand is refused by the upstream: it writes nothing.
      return sub === undefined ? NO_EFFECT : decide(sub, args);
    }
    return decide(facts, args);
  }

  async #learn(name: string, args: readonly string[]): Promise<Effect> {
    let reply: Reply;
    try {
      reply = await this.#ask(["COMMAND", "INFO", name]);
    } catch {
      // The upstream is down, so the command will fail too; but if it did get through, the
      // cache must not keep what it may have changed.
      return EVERY_KEY;
    }
    const entry = Array.isArray(reply) && !(reply instanceof ErrorReply) ? reply[0] : undefined;
    const facts = entry === undefined ? undefined : parseCommandInfo(entry);
    // The upstream does not know it: it will answer "unknown command" and change nothing. Not
    // remembered, so that made-up names cannot grow the map.
    if (facts === null) return NO_EFFECT;
    // No usable answer (an upstream without COMMAND INFO): assume the worst, and ask again later.
    if (facts === undefined) return EVERY_KEY;
    this.#learned.set(name, facts);
    return this.#decideLearned(facts, args);
  }
}
