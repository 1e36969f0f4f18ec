/**
 * Numbered databases: `SELECT`, `MOVE`, `SWAPDB` and `FLUSHALL`.
 *
 * A Redis server holds several keyspaces, numbered from 0 (16 by default, `--databases N`). Each
 * client works in one at a time: database 0 until it sends `SELECT`. Client libraries connect with
 * `{ db: 1 }` and send `SELECT 1` first; a cache and a job queue can share one server without
 * sharing key names.
 *
 * Each database is an ordinary keyspace; the server holds them in a list (`server.databases`) and
 * each client's session points at its current one (`session.db`), with its number in
 * `client.database` for `CLIENT LIST`. So every command that reads or writes keys works as it did,
 * in whichever database its client chose: `SELECT` only moves the pointer. The databases share one
 * change counter (see `Keyspace.changes`), so a command that touches two (`MOVE`) still reads as
 * one change.
 *
 * @module
 */

import type { Keyspace } from "../../shared/keyspace.ts";
import { err, ErrorReply, OK, type Reply } from "../../shared/resp/reply.ts";
import type { CommandSpec } from "../../shared/server/command_table.ts";
import type { Session } from "../../shared/server/session.ts";
import { parseInt64 } from "./integers.ts";

const NOT_AN_INTEGER = err("value is not an integer or out of range");
const OUT_OF_RANGE = err("DB index is out of range");
const SAME_OBJECT = err("source and destination objects are the same");
const SYNTAX = err("syntax error");

/**
 * Parses a database number as Redis's `getIntFromObjectOrReply()` does: not a 64-bit integer is
 * the usual integer error (or the command's own message); one that does not fit a C `int` gets a
 * second, different message (or the command's own).
 *
 * @param text The argument.
 * @param message The command's own error for both cases, as `SWAPDB` passes one.
 * @returns The number, or the error to reply.
 */
export function databaseNumber(text: string, message?: string): number | ErrorReply {
  const n = parseInt64(text);
  if (n === null) return message === undefined ? NOT_AN_INTEGER : err(message);
  if (n < -(2 ** 31) || n >= 2 ** 31) {
    return err(message ?? "value is out of range, value must between -2147483648 and 2147483647");
  }
  return Number(n);
}

/**
 * The database a command names by number, as Redis's `selectDb()` checks it.
 *
 * @param session The client's session.
 * @param text The argument.
 * @returns The database, or the error to reply.
 */
export function databaseAt({ server }: Session, text: string): Keyspace | ErrorReply {
  const index = databaseNumber(text);
  if (typeof index !== "number") return index;
  return server.databases[index] ?? OUT_OF_RANGE;
}

/**
 * Makes a database the client's current one.
 *
 * @param session The client's session.
 * @param index A valid database number.
 */
export function selectDatabase(session: Session, index: number): void {
  session.db = session.server.databases[index];
  session.client.database = index;
}

/** `FLUSHALL [ASYNC|SYNC]`: every database emptied (Redis frees ASYNC's memory later; here too). */
function flushAll({ server }: Session, args: string[]): Reply {
  if (args.length > 2) return SYNTAX;
  if (args.length === 2) {
    const mode = args[1].toLowerCase();
    if (mode !== "async" && mode !== "sync") return SYNTAX;
  }
  for (const db of server.databases) db.clear();
  return OK;
}

/**
 * `MOVE key db`, after Redis's `moveCommand()`: the target is checked first, then "same
 * database", then the keys. 0 if the key is missing here or already there; the key keeps its
 * TTL in lab 4 (`Keyspace.copy` carries it).
 */
function move(session: Session, args: string[]): Reply {
  const target = databaseAt(session, args[2]);
  if (target instanceof ErrorReply) return target;
  const { db } = session;
  if (target === db) return SAME_OBJECT;
  const key = args[1];
  if (!db.has(key) || target.has(key)) return 0;
  db.copy(key, key, target);
  db.delete(key);
  return 1;
}

/**
 * `SWAPDB index1 index2`, after Redis's `swapdbCommand()`: every client of one database now sees
 * the other's keys. The keyspace objects stay where they are and swap their contents, so each
 * session's pointer, each `WATCH` table and each observer still belongs to the same number.
 */
function swapdb({ server }: Session, args: string[]): Reply {
  const first = databaseNumber(args[1], "invalid first DB index");
  if (typeof first !== "number") return first;
  const second = databaseNumber(args[2], "invalid second DB index");
  if (typeof second !== "number") return second;
  const a = server.databases[first];
  const b = server.databases[second];
  if (a === undefined || b === undefined) return OUT_OF_RANGE;
  a.swapWith(b);
  return OK;
}

/** Lab 2's commands for numbered databases. */
export const databaseCommands: readonly CommandSpec[] = [
  {
    name: "select",
    arity: 2,
    flags: ["loading", "stale", "fast"],
    group: "connection",
    summary: "Changes the database this connection reads and writes",
    arguments: [{ name: "index", type: "integer" }],
    handler: (session, args) => {
      const index = databaseNumber(args[1]);
      if (typeof index !== "number") return index;
      if (session.server.databases[index] === undefined) return OUT_OF_RANGE;
      selectDatabase(session, index);
      return OK;
    },
  },
  {
    name: "move",
    arity: 3,
    flags: ["write", "fast"],
    group: "generic",
    summary: "Moves a key to another database",
    arguments: [{ name: "key", type: "key" }, { name: "db", type: "integer" }],
    keys: { first: 1, last: 1, step: 1 },
    handler: move,
  },
  {
    name: "swapdb",
    arity: 3,
    flags: ["write", "fast"],
    group: "server",
    summary: "Swaps the contents of two databases",
    arguments: [{ name: "index1", type: "integer" }, { name: "index2", type: "integer" }],
    handler: swapdb,
  },
  {
    name: "flushall",
    arity: -1,
    flags: ["write"],
    group: "server",
    summary: "Removes every key of every database",
    handler: flushAll,
  },
];
