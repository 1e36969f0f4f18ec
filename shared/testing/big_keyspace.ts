/**
 * Checks that hold a realistic keyspace: thousands of keys, overwritten, deleted and read back,
 * then read back again after the rest of the run.
 *
 * The other checks each hold a key or three, so a server that kept only its last three keys
 * (a fixed-size array, a cache with a tiny bound) passed them all. A grader must not be that
 * easy to fool: here every key written is read back, and the report says how many came back
 * wrong and which.
 *
 * The keys are the run's ({@link StepContext.runKey}) and their values are recomputed from the
 * run's seed, so a later check can verify what an earlier one wrote without either remembering
 * anything.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { OK, type Reply } from "../resp/reply.ts";
import { type RawClient, showValue } from "./raw_client.ts";
import type { StepContext, SuiteStep } from "./suite.ts";

/** How many commands go in one write: big enough to be quick, small enough for any server. */
const BATCH = 500;

/** `*N\r\n$...` for a command, the way client libraries send it. */
function command(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`;
}

/** What a key of the big keyspace should hold once the churn is done: `null` if deleted. */
function expectedValue(ctx: StepContext, label: string, i: number): string | null {
  if (i % 11 === 5) return null;
  return i % 7 === 3 ? ctx.runValue(`${label}:${i}:again`, 16) : ctx.runValue(`${label}:${i}`, 16);
}

/**
 * Sends commands in pipelined batches and hands each reply, in order, to `check`.
 *
 * @param c The connection.
 * @param commands The commands.
 * @param check Called with each command's index and reply.
 */
async function pipeline(
  c: RawClient,
  commands: readonly string[][],
  check: (index: number, reply: Reply) => void,
): Promise<void> {
  for (let start = 0; start < commands.length; start += BATCH) {
    const batch = commands.slice(start, start + BATCH);
    await c.send(batch.map(command).join(""));
    for (let i = 0; i < batch.length; i++) check(start + i, await c.readReply());
  }
}

/** Collects wrong replies and fails once, saying how many and showing the first few. */
class Mismatches {
  #count = 0;
  #shown: string[] = [];

  /** One wrong reply, and the reply that was expected. */
  add(what: string, got: Reply, expected: Reply): void {
    this.addText(what, got, showValue(expected));
  }

  /** One wrong reply, and in words what was expected (`an integer from 1 to 3600`). */
  addText(what: string, got: Reply, expected: string): void {
    if (++this.#count <= 3) {
      this.#shown.push(`${what} replied ${showValue(got)}, expected ${expected}`);
    }
  }

  /** Fails with `summary` (given the count, such as "2,000") and the first few, if any. */
  throwIfAny(summary: (count: string) => string): void {
    if (this.#count === 0) return;
    throw new AssertionError({
      message: `${summary(this.#count.toLocaleString("en"))}. The first:\n${
        this.#shown.join("\n")
      }`,
    });
  }
}

function sameReply(a: Reply, b: Reply): boolean {
  return typeof a === typeof b && showValue(a) === showValue(b);
}

/**
 * Reads every key of the big keyspace back and fails if any differs from what it should hold.
 *
 * @param c The connection.
 * @param ctx The step, for the run's keys and values.
 * @param label The keyspace's name.
 * @param keys How many keys it has.
 * @param when Words for the report: when the keys were written.
 */
async function verifyKeyspace(
  c: RawClient,
  ctx: StepContext,
  label: string,
  keys: number,
  when: string,
): Promise<void> {
  const wrong = new Mismatches();
  const gets = Array.from({ length: keys }, (_, i) => ["GET", ctx.runKey(`${label}:${i}`)]);
  await pipeline(c, gets, (i, reply) => {
    const expected = expectedValue(ctx, label, i);
    if (!sameReply(reply, expected)) wrong.add(`GET ${gets[i][1]} (key ${i + 1})`, reply, expected);
  });
  wrong.throwIfAny((count) =>
    `${count} of ${keys.toLocaleString("en")} keys written ${when} read back wrong`
  );
}

/** Options for {@link bigKeyspaceSteps}. */
export interface BigKeyspaceOptions {
  /** Names this keyspace's keys, so two labs' keyspaces in one run do not meet. */
  label: string;
  /** How many keys. */
  keys: number;
  /**
   * Whether the connections must take turns (lab 1 serves one client at a time: a second
   * connection would wait for the first to close).
   */
  oneClientAtATime?: boolean;
}

/**
 * Two checks: one writes a keyspace, churns it (every 7th key overwritten, every 11th deleted,
 * from another connection) and reads it all back; the other, placed at the end of a suite,
 * reads it all back again after every other check has run.
 *
 * @param options The keyspace's name and size.
 * @returns The writer and the re-reader.
 */
export function bigKeyspaceSteps(
  options: BigKeyspaceOptions,
): { write: SuiteStep; reread: SuiteStep } {
  const { label, keys } = options;
  const size = keys.toLocaleString("en");
  const write: SuiteStep = {
    name: `the server holds ${size} keys: each reads back its own value after overwrites and ` +
      `deletes`,
    redis: true,
    points: 5,
    async run(ctx) {
      const writer = await ctx.connect();
      const sets = Array.from(
        { length: keys },
        (_, i) => ["SET", ctx.runKey(`${label}:${i}`), ctx.runValue(`${label}:${i}`, 16)],
      );
      const notOk = new Mismatches();
      await pipeline(writer, sets, (i, reply) => {
        if (!sameReply(reply, OK)) notOk.add(`SET ${sets[i][1]}`, reply, OK);
      });
      notOk.throwIfAny((count) => `${count} of ${size} SETs did not reply +OK`);
      if (options.oneClientAtATime) await writer.close();

      const churner = await ctx.connect();
      const churn: string[][] = [];
      for (let i = 0; i < keys; i++) {
        const key = ctx.runKey(`${label}:${i}`);
        if (i % 7 === 3) churn.push(["SET", key, ctx.runValue(`${label}:${i}:again`, 16)]);
        if (i % 11 === 5) churn.push(["DEL", key]);
      }
      const badChurn = new Mismatches();
      await pipeline(churner, churn, (i, reply) => {
        const expected: Reply = churn[i][0] === "DEL" ? 1 : OK;
        if (!sameReply(reply, expected)) {
          badChurn.add(churn[i].slice(0, 2).join(" "), reply, expected);
        }
      });
      badChurn.throwIfAny((count) => `${count} of ${churn.length} overwrites and deletes failed`);
      if (options.oneClientAtATime) await churner.close();

      await verifyKeyspace(await ctx.connect(), ctx, label, keys, "by this check");
    },
  };
  const reread: SuiteStep = {
    name: `the ${size} keys written earlier are all still there at the end of the run`,
    redis: true,
    points: 3,
    async run(ctx) {
      await verifyKeyspace(await ctx.connect(), ctx, label, keys, "earlier in this run");
    },
  };
  return { write, reread };
}

/** What a key of the expiring keyspace is given: a long TTL, a short one, or none. */
function ttlKind(i: number): "long" | "short" | "none" {
  return i % 3 === 0 ? "long" : i % 3 === 1 ? "short" : "none";
}

/** Long enough that no machine is slow enough for it to pass mid-run. */
const LONG_TTL_S = 3600;
/** Short enough to wait for: the keys given it are gone by the time they are read. */
const SHORT_TTL_MS = 200;

/**
 * Reads every key of the expiring keyspace back with GET and TTL: the short-lived keys must be
 * gone, the others hold their value, with their TTL (at most an hour) or none (-1).
 */
async function verifyExpiringKeyspace(
  c: RawClient,
  ctx: StepContext,
  label: string,
  keys: number,
  when: string,
): Promise<void> {
  const wrong = new Mismatches();
  const commands: string[][] = [];
  for (let i = 0; i < keys; i++) {
    const key = ctx.runKey(`${label}:${i}`);
    commands.push(["GET", key], ["TTL", key]);
  }
  await pipeline(c, commands, (n, reply) => {
    const i = Math.floor(n / 2);
    const kind = ttlKind(i);
    const what = `${commands[n][0]} ${commands[n][1]} (key ${i + 1}, ${kind} TTL)`;
    if (n % 2 === 0) {
      const expected = kind === "short" ? null : ctx.runValue(`${label}:${i}`, 16);
      if (!sameReply(reply, expected)) wrong.add(what, reply, expected);
    } else if (kind === "long") {
      if (typeof reply !== "number" || reply < 1 || reply > LONG_TTL_S) {
        wrong.addText(what, reply, `an integer from 1 to ${LONG_TTL_S}`);
      }
    } else {
      const expected = kind === "short" ? -2 : -1;
      if (!sameReply(reply, expected)) wrong.add(what, reply, expected);
    }
  });
  wrong.throwIfAny((count) =>
    `${count} of ${commands.length.toLocaleString("en")} GETs and TTLs of the keys written ` +
    `${when} read back wrong`
  );
}

/**
 * Lab 4's pair: one check writes a keyspace where a third of the keys live an hour, a third
 * 200 ms and a third forever, waits for the short ones to pass, and reads every value and TTL
 * back; the other reads it all again later in the run. A server that forgets keys fails, and so
 * does one that never expires them.
 *
 * @param options The keyspace's name and size.
 * @returns The writer and the re-reader.
 */
export function expiringKeyspaceSteps(
  options: BigKeyspaceOptions,
): { write: SuiteStep; reread: SuiteStep } {
  const { label, keys } = options;
  const size = keys.toLocaleString("en");
  const write: SuiteStep = {
    name: `the server holds ${size} keys with and without TTLs: short ones expire, the rest ` +
      `keep their values and TTLs`,
    redis: true,
    points: 5,
    async run(ctx) {
      const c = await ctx.connect();
      const sets = Array.from({ length: keys }, (_, i) => {
        const args = ["SET", ctx.runKey(`${label}:${i}`), ctx.runValue(`${label}:${i}`, 16)];
        const kind = ttlKind(i);
        if (kind === "long") args.push("EX", String(LONG_TTL_S));
        if (kind === "short") args.push("PX", String(SHORT_TTL_MS));
        return args;
      });
      const notOk = new Mismatches();
      await pipeline(c, sets, (i, reply) => {
        if (!sameReply(reply, OK)) notOk.add(sets[i].join(" "), reply, OK);
      });
      notOk.throwIfAny((count) => `${count} of ${size} SETs did not reply +OK`);
      // Every SET has been answered, so the last short-lived key is past its time by now + TTL.
      await new Promise((resolve) => setTimeout(resolve, SHORT_TTL_MS + 100));
      await verifyExpiringKeyspace(c, ctx, label, keys, "by this check");
    },
  };
  const reread: SuiteStep = {
    name: `the ${size} keys with TTLs written earlier read back the same later in the run`,
    redis: true,
    points: 3,
    async run(ctx) {
      await verifyExpiringKeyspace(await ctx.connect(), ctx, label, keys, "earlier in this run");
    },
  };
  return { write, reread };
}

/**
 * Lab 4's persistence, black-box: keys with and without TTLs, `SAVE`, a restart (the same
 * command, the same data directory), and every key and TTL read back. A server that keeps its
 * data only in memory scores everything else and fails this. Only the grader can run it: it
 * alone started the server, so it alone can start it again.
 *
 * @param options The keyspace's name and size.
 * @returns The check.
 */
export function restartKeyspaceStep(options: BigKeyspaceOptions): SuiteStep {
  const { label, keys } = options;
  const size = keys.toLocaleString("en");
  const value = (ctx: StepContext, i: number) => ctx.runValue(`${label}:${i}`, 16);
  return {
    name: `${size} keys and their TTLs, saved with SAVE, are all there after a restart`,
    redis: true,
    points: 5,
    needsRestart: true,
    async run(ctx) {
      const c = await ctx.connect();
      const sets = Array.from({ length: keys }, (_, i) => {
        const args = ["SET", ctx.runKey(`${label}:${i}`), value(ctx, i)];
        if (i % 2 === 0) args.push("EX", String(LONG_TTL_S));
        return args;
      });
      const notOk = new Mismatches();
      await pipeline(c, [...sets, ["SAVE"]], (i, reply) => {
        if (!sameReply(reply, OK)) notOk.add((sets[i] ?? ["SAVE"]).join(" "), reply, OK);
      });
      notOk.throwIfAny((count) => `${count} of ${size} SETs and the SAVE did not reply +OK`);
      await ctx.restart();
      const after = await ctx.connect();
      const wrong = new Mismatches();
      const reads = sets.flatMap(([, key]) => [["GET", key], ["TTL", key]]);
      await pipeline(after, reads, (n, reply) => {
        const i = Math.floor(n / 2);
        const what = `${reads[n].join(" ")} (key ${i + 1}) after the restart`;
        if (n % 2 === 0) {
          if (!sameReply(reply, value(ctx, i))) wrong.add(what, reply, value(ctx, i));
        } else if (i % 2 === 1) {
          if (!sameReply(reply, -1)) wrong.add(what, reply, -1);
        } else if (typeof reply !== "number" || reply < 1 || reply > LONG_TTL_S) {
          wrong.addText(what, reply, `an integer from 1 to ${LONG_TTL_S}`);
        }
      });
      wrong.throwIfAny((count) =>
        `${count} of ${reads.length.toLocaleString("en")} GETs and TTLs read back wrong after ` +
        `a restart`
      );
    },
  };
}
