/**
 * Lab 4's command line: lab 3's flags (lab 2's limits, the secure channel's, `--requirepass`),
 * taken as they are through lab 3's parser, plus persistence, memory, expiry, the memcached port,
 * and `--secure` to turn lab 3's channel on.
 *
 * The persistence flags are spelt as `redis-server` spells them, so what a student learns here
 * carries over: `--save 60 1000`, `--appendonly yes`, `--appendfsync everysec`,
 * `--maxmemory 100mb`.
 *
 * @module
 */

import { usageError } from "../../shared/cli.ts";
import { parseSize } from "../02-threaded/cli.ts";
import { type Lab3Options, parseLab3ArgsWith } from "../03-secure/cli.ts";
import { EVICTION_POLICIES, type EvictionPolicy, isEvictionPolicy } from "./eviction.ts";
import type { FsyncPolicy, PersistenceOptions } from "./persistence/mod.ts";

/** Lab 4's server options. */
export interface Lab4Options extends Lab3Options {
  /** Snapshot and log: where, which files, when. */
  persistence: PersistenceOptions;
  /** Most bytes of data before eviction (`--maxmemory`); 0 means no limit. */
  maxmemory: number;
  /** What to evict (`--maxmemory-policy`). */
  maxmemoryPolicy: EvictionPolicy;
  /** Active expiry ticks per second (`--hz`, Redis's `hz`). */
  hz: number;
  /** The memcached protocol's port (`--memcache-port`); `null` when off. */
  memcachePort: number | null;
}

const USAGE = "deno task lab4";

/** Redis's default save points: 1 hour and 1 change, 5 minutes and 100, 1 minute and 10000. */
const DEFAULT_SAVE = "3600 1 300 100 60 10000";

const HELP = `  --dbfilename NAME         snapshot file in DIR, an RDB file (default dump.rdb)
  --save SECONDS CHANGES    snapshot after SECONDS if at least CHANGES writes happened; repeat
                            for more save points, or --save "" for none
                            (default ${DEFAULT_SAVE})
  --appendonly yes|no       keep an append-only log of every write (default no)
  --appendfsync POLICY      when the log is flushed to disk: always, everysec or no
                            (default everysec)
  --appendfilename NAME     log file in DIR (default appendonly.aof)
  --stop-writes-on-bgsave-error yes|no
                            with save points, refuse writes (-MISCONF) while the last
                            background save failed (default yes)
  --maxmemory SIZE          most bytes of data, such as 100mb; 0 means no limit (default 0)
  --maxmemory-policy NAME   what to evict past maxmemory: noeviction (the default),
                            allkeys-lru, volatile-lru, allkeys-random or volatile-random
  --hz N                    active expiry ticks per second, 1 to 500 (default 10)
  --memcache-port PORT      also speak the memcached text protocol on PORT (default off)
  --secure                  serve through lab 3's encrypted channel (its identity key is
                            kept in DIR)
  --memcache-insecure       accept a memcached port, which has no encryption and no
                            password, beside --secure, --tls-cert or --requirepass
`;

/**
 * Joins `--save 60 1000` into `--save=60 1000`, as `redis-server` reads it. The flag parser takes
 * one word per flag, and Redis's spelling has two.
 *
 * @param argv The arguments.
 * @returns The same arguments, each `--save SECONDS CHANGES` made one word.
 */
