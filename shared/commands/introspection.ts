/**
 * Commands that describe the server: `INFO`, `CONFIG GET`/`SET`/`RESETSTAT`, `COMMAND`.
 *
 * Tools ask these on connect. `redis-cli` fetches `COMMAND DOCS` to show hints as you type,
 * `redis-benchmark` reads `CONFIG GET save`, ioredis reads `INFO` to see whether the server is still
 * loading its data. All three answers are built from data the server already has: the command table
 * and the config and info registries.
 *
 * @module
 */

import {
  err,
  MapReply,
  OK,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "../resp/reply.ts";
import type { ArgumentDoc, CommandRegistry, CommandSpec } from "../server/command_table.ts";
import type { Session } from "../server/session.ts";

/**
 * `COMMAND INFO`'s entry for one command: name, arity, flags, key positions, and four lists, each
 * a set in RESP3 as Redis 7.0 sends them.
 */
function commandInfo(spec: CommandSpec): Reply {
  const keys = spec.keys ?? { first: 0, last: 0, step: 0 };
  return [
    spec.name,
    spec.arity,
    new SetReply(spec.flags.map((f) => new SimpleString(f))),
    keys.first,
    keys.last,
    keys.step,
    new SetReply([]), // ACL categories
    new SetReply([]), // tips
    new SetReply([]), // key specifications
    new SetReply((spec.subcommands ?? []).map(commandInfo)),
  ];
}

function argumentDoc(arg: ArgumentDoc): Reply {
  const doc: [Reply, Reply][] = [["name", arg.name], ["type", arg.type]];
  if (arg.token !== undefined) doc.push(["token", arg.token]);
  // Status replies, as Redis sends them: redis-cli asserts on that type.
  if (arg.flags) doc.push(["flags", arg.flags.map((f) => new SimpleString(f))]);
  if (arg.arguments) doc.push(["arguments", arg.arguments.map(argumentDoc)]);
  return new MapReply(doc);
}

/** `COMMAND DOCS`'s entry: a map of what the command is for (a flat array in RESP2). */
function commandDocs(spec: CommandSpec): Reply {
  const docs: [Reply, Reply][] = [
    ["summary", spec.summary],
    ["since", "1.0.0"],
    ["group", spec.group],
  ];
  if (spec.arguments) docs.push(["arguments", spec.arguments.map(argumentDoc)]);
  if (spec.subcommands) {
    docs.push(["subcommands", new MapReply(spec.subcommands.map((s) => [s.name, commandDocs(s)]))]);
  }
  return new MapReply(docs);
}

function named(table: CommandRegistry, names: readonly string[]): (CommandSpec | undefined)[] {
  return names.map((name) => table.get(name));
}

// Redis 7.0's text, less REWRITE: there is no configuration file to rewrite.
const CONFIG_HELP = [
  "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value>",
  "    Set the configuration <directive> to <value>.",
  "RESETSTAT",
  "    Reset statistics reported by the INFO command.",
  "HELP",
  "    Prints this help.",
].map((line) => new SimpleString(line));

/** `INFO`, `CONFIG` and `COMMAND`, as every lab's server registers them. */
export const introspectionCommands: readonly CommandSpec[] = [
  {
    name: "info",
    arity: -1,
    flags: ["loading", "stale"],
    group: "server",
    summary: "Returns information and statistics about the server",
    // Text to be shown as it is: a verbatim string in RESP3, a bulk string in RESP2.
    handler: ({ server }, args) => new VerbatimString(server.info.render(args.slice(1))),
  },
  {
    name: "config",
    arity: -2,
    flags: [],
    group: "server",
    summary: "A container for server configuration commands",
    subcommands: [
      {
        name: "config|get",
        arity: -3,
        flags: ["admin", "loading", "stale"],
        group: "server",
        summary: "Returns the effective values of configuration parameters",
        handler: ({ server }, args) => new MapReply(server.config.match(args.slice(2))),
      },
      {
        name: "config|set",
        arity: -4,
        flags: ["admin", "loading", "stale"],
        group: "server",
        summary: "Sets configuration parameters in-flight, all or none",
        handler: ({ server }, args) => {
          // Parameter and value pairs: an odd count is Redis's syntax error, not an arity error.
          if (args.length % 2 === 1) return err("syntax error");
          const pairs: [string, string][] = [];
          for (let i = 2; i < args.length; i += 2) pairs.push([args[i], args[i + 1]]);
          const error = server.config.apply(pairs);
          return error === null ? OK : err(error);
        },
      },
      {
        name: "config|resetstat",
        arity: 2,
        flags: ["admin", "loading", "stale"],
        group: "server",
        summary: "Resets the statistics INFO reports",
        handler: ({ server }) => {
          server.resetStats();
          return OK;
        },
      },
      {
        name: "config|help",
        arity: 2,
        flags: ["loading", "stale"],
        group: "server",
        summary: "Returns helpful text about the different subcommands",
        handler: () => CONFIG_HELP,
      },
    ],
  },
  {
    name: "command",
    arity: -1,
    flags: ["loading", "stale"],
    group: "server",
    summary: "Returns detailed information about all commands",
    handler: ({ server }: Session) => [...server.commands].map(commandInfo),
    subcommands: [
      {
        name: "command|count",
        arity: 2,
        flags: ["loading", "stale"],
        group: "server",
        summary: "Returns a count of commands",
        handler: ({ server }) => [...server.commands].length,
      },
      {
        name: "command|docs",
        arity: -2,
        flags: ["loading", "stale"],
        group: "server",
        summary: "Returns documentary information about one, multiple or all commands",
        handler: ({ server }, args) => {
          const specs = args.length > 2
            ? named(server.commands, args.slice(2)).filter((s) => s !== undefined)
            : [...server.commands];
          return new MapReply(specs.map((s) => [s.name, commandDocs(s)]));
        },
      },
      {
        name: "command|info",
        arity: -2,
        flags: ["loading", "stale"],
        group: "server",
        summary: "Returns information about one, multiple or all commands",
        handler: ({ server }, args) =>
          args.length > 2
            ? named(server.commands, args.slice(2)).map((s) => s ? commandInfo(s) : null)
            : [...server.commands].map(commandInfo),
      },
      {
        name: "command|list",
        arity: -2,
        flags: ["loading", "stale"],
        group: "server",
        summary: "Returns a list of command names",
        handler: ({ server }) => [...server.commands].map((s) => s.name),
      },
    ],
  },
];
