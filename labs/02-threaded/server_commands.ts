/**
 * Commands that look at the server and at how a key is stored, rather than at its value: TIME,
 * OBJECT (ENCODING, REFCOUNT, IDLETIME, FREQ, HELP) and MEMORY USAGE. GUI browsers show these
 * next to each key, and `redis-cli --bigkeys`/`--memkeys` ask for them, so a server must answer
 * them in Redis's shape even where its insides differ.
 *
 * Where they do differ, the answer is Redis's for the same key, computed from the value:
 *
 * - **ENCODING.** Redis stores a string as an integer (`int`), inline with its header up to 44
 *   bytes (`embstr`), or in a separate buffer (`raw`), and reports which. Here every value is a
 *   JavaScript string, so the encoding reported is the one Redis's `SET` would choose for the same
 *   bytes. A value grown by APPEND or SETRANGE is `raw` in Redis whatever its length; this server
 *   does not remember how a value was made, so it reports `embstr` for a short one.
 * - **REFCOUNT.** Redis shares the integers 0 to 9999 between keys and reports them with the
 *   largest `int` as their count; any other value has one reference. Reported the same way.
 * - **IDLETIME** is 0: no access time is kept per key (lab 4's LRU keeps an order, not times).
 * - **MEMORY USAGE** is an estimate of the JavaScript heap the key takes (as lab 4's `used_memory`
 *   counts it), not Redis's allocator's count: the same order of magnitude, not the same number.
 *
 * @module
 */

import { err, SimpleString } from "../../shared/resp/reply.ts";
import type { CommandSpec } from "../../shared/server/command_table.ts";
import { parseInt64 } from "./integers.ts";

const KEY = { name: "key", type: "key" } as const;
const ONE_KEY = { first: 2, last: 2, step: 1 } as const;
/** Redis's `OBJ_SHARED_REFCOUNT`: the count it reports for a shared object. */
const SHARED_REFCOUNT = 2147483647;
/** Redis's `OBJ_SHARED_INTEGERS`: 0 to 9999 are shared objects. */
const SHARED_INTEGERS = 10000;
/** Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`. */
const EMBSTR_LIMIT = 44;

/** The help text's lines, as status replies, framed as Redis's `addReplyHelp()` frames them. */
function help(command: string, lines: readonly string[]): SimpleString[] {
  return [
    `${command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
    ...lines,
    "HELP",
    "    Prints this help.",
  ].map((line) => new SimpleString(line));
}

const OBJECT_HELP = help("OBJECT", [
  "ENCODING <key>",
  "    Return the kind of internal representation used in order to store the value",
  "    associated with a <key>.",
  "FREQ <key>",
  "    Return the access frequency index of the <key>. The returned integer is",
  "    proportional to the logarithm of the recent access frequency of the key.",
  "IDLETIME <key>",
  "    Return the idle time of the <key>, that is the approximated number of",
  "    seconds elapsed since the last access to the key.",
  "REFCOUNT <key>",
  "    Return the number of references of the value associated with the specified",
  "    <key>.",
]);

const MEMORY_HELP = help("MEMORY", [
  "USAGE <key> [SAMPLES <count>]",
  "    Return memory in bytes used by <key> and its value. Nested values are",
  "    sampled up to <count> times (default: 5, 0 means sample all).",
]);

/** The encoding Redis's `tryObjectEncoding()` picks for a string value set by `SET`. */
function encodingOf(value: string): string {
  if (value.length <= 20 && parseInt64(value) !== null) return "int";
  return value.length <= EMBSTR_LIMIT ? "embstr" : "raw";
}

/** What a string costs in V8's heap: a 16-byte header plus its bytes rounded up to 8. */
function stringBytes(s: string): number {
  return 16 + ((s.length + 7) & ~7);
}

/** Server and object introspection for lab 2 and later labs. */
export const serverCommands: readonly CommandSpec[] = [
  {
    name: "time",
    arity: 1,
    flags: ["loading", "stale", "fast"],
    group: "server",
    summary: "Returns the server time as seconds and microseconds since the epoch",
    // Two bulk strings, as Redis sends them. performance.timeOrigin + now() has microsecond
    // resolution where Date.now() has milliseconds.
    handler: () => {
      const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
      return [String(Math.floor(micros / 1e6)), String(micros % 1e6)];
    },
  },
  {
    name: "object",
    arity: -2,
    flags: [],
    group: "generic",
    summary: "A container for object introspection commands",
    subcommands: [
      {
        name: "object|encoding",
        arity: 3,
        flags: ["readonly"],
        group: "generic",
        summary: "Returns the internal encoding of a value",
        arguments: [KEY],
        keys: ONE_KEY,
        handler: ({ db }, args) => {
          const value = db.get(args[2]);
          return value === undefined ? null : encodingOf(value);
        },
      },
      {
        name: "object|refcount",
        arity: 3,
        flags: ["readonly"],
        group: "generic",
        summary: "Returns the reference count of a value",
        arguments: [KEY],
        keys: ONE_KEY,
        handler: ({ db }, args) => {
          const value = db.get(args[2]);
          if (value === undefined) return null;
          const n = parseInt64(value);
          return typeof n === "number" && n >= 0 && n < SHARED_INTEGERS ? SHARED_REFCOUNT : 1;
        },
      },
      {
        name: "object|idletime",
        arity: 3,
        flags: ["readonly"],
        group: "generic",
        summary: "Returns the seconds since a key was last used (always 0 here)",
        arguments: [KEY],
        keys: ONE_KEY,
        handler: ({ db }, args) => db.has(args[2]) ? 0 : null,
      },
      {
        name: "object|freq",
        arity: 3,
        flags: ["readonly"],
        group: "generic",
        summary: "Returns a key's access frequency under an LFU policy",
        arguments: [KEY],
        keys: ONE_KEY,
        // No lab has an LFU eviction policy, so this is always Redis's answer without one.
        handler: ({ db }, args) =>
          db.has(args[2])
            ? err(
              "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            )
            : null,
      },
      {
        name: "object|help",
        arity: 2,
        flags: ["loading", "stale"],
        group: "generic",
        summary: "Returns helpful text about the different subcommands",
        handler: () => OBJECT_HELP,
      },
    ],
  },
  {
    name: "memory",
    arity: -2,
    flags: [],
    group: "server",
    summary: "A container for memory diagnostics commands",
    subcommands: [
      {
        name: "memory|usage",
        arity: -3,
        flags: ["readonly"],
        group: "server",
        summary: "Estimates the bytes a key and its value take",
        arguments: [KEY, {
          name: "count",
          type: "integer",
          token: "SAMPLES",
          flags: ["optional"],
        }],
        keys: ONE_KEY,
        handler: ({ db }, args) => {
          // SAMPLES matters for nested types; a string has nothing to sample, but the option is
          // still checked as Redis checks it.
          for (let i = 3; i < args.length; i++) {
            if (args[i].toLowerCase() !== "samples" || i + 1 >= args.length) {
              return err("syntax error");
            }
            const samples = parseInt64(args[++i]);
            if (samples === null) return err("value is not an integer or out of range");
            if (samples < 0) return err("syntax error");
          }
          const value = db.get(args[2]);
          if (value === undefined) return null;
          // A Map entry (32 bytes) plus the key and value strings: lab 4's per-key estimate.
          return 32 + stringBytes(args[2]) + stringBytes(value);
        },
      },
      {
        name: "memory|help",
        arity: 2,
        flags: ["loading", "stale"],
        group: "server",
        summary: "Returns helpful text about the different subcommands",
        handler: () => MEMORY_HELP,
      },
    ],
  },
];
