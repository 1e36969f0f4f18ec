/**
 * The state-equivalence experiment: after a stop and a restart, is the keyspace exactly what the
 * server had acknowledged — every key, value, TTL and memcached flag — with the keys whose time
 * came while the server was down gone?
 *
 * One round:
 *
 * 1. start lab 4 as a child process, with its memcached port, in one of three set-ups: the log with
 *    `always`, the log with `everysec`, or snapshots only;
 * 2. run a seeded random mix of writes over both protocols, weighted towards what changes TTLs:
 *    `SET … PX` with times short enough to be over before the restart, then `PERSIST`, `EXPIRE`, `GETEX`, `INCR`, `APPEND`, memcached
 *    `set` with an exptime, `touch`, `incr`, `append`; halfway, a `BGREWRITEAOF`. Every command
 *    waits for its reply: all of them are acknowledged;
 * 3. read back what the server holds: every key's value, its TTL, its flags;
 * 4. stop it, cleanly (SIGTERM) or with `kill -9` (not for snapshots alone, which by design lose
 *    what came after the last save), wait a moment, and start it again on the same directory;
 * 5. compare. A key with no TTL, or one more than a second from its end, must be there with the
 *    same value and flags and its TTL within a second; a key whose time has passed must be gone;
 *    a key within a second of its end either way is not judged. No key may appear that was not
 *    there.
 *
 * The read-back in step 3 is the oracle: it is what any client could see, so it is what the server
 * acknowledged. `equivalence_test.ts` runs a few seeded rounds; `deno task bench:crash-soak
 * --equivalence N` runs many.
 *
 * @module
 */

import { RawClient } from "../shared/testing/raw_client.ts";
import { SeededRandom } from "../shared/testing/random.ts";
import { type RunningServer, startLabServer } from "../shared/testing/processes.ts";
import { ErrorReply, type Reply, SimpleString } from "../shared/resp/reply.ts";
import { McClient } from "../labs/04-ttl-persistence/memcache/testing.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY } from "../labs/04-ttl-persistence/test_support.ts";

/** Which persistence the round runs with. */
export type EquivalenceMode = "always" | "everysec" | "snapshot";

/** Options for {@link equivalenceRound}. */
export interface EquivalenceOptions {
  /** An empty data directory. */
  dir: string;
  /** Seeds the workload: the same seed, the same commands. */
  seed: number;
  /** The persistence set-up. */
  mode: EquivalenceMode;
  /** How the server is stopped before the restart. */
  stop: "clean" | "kill";
  /** How many write commands (default 300). */
  operations?: number;
}

/** What one round found. */
export interface EquivalenceRound {
  /** Keys the server held before the stop. */
  keys: number;
  /** Keys compared after the restart (alive, or expired while down). */
  checked: number;
  /** Of those, keys whose time came while the server was down, and that were gone. */
  expiredWhileDown: number;
  /** Keys too close to their end to judge. */
  skipped: number;
  /** Everything wrong; empty when the round passed. */
  problems: string[];
}

/** One key as read back: value, absolute expiry (estimated), flags. */
interface Observed {
  value: string;
  expiresAt: number | null;
  flags: number;
}

function serverArgs(dir: string, mode: EquivalenceMode): string[] {
  const persistence = mode === "snapshot"
    ? ["--save", "3600 1", "--appendonly", "no"]
    : ["--save", "", "--appendonly", "yes", "--appendfsync", mode];
  return ["--dir", dir, "--memcache-port", "0", ...persistence];
}

