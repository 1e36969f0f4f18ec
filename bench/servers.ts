/**
 * The servers a comparison measures: a real `redis-server`, and every lab's `server.ts` that
 * exists. Each is started on a free port when its turn comes and stopped before the next starts.
 *
 * @module
 */

import {
  redisServerArgs,
  REPO_ROOT,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../shared/testing/processes.ts";
import { describeLab3BehindTunnel, startLab3BehindTunnel } from "./lab3_profile.ts";
import { commandLine, REDIS_ID, type ServerColumn } from "./report.ts";

/** What the comparison must know about a lab beyond where its server is. */
export interface LabProfile {
  /**
   * The server serves one client at a time: with 50 connections, 49 would wait forever, so the
   * multi-client rows are skipped for it.
   */
  oneClientAtATime?: boolean;
  /** Extra arguments for its server. */
  args?: string[];
  /**
   * Starts the server some other way than `startLabServer(entry, { args })`: lab 3, whose server
   * speaks only its encrypted channel, is measured through a local plaintext tunnel.
   */
  start?: () => Promise<RunningServer>;
  /** With {@link start}: the commands it ran, for the report. */
  describeStart?: (server: RunningServer) => string;
  /** More columns for the same lab started differently, such as lab 4 with its log on. */
  variants?: { suffix: string; note: string; profile: LabProfile }[];
}

/** The permissions `deno task lab4` grants, and its V8 flags (see labs/04-ttl-persistence). */
const LAB4_FLAGS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--v8-flags=--max-semi-space-size=8,--heap-growing-percent=10",
];

/**
 * Starts lab 4 in a fresh data directory, removed when it stops, with automatic snapshots off:
 * a snapshot taken in the middle of a measurement would show up as noise, not as a result.
 *
 * @param extraArgs More server flags, such as `--appendonly yes`.
 * @param root Another checkout to run it from (`bench:ab`'s baseline); this one by default.
 * @returns The profile.
 */
export function lab4Profile(extraArgs: string[], root?: string): LabProfile {
  const entry = "labs/04-ttl-persistence/server.ts";
  return {
    start: async () => {
      const dir = await Deno.makeTempDir({ prefix: "cachelab-bench-" });
      const server = await startLabServer(entry, {
        args: ["--dir", dir, "--save", "", ...extraArgs],
        denoFlags: LAB4_FLAGS,
        root,
      });
      const stop = async () => {
        await server.stop();
        await Deno.remove(dir, { recursive: true });
      };
      return { ...server, stop, [Symbol.asyncDispose]: stop };
    },
    describeStart: (s) =>
      `${
        commandLine("deno", ["run", ...LAB4_FLAGS, entry, "--port", "0", "--dir", "DIR"])
      } --save '' ${extraArgs.join(" ")}  # listening on ${s.addr}`,
  };
}

/**
 * Labs that need more than the defaults, by directory name. A lab whose server speaks only an
 * encrypted protocol would add its plaintext option here, or be measured by `loadgen.ts` with its
 * own `connect` function.
 */
export const LAB_PROFILES: Readonly<Record<string, LabProfile>> = {
  "01-single-client": { oneClientAtATime: true },
  "03-secure": { start: startLab3BehindTunnel, describeStart: describeLab3BehindTunnel },
  "04-ttl-persistence": {
    ...lab4Profile(["--appendonly", "no"]),
    variants: [{
      suffix: "aof",
      note: "+ AOF everysec",
      profile: lab4Profile(["--appendonly", "yes", "--appendfsync", "everysec"]),
    }],
  },
};

/** A server to measure: how to start it, and how to show it. */
export interface ServerPlan extends ServerColumn {
  /** See {@link LabProfile.oneClientAtATime}. */
  oneClientAtATime: boolean;
  /** Starts it on a free port; `null` if it is not installed. */
  start(): Promise<RunningServer | null>;
  /** The command that started it, for the report. */
  describeStart(server: RunningServer): string;
}

function planFor(id: string, title: string, entryPath: string, profile: LabProfile): ServerPlan {
  const args = profile.args ?? [];
  return {
    id,
    title,
    oneClientAtATime: profile.oneClientAtATime ?? false,
    start: profile.start ?? (() => startLabServer(entryPath, { args })),
    describeStart: profile.describeStart ??
      ((s) =>
        `${commandLine("deno", ["run", "--allow-net", entryPath, "--port", "0", ...args])}` +
        `  # listening on ${s.addr}`),
  };
}

/**
 * Finds `labs/NN-name/server.ts` for every lab that has one.
 *
 * @returns One plan per lab, in lab order, with ids `lab1`, `lab2`, …
 */
export function discoverLabs(): ServerPlan[] {
  const plans: ServerPlan[] = [];
  for (const entry of Deno.readDirSync(`${REPO_ROOT}labs`)) {
    const match = entry.name.match(/^(\d+)-/);
    if (!entry.isDirectory || !match) continue;
    const entryPath = `labs/${entry.name}/server.ts`;
    try {
      Deno.statSync(`${REPO_ROOT}${entryPath}`);
    } catch {
      continue; // a lab without a server yet
    }
    const profile = LAB_PROFILES[entry.name] ?? {};
    const id = `lab${Number(match[1])}`;
    plans.push(planFor(id, `${id} (${entry.name})`, entryPath, profile));
    for (const variant of profile.variants ?? []) {
      plans.push(
        planFor(`${id}-${variant.suffix}`, `${id} ${variant.note}`, entryPath, variant.profile),
      );
    }
  }
  return plans.sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }));
}

/**
 * The reference server.
 *
 * @returns A plan that starts `redis-server` with persistence off.
 */
export function redisPlan(): ServerPlan {
  return {
    id: REDIS_ID,
    title: "redis-server",
    oneClientAtATime: false,
    start: () => startRedisServer(),
    describeStart: (s) => commandLine("redis-server", redisServerArgs(s.port)),
  };
}
