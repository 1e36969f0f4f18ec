/**
 * The two commands memcached writes need in the append-only log, because Redis has none like them.
 *
 * Every memcached write is logged as RESP commands that replay the same effect (see `store.ts`).
 * Most have a Redis equivalent with absolute times: `set` is `SET key value PXAT ms`, `delete` is
 * `DEL`, `touch` is `PEXPIREAT`/`PERSIST`, `flush_all` is `FLUSHALL`. Two things have none:
 *
 * ```
 * MCFLAGS key flags       memcached's 32-bit flags on an existing key (logged after its SET)
 * MCFLUSHAT unix-ms       every key that exists now expires at unix-ms at the latest
 *                         (memcached's `flush_all <delay>`)
 * ```
 *
 * Lab 4's server registers them in its RESP command table, flagged `write`, so that replaying the
 * log (which runs commands through that table) restores flags and delayed flushes, and a RESP
 * client can use them too. A snapshot needs neither: it stores each key's flags and expiry itself.
 *
 * @module
 */

import { err, OK, type Reply } from "../../../shared/resp/reply.ts";
import type { CommandSpec } from "../../../shared/server/command_table.ts";
import type { ExpiringKeyspace } from "../keyspace.ts";

const NOT_AN_INTEGER = "value is not an integer or out of range";

/** Reads a non-negative decimal integer with no sign or leading zero, as Redis's `string2ll`. */
function parseNonNegative(text: string, max: number): number | null {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text)) return null;
  const value = Number(text);
  return value <= max ? value : null;
}

/**
 * Caps the expiry of every key that exists now at `at`: keys without an expiry, or with a later
 * one, get `at`; keys that expire sooner keep theirs. Memcached's `flush_all <delay>`.
 *
 * @param db The keyspace.
 * @param at Milliseconds since the epoch.
 */
export function expireAllBy(db: ExpiringKeyspace, at: number): void {
  // Copy the keys first: setExpiresAt() may delete (a time already past), and a Map must not be
  // changed while it is being iterated.
  for (const key of [...db.keys()]) {
    const current = db.expiresAt(key);
    if (current === null || current > at) db.setExpiresAt(key, at);
  }
}

/** `MCFLAGS key flags`: sets memcached's flags on an existing key; replies 1, or 0 if it is missing. */
function mcflags(db: ExpiringKeyspace, args: string[]): Reply {
  const flags = parseNonNegative(args[2], 0xffffffff);
  if (flags === null) return err(NOT_AN_INTEGER);
  if (!db.has(args[1])) return 0;
  db.setFlags(args[1], flags);
  return 1;
}

/** `MCFLUSHAT unix-ms`: every existing key expires at that time at the latest. */
function mcflushat(db: ExpiringKeyspace, args: string[]): Reply {
  const at = parseNonNegative(args[1], Number.MAX_SAFE_INTEGER);
  if (at === null) return err(NOT_AN_INTEGER);
  expireAllBy(db, at);
  return OK;
}

/**
 * Commands the RESP side registers so that memcached writes can be logged and replayed
 * (memcached's flags and delayed flush have no Redis command).
 *
 * @param db The keyspace they act on: lab 4's, which holds the flags.
 * @returns The commands.
 */
export function memcacheLogCommands(db: ExpiringKeyspace): CommandSpec[] {
  return [
    {
      name: "mcflags",
      arity: 3,
      flags: ["write", "fast"],
      group: "string",
      summary: "Sets the memcached flags of an existing key (0 removes them)",
      arguments: [{ name: "key", type: "key" }, { name: "flags", type: "integer" }],
      keys: { first: 1, last: 1, step: 1 },
      handler: (_session, args) => mcflags(db, args),
    },
    {
      name: "mcflushat",
      arity: 2,
      flags: ["write"],
      group: "generic",
      summary: "Makes every existing key expire at a Unix time in milliseconds at the latest " +
        "(memcached's flush_all with a delay)",
      arguments: [{ name: "unix-time-milliseconds", type: "unix-time" }],
      handler: (_session, args) => mcflushat(db, args),
    },
  ];
}