async function start(dir: string, mode: EquivalenceMode): Promise<[RunningServer, string]> {
  const server = await startLabServer(LAB4_ENTRY, {
    args: serverArgs(dir, mode),
    denoFlags: [...LAB4_DENO_FLAGS],
  });
  // Printed right after the "listening on" line, possibly in a later chunk.
  for (let tries = 0; tries < 50; tries++) {
    const found = /memcached protocol on (\S+:\d+)/.exec(server.output());
    if (found) return [server, found[1]];
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await server.stop();
  throw new Error(`Lab 4 printed no memcached address:\n${server.output()}`);
}

/** A reply as plain data: `+OK` as "OK", an error as "-ERR …". */
function plain(reply: Reply): Reply {
  if (reply instanceof SimpleString) return reply.value;
  if (reply instanceof ErrorReply) return `-${reply.message}`;
  return reply;
}

/**
 * The workload: the scenarios that once lost data, then a seeded random mix.
 */
async function writeAll(
  resp: RawClient,
  mc: McClient,
  options: Required<Pick<EquivalenceOptions, "seed" | "operations" | "mode">>,
): Promise<void> {
  const rng = new SeededRandom(options.seed);
  const next = () => rng.float();
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  // Short enough to be over by the time the log is replayed: then replaying must not expire them.
  const short = () => String(50 + Math.floor(next() * 350));
  const keys = Array.from({ length: 40 }, (_, i) => `key:${i}`);
  const values = ["v", "", "0", "41", "\0\r\n\xff", "x".repeat(300), "12345678901234567890"];
  const mcLine = async (line: string, data?: string) => {
    await mc.send(data === undefined ? `${line}\r\n` : `${line}\r\n${data}\r\n`);
    await mc.readLine();
  };

  // What lost acknowledged writes before loading stopped expiring keys: a short TTL, then made
  // longer or removed, then built on.
  const scripted: string[][] = [
    ["SET", "persisted", "v", "PX", "200"],
    ["PERSIST", "persisted"],
    ["SET", "extended", "v", "PX", "200"],
    ["EXPIRE", "extended", "3600"],
    ["SET", "counter", "100", "PX", "200"],
    ["PERSIST", "counter"],
    ...Array.from({ length: 5 }, () => ["INCR", "counter"]),
    ["SET", "grown", "1", "PX", "200"],
    ["PEXPIRE", "grown", "3600000"],
    ["APPEND", "grown", "x"],
    ["SET", "gone", "v", "PX", "200"],
    ["APPEND", "gone", "x"],
  ];
  for (const command of scripted) await resp.call(...command);
  await mcLine("set memcached 7 1 1", "m");
  await mcLine("touch memcached 0");

  for (let i = 0; i < options.operations; i++) {
    const key = pick(keys);
    const roll = next();
    if (options.mode !== "snapshot" && i === Math.floor(options.operations / 2)) {
      await resp.call("BGREWRITEAOF");
    }
    if (roll < 0.1) await resp.call("SET", key, pick(values));
    else if (roll < 0.22) await resp.call("SET", key, pick(values), "PX", short());
    else if (roll < 0.26) await resp.call("SET", key, pick(values), "EX", "3600");
    else if (roll < 0.3) await resp.call("SET", key, pick(values), "KEEPTTL");
    else if (roll < 0.33) await resp.call("SETEX", key, "3600", pick(values));
    else if (roll < 0.43) await resp.call("PERSIST", key);
    else if (roll < 0.49) await resp.call("EXPIRE", key, "3600");
    else if (roll < 0.55) await resp.call("PEXPIRE", key, short());
    else if (roll < 0.58) await resp.call("GETEX", key, "PERSIST");
    else if (roll < 0.61) await resp.call("GETEX", key, "PX", short());
    else if (roll < 0.69) await resp.call("INCR", key);
    else if (roll < 0.75) await resp.call("APPEND", key, pick(values));
    else if (roll < 0.78) await resp.call("DEL", key);
    else if (roll < 0.86) {
      const flags = next() < 0.5 ? 0 : Math.floor(next() * 0xffffffff);
      const value = pick(values);
      await mcLine(`set ${key} ${flags} ${pick(["0", "1", "2", "3600"])} ${value.length}`, value);
    } else if (roll < 0.91) await mcLine(`touch ${key} ${pick(["0", "1", "3600"])}`);
    else if (roll < 0.94) {
      const value = pick(values);
      await mcLine(`append ${key} 0 0 ${value.length}`, value);
    } else if (roll < 0.97) await mcLine(`incr ${key} ${1 + Math.floor(next() * 100)}`);
    else await mcLine(`delete ${key}`);
  }
}

/** Reads every key the server holds: value, TTL (as an absolute time), memcached flags. */
async function readBack(resp: RawClient, mc: McClient): Promise<Map<string, Observed>> {
  const keys = await resp.call("KEYS", "*");
  if (!Array.isArray(keys)) throw new Error(`KEYS * answered ${JSON.stringify(plain(keys))}`);
  const state = new Map<string, Observed>();
  for (const key of keys) {
    if (typeof key !== "string") continue;
    const value = await resp.call("GET", key);
    const readAt = Date.now();
    const pttl = await resp.call("PTTL", key);
    if (typeof value !== "string" || typeof pttl !== "number" || pttl === -2) continue;
    state.set(key, {
      value,
      expiresAt: pttl === -1 ? null : readAt + pttl,
      flags: await flagsOf(mc, key),
    });
  }
  return state;
}

/** A key's memcached flags, from a memcached `get`. */
async function flagsOf(mc: McClient, key: string): Promise<number> {
  await mc.send(`get ${key}\r\n`);
  const header = await mc.readLine();
  if (header === "END") return -1;
  const [, , flags, bytes] = header.split(" ");
  await mc.read(Number(bytes) + 2);
  await mc.expect("END\r\n");
  return Number(flags);
}

/** How far apart two TTLs may be and still count as the same: the restart takes time. */
const TTL_SLACK_MS = 1000;

/**
 * Runs one round of the experiment.
 *
 * @param options The directory, seed, set-up and kind of stop.
 * @returns What it found.
 */
export async function equivalenceRound(options: EquivalenceOptions): Promise<EquivalenceRound> {
  const { dir, mode, stop } = options;
  if (mode === "snapshot" && stop === "kill") {
    throw new RangeError("Snapshots alone keep only what the last save had: stop cleanly");
  }
  let before: Map<string, Observed>;
  {
    const [server, mcAddr] = await start(dir, mode);
    try {
      await using resp = await RawClient.connect(server.addr);
      await using mc = await McClient.connect(mcAddr);
      await writeAll(resp, mc, {
        seed: options.seed,
        operations: options.operations ?? 300,
        mode,
      });
      before = await readBack(resp, mc);
    } finally {
      if (stop === "kill") await server.kill("SIGKILL");
      else await server.stop();
    }
  }
  // Long enough for the short TTLs to be over before the restart replays them.
  await new Promise((resolve) => setTimeout(resolve, 400));

  const [server, mcAddr] = await start(dir, mode);
  const result: EquivalenceRound = {
    keys: before.size,
    checked: 0,
    expiredWhileDown: 0,
    skipped: 0,
    problems: [],
  };
  try {
    await using resp = await RawClient.connect(server.addr);
    await using mc = await McClient.connect(mcAddr);
    const problem = (text: string) => result.problems.push(text);
    for (const [key, was] of before) {
      const now = Date.now();
      const value = await resp.call("GET", key);
      if (was.expiresAt !== null && was.expiresAt < now) {
        result.checked++;
        result.expiredWhileDown++;
        if (value !== null) problem(`${key}: due while down, yet still there`);
        continue;
      }
      if (was.expiresAt !== null && was.expiresAt <= now + TTL_SLACK_MS) {
        result.skipped++;
        continue;
      }
      result.checked++;
      if (value !== was.value) {
        problem(`${key}: ${JSON.stringify(plain(value))}, was ${JSON.stringify(was.value)}`);
        continue;
      }
      const pttl = await resp.call("PTTL", key);
      if (was.expiresAt === null) {
        if (pttl !== -1) problem(`${key}: PTTL ${JSON.stringify(plain(pttl))}, had no TTL`);
      } else if (
        typeof pttl !== "number" || pttl < 0 ||
        Math.abs(Date.now() + pttl - was.expiresAt) > TTL_SLACK_MS
      ) {
        problem(
          `${key}: PTTL ${JSON.stringify(plain(pttl))}, expected about ${was.expiresAt - now}`,
        );
      }
      const flags = await flagsOf(mc, key);
      if (flags !== was.flags) problem(`${key}: flags ${flags}, were ${was.flags}`);
    }
    const after = await resp.call("KEYS", "*");
    for (const key of Array.isArray(after) ? after : []) {
      if (typeof key === "string" && !before.has(key)) problem(`${key}: back after the restart`);
    }
    if (/!!! Warning|Bad file format/.test(server.log())) {
      problem(`the restart complained:\n${server.log()}`);
    }
  } finally {
    await server.stop();
  }
  return result;
}
