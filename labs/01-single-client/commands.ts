/**
 * Lab 1's commands: PING, ECHO, SET, GET, DEL (and DELETE, a socket-programming assignment's name
 * for DEL), EXISTS.
 *
 * Each command is a small piece of data: a name, an arity (how many words it takes, counting its
 * own name; negative means "at least"), flags, and a handler that receives the arguments as byte
 * strings and returns the reply. The table checks the name and the arity before a handler runs,
 * so the handlers below never see a GET with three arguments.
 *
 * @module
 */

import { err, OK, PONG, type Reply } from "../../shared/resp/reply.ts";
import { type CommandSpec, wrongArity } from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";

/** `DEL key [key ...]`: removes keys, replies with how many existed. */
// exercise step 4: remove each key and count the ones that existed
function del({ db }: Session, args: string[]): Reply {
  let removed = 0;
  for (let i = 1; i < args.length; i++) if (db.delete(args[i])) removed++;
  return removed;
}

/** The commands of lab 1. */
export const lab1Commands: readonly CommandSpec[] = [
  {
    name: "ping",
    arguments: [{ name: "message", type: "string", flags: ["optional"] }],
    arity: -1,
    flags: ["fast"],
    group: "connection",
    summary: "Returns PONG, or the message given",
    // PING takes one optional argument. The arity -1 lets any number through, so, like Redis,
    // the handler itself rejects a third word.
    // exercise step 1: reply PONG, or the message if one is given
    handler: (_session, args) => {
      if (args.length > 2) return wrongArity("ping");
      return args.length === 2 ? args[1] : PONG;
    },
  },
  {
    name: "echo",
    arguments: [{ name: "message", type: "string" }],
    arity: 2,
    flags: ["fast", "loading"],
    group: "connection",
    summary: "Returns the given string",
    // exercise step 3: reply with the argument
    handler: (_session, args) => args[1],
  },
  {
    name: "get",
    arguments: [{ name: "key", type: "key" }],
    arity: 2,
    flags: ["readonly", "fast"],
    group: "string",
    summary: "Returns the string value of a key",
    keys: { first: 1, last: 1, step: 1 },
    // A missing key is the null bulk string `$-1`, which the encoder writes for `null`.
    // exercise step 4: return the value, or null for a missing key
    handler: ({ db }, args) => db.get(args[1]) ?? null,
  },
  {
    name: "set",
    arguments: [{ name: "key", type: "key" }, { name: "value", type: "string" }],
    arity: -3,
    flags: ["write"],
    group: "string",
    summary: "Sets the string value of a key",
    keys: { first: 1, last: 1, step: 1 },
    // Options such as NX or EX arrive in later labs; here anything after the value is an error.
    // exercise step 4: store the value and reply OK; anything after the value is a syntax error
    handler: ({ db }, args) => {
      if (args.length > 3) return err("syntax error");
      db.set(args[1], args[2]);
      return OK;
    },
  },
  {
    name: "del",
    arguments: [{ name: "key", type: "key", flags: ["multiple"] }],
    arity: -2,
    flags: ["write"],
    group: "generic",
    summary: "Deletes one or more keys",
    keys: { first: 1, last: -1, step: 1 },
    handler: del,
  },
  {
    // A classic socket-programming assignment calls it DELETE. Redis has no such command; here it
    // is DEL.
    name: "delete",
    arguments: [{ name: "key", type: "key", flags: ["multiple"] }],
    arity: -2,
    flags: ["write"],
    group: "generic",
    summary: "Deletes one or more keys (a socket-programming assignment's name for DEL)",
    keys: { first: 1, last: -1, step: 1 },
    handler: del,
  },
  {
    name: "exists",
    arguments: [{ name: "key", type: "key", flags: ["multiple"] }],
    arity: -2,
    flags: ["readonly", "fast"],
    group: "generic",
    summary: "Counts how many of the given keys exist",
    keys: { first: 1, last: -1, step: 1 },
    // A key named twice is counted twice, as in Redis.
    // exercise step 4: count the keys that exist, a repeated key once per mention
    handler: ({ db }, args) => {
      let found = 0;
      for (let i = 1; i < args.length; i++) if (db.has(args[i])) found++;
      return found;
    },
  },
];