export function joinSaveArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (
      argv[i] === "--save" && /^\d+$/.test(argv[i + 1] ?? "") && /^\d+$/.test(argv[i + 2] ?? "")
    ) {
      out.push(`--save=${argv[i + 1]} ${argv[i + 2]}`);
      i += 2;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/**
 * Parses save points: pairs of numbers, `"900 1 300 10"` or several `--save` flags; `""` for none.
 *
 * @param values Each `--save` given.
 * @returns The save points, or `null` if one is not a pair of whole numbers.
 */
export function parseSavePoints(
  values: readonly string[],
): { seconds: number; changes: number }[] | null {
  const points: { seconds: number; changes: number }[] = [];
  for (const value of values) {
    const words = value.trim().split(/\s+/).filter((w) => w !== "");
    if (words.length % 2 !== 0 || words.some((w) => !/^\d+$/.test(w))) return null;
    for (let i = 0; i < words.length; i += 2) {
      points.push({ seconds: Number(words[i]), changes: Number(words[i + 1]) });
    }
  }
  return points;
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  usageError(`Invalid ${name}: "${value}" is not one of ${allowed.join(", ")}`, USAGE);
}

/**
 * Parses lab 4's arguments. Prints help and exits 0 for `--help`; prints the problem and exits 2
 * for an unknown flag or a bad value.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @returns The options.
 */
export function parseLab4Args(argv: string[]): Lab4Options {
  const { options, extra } = parseLab3ArgsWith(joinSaveArgs(argv), {
    usage: USAGE,
    description: "Lab 4: a Redis-compatible cache with expiry, eviction and persistence.",
    options: {
      dbfilename: { type: "string", default: "dump.rdb" },
      save: { type: "string", multiple: true },
      appendonly: { type: "string", default: "no" },
      appendfsync: { type: "string", default: "everysec" },
      appendfilename: { type: "string", default: "appendonly.aof" },
      "stop-writes-on-bgsave-error": { type: "string", default: "yes" },
      maxmemory: { type: "string", default: "0" },
      "maxmemory-policy": { type: "string", default: "noeviction" },
      hz: { type: "string", default: "10" },
      "memcache-port": { type: "string" },
      secure: { type: "boolean", default: false },
      "memcache-insecure": { type: "boolean", default: false },
    },
    help: HELP,
  });
  const text = (name: string): string => String(extra[name]);

  const saveValues = (extra.save as string[] | undefined) ?? [DEFAULT_SAVE];
  const save = parseSavePoints(saveValues);
  if (save === null) {
    usageError(`Invalid save: "${saveValues.join(" ")}" is not pairs of SECONDS CHANGES`, USAGE);
  }
  const appendonly = oneOf("appendonly", text("appendonly"), ["yes", "no"]) === "yes";
  const appendfsync = oneOf<FsyncPolicy>("appendfsync", text("appendfsync"), [
    "always",
    "everysec",
    "no",
  ]);
  for (const name of ["dbfilename", "appendfilename"]) {
    if (text(name) === "" || text(name).includes("/")) {
      usageError(`Invalid ${name}: "${text(name)}" must be a file name, not a path`, USAGE);
    }
  }
  const maxmemory = parseSize(text("maxmemory"));
  if (maxmemory === null) {
    usageError(`Invalid maxmemory: "${text("maxmemory")}" is not a size`, USAGE);
  }
  const policy = text("maxmemory-policy");
  if (!isEvictionPolicy(policy)) {
    usageError(
      `Invalid maxmemory-policy: "${policy}" is not one of ${EVICTION_POLICIES.join(", ")}`,
      USAGE,
    );
  }
  const hz = Number(text("hz"));
  if (!/^\d+$/.test(text("hz")) || hz < 1 || hz > 500) {
    usageError(`Invalid hz: "${text("hz")}" is not a number from 1 to 500`, USAGE);
  }
  let memcachePort: number | null = null;
  if (extra["memcache-port"] !== undefined) {
    memcachePort = Number(text("memcache-port"));
    if (!/^\d+$/.test(text("memcache-port")) || memcachePort > 65535) {
      usageError(
        `Invalid memcache-port: "${text("memcache-port")}" is not a number from 0 to 65535`,
        USAGE,
      );
    }
  }
  const secure = extra.secure === true;
  if (secure && options.tls !== undefined) {
    usageError("--secure serves the secure channel, --tls-cert standard TLS: choose one", USAGE);
  }
  // The memcached protocol has no encryption and (in its text form) no password: next to a
  // protected port, it serves the same keys to anyone in plaintext, so a key written through the
  // channel can be read, or erased with flush_all, on the memcached port. Only an operator who
  // says so explicitly gets both.
  const guarded = secure || options.tls !== undefined || options.requirepass !== undefined;
  if (memcachePort !== null && guarded && extra["memcache-insecure"] !== true) {
    usageError(
      "--memcache-port serves the same keys in plaintext with no password, which undoes " +
        "--secure, --tls-cert and --requirepass. Leave one out, or add --memcache-insecure to " +
        "accept that",
      USAGE,
    );
  }
  if (extra["memcache-insecure"] === true && (memcachePort === null || !guarded)) {
    usageError(
      "--memcache-insecure is for --memcache-port beside --secure, --tls-cert or --requirepass",
      USAGE,
    );
  }
  return {
    ...options,
    persistence: {
      dir: options.dir,
      dbfilename: text("dbfilename"),
      save,
      appendonly,
      appendfsync,
      appendfilename: text("appendfilename"),
      stopWritesOnBgsaveError:
        oneOf("stop-writes-on-bgsave-error", text("stop-writes-on-bgsave-error"), ["yes", "no"]) ===
          "yes",
    },
    maxmemory,
    maxmemoryPolicy: policy,
    hz,
    memcachePort,
    // Lab 3 always serves through its channel; lab 4 only when asked.
    secure,
  };
}
