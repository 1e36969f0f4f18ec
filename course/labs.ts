/**
 * The course's labs, as the course tools see them: where each lives, how to start its server,
 * how to connect to it, and its black-box checks.
 *
 * @module
 */

import { join } from "node:path";
import { freePort, hasProgram, REPO_ROOT, startLabServer } from "../shared/testing/processes.ts";
import { RawClient } from "../shared/testing/raw_client.ts";
import {
  type LabProgram,
  type RawConnect,
  StepContext,
  type SuiteStep,
} from "../shared/testing/suite.ts";
import type { McStep } from "../labs/04-ttl-persistence/memcache/testing.ts";
import { McStepContext } from "../labs/04-ttl-persistence/memcache/testing.ts";
import { CheckFailure } from "./check_failure.ts";
import type { RestartOptions } from "./target.ts";

/** What every check of one run shares: the seed its keys and values come from, the timeout. */
export interface CheckEnv {
  /** The run's seed. */
  seed: number;
  /** How long each read waits for the server, in milliseconds. */
  timeoutMs: number;
  /**
   * Stops the server and starts it again the same way; resolves to its address, which may have
   * changed. Present only when the grader started the server (`--cmd`, or the reference).
   */
  restart?: (flags?: readonly string[], how?: RestartOptions) => Promise<string>;
  /** The lab's own program under test (lab 3's client): present when the runner knows it. */
  program?: LabProgram;
}

/** One black-box check, ready to run against an address. */
export interface GradeCheck {
  /** Reads as a sentence. */
  name: string;
  /** Whether the real server of the protocol (redis-server, memcached) passes it too. */
  compatible: boolean;
  /** What it is worth in a grade: the suite's weight, or 1. */
  points: number;
  /**
   * Whether it restarts the server ({@link CheckEnv.restart}), so it can run only against a
   * server the grader started; with `--addr` it is left out, and the report says so.
   */
  needsRestart?: boolean;
  /**
   * Options the server must be started with for this check, such as `["--maxclients", "2"]`:
   * the grader restarts it with them first, and without them after. Left out when the server
   * cannot take them (a command with no `{flags}`, or `--addr`).
   */
  flags?: readonly string[];
  /**
   * Whether it runs the lab's own program ({@link CheckEnv.program}: lab 3's client, lab 2's race
   * demo) rather than only the server; left out, and said so, when the grader does not know the
   * program (`--cmd`, `--addr`).
   */
  needsLabProgram?: boolean;
  /** A program the check needs on this machine (`strace`); left out, and said so, without it. */
  needsProgram?: string;
  /**
   * Runs the check against `host:port`.
   *
   * @throws {CheckFailure} With what went wrong and the bytes sent and received.
   */
  run(addr: string, env: CheckEnv): Promise<void>;
}

/** Everything one grading run of a lab needs; disposing it removes its scratch files. */
export interface LabRun extends AsyncDisposable {
  /** Arguments for a server this repository starts (beyond `--port 0`). */
  serverArgs: string[];
  /** Where the checks connect, given where the started server listens (default: there). */
  checkAddr?: (serverAddr: string) => string;
  /** The checks, in suite order. */
  checks: GradeCheck[];
  /**
   * An upstream server the run started for the program under test (lab 2's caching proxy), as
   * `host:port`: the reference and a workspace get `--upstream` with it, a command `{upstream}`.
   */
  upstream?: string;
  /**
   * The lab's own program a check runs (lab 3's client, lab 2's race demo), given the folder it is
   * in (the workspace's or the reference's); absent for a lab whose checks are all of the server.
   */
  program?: (folder: string) => LabProgram;
  /**
   * Tells whether a server at `addr` still answers at all (any reply to a PING, or to memcached's
   * `version`): after a failed check, the grader asks before blaming the next check.
   */
  probe(addr: string, timeoutMs: number): Promise<boolean>;
}

/** One lab of the course. */
export interface Lab {
  /** The name the tools take on the command line: `lab1` ... `lab4`, `lab4-memcache`. */
  id: string;
  /** The lab's directory from the repository root, such as `labs/01-single-client`. */
  dir: string;
  /** The lab's title. */
  title: string;
  /**
   * The program its checks talk to, in the lab's folder: `server.ts` unless said otherwise
   * (`proxy.ts` for lab 2's caching proxy).
   */
  entry?: string;
  /** Arguments the start command `exercise` prints gives after the entry (the proxy's upstream). */
  startArgs?: readonly string[];
  /**
   * The real server whose behaviour the compatible checks reproduce; `null` for lab 3, whose
   * checks run inside its own secure channel, which no real server speaks.
   */
  reference: "redis-server" | "memcached" | null;
  /** Deno permission flags its server needs. */
  denoFlags: string[];
  /**
   * Whether its README's numbered steps name these checks (`### 1. ...` then `Check: **...**`,
   * or the numbered list of {@link Lab.part}'s section).
   */
  lessonOrder: boolean;
  /**
   * For a lesson that is one part of a lab's README and workspace (lab 4's memcached port): the
   * word its markers carry (`// exercise memcache step 2: ...`) and the heading of the section
   * whose numbered list is its steps. Its workspace is the lab's, with the lab's own steps done.
   */
  part?: { markers: string; heading: string };
  /**
   * For `--cmd`: which placeholder's port the checks talk to. Lab 4's memcached checks use
   * `{port2}` when the command has one (`--port {port} --memcache-port {port2}`), else `{port}`
   * (a server that speaks only memcached's protocol).
   */
  checkPort: "port" | "port2";
  /**
   * Prepares a run: a scratch directory, a server key to trust, the checks.
   *
   * @param ours `true` when this repository starts the server (so we know its identity key).
   */
  prepare(ours: boolean): Promise<LabRun>;
}

/**
 * The checks this machine can run, and a line for each kind left out: a check that needs a
 * program that is not installed (`strace`) cannot run here, and the user is told which.
 *
 * @param checks A lab's checks.
 * @returns Those that can run, and what to say of the rest.
 */
export function runnableHere(
  checks: readonly GradeCheck[],
): { checks: GradeCheck[]; notes: string[] } {
  const missing = new Map<string, number>();
  const runnable = checks.filter((check) => {
    const program = check.needsProgram;
    if (program === undefined || hasProgram(program)) return true;
    missing.set(program, (missing.get(program) ?? 0) + 1);
    return false;
  });
  const notes = [...missing].map(([program, count]) =>
    `(${count} check${count === 1 ? "" : "s"} left out: ${
      count === 1 ? "it needs" : "they need"
    } ` +
    `${program}, which is not installed here)`
  );
  return { checks: runnable, notes };
}

/** Turns suite steps into checks, each with a fresh context connecting the lab's way. */
export function fromSuite(steps: readonly SuiteStep[], connect?: RawConnect): GradeCheck[] {
  return steps.map((step) => ({
    name: step.name,
    compatible: step.redis,
    points: step.points ?? 1,
    needsRestart: step.needsRestart,
    needsLabProgram: step.needsLabProgram,
    needsProgram: step.needsProgram,
    flags: step.flags,
    run: async (addr, env) => {
      const ctx = new StepContext(addr, connect ?? RawClient.connect, {
        ...env,
        name: step.name,
        flags: step.flags,
      });
      try {
        await step.run(ctx);
      } catch (error) {
        throw new CheckFailure(error, ctx.conversation());
      } finally {
        await ctx.dispose();
      }
    },
  }));
}

function fromMemcacheSuite(steps: readonly McStep[]): GradeCheck[] {
  return steps.map((step) => ({
    name: step.name,
    compatible: step.memcached,
    points: step.points ?? 1,
    run: async (addr, env) => {
      const ctx = new McStepContext(addr, { ...env, name: step.name });
      try {
        await step.run(ctx);
      } catch (error) {
        throw new CheckFailure(error, ctx.conversation());
      } finally {
        await ctx.dispose();
      }
    },
  }));
}

/**
 * A probe that sends `request` and takes any byte back as a sign of life: a server that answers
 * `-ERR unknown command` is alive, only one that is gone or frozen says nothing.
 */
function probeWith(request: string, connect: RawConnect = RawClient.connect) {
  return async (addr: string, timeoutMs: number): Promise<boolean> => {
    let client: RawClient | undefined;
    try {
      client = await connect(addr);
      await client.send(request);
      await client.readExactly(1, timeoutMs);
      return true;
    } catch {
      return false;
    } finally {
      await client?.close();
    }
  };
}

const PING = "*1\r\n$4\r\nPING\r\n";

/**
 * Where a run's scratch directories go: the repository's `data/`, where the servers keep their
 * files by default. Not the system's temporary directory: `deno task check` may then write only
 * here (`--allow-write=data` in deno.json), and no flag can name the system's temporary directory
 * portably (a task cannot default `$TMPDIR`, and `--allow-write=` with an empty value grants
 * everything). `deno task grade` keeps its scratch here too (a command's `{dir}` included), though
 * it may write anywhere: its reports go where the instructor says (`--output`, `--batch`).
 */
export const SCRATCH_PARENT: string = join(REPO_ROOT, "data");

/** A scratch directory for one run, removed with it. */
async function scratch(): Promise<{ path: string; remove: () => Promise<void> }> {
  await Deno.mkdir(SCRATCH_PARENT, { recursive: true });
  const path = await Deno.makeTempDir({ dir: SCRATCH_PARENT, prefix: "cachelab-grade-" });
  return { path, remove: () => Deno.remove(path, { recursive: true }) };
}

const SERVER_FLAGS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];
/** Lab 3's server may load OpenSSL for its records, as `deno task lab3` lets it. */
const LAB3_FLAGS = [...SERVER_FLAGS, "--allow-ffi"];
/** Lab 2's race demo, as `deno task lab2:race` runs it. */
const LAB2_RACE_FLAGS = ["--allow-read", "--allow-net=127.0.0.1"];
/** Lab 3's client, as `deno task lab3:client` runs it (it writes its known-hosts file). */
const LAB3_CLIENT_FLAGS = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];
const nothingToRemove = () => Promise.resolve();

/** Every lab with a suite, in course order. */
export const LABS: readonly Lab[] = [
  {
    id: "lab1",
    dir: "labs/01-single-client",
    title: "Lab 1: one client at a time",
    reference: "redis-server",
    denoFlags: ["--allow-net"],
    lessonOrder: true,
    checkPort: "port",
    prepare: async () => ({
      serverArgs: [],
      checks: fromSuite((await import("../labs/01-single-client/suite.ts")).lab1Steps),
      probe: probeWith(PING),
      [Symbol.asyncDispose]: nothingToRemove,
    }),
  },
  {
    id: "lab2",
    dir: "labs/02-threaded",
    title: "Lab 2: many clients at once",
    reference: "redis-server",
    denoFlags: ["--allow-net"],
    lessonOrder: true,
    checkPort: "port",
    prepare: async () => ({
      serverArgs: [],
      checks: fromSuite([
        ...(await import("../labs/02-threaded/suite.ts")).lab2Steps,
        ...(await import("../labs/02-threaded/race_suite.ts")).raceSteps,
      ]),
      probe: probeWith(PING),
      // Step 8's check runs the race demo, whose locks are the student's.
      program: (folder) => ({ entry: `${folder}/race.ts`, denoFlags: LAB2_RACE_FLAGS }),
      [Symbol.asyncDispose]: nothingToRemove,
    }),
  },
  {
    id: "lab2-proxy",
    dir: "labs/02-threaded",
    title: "Lab 2: the caching proxy",
    reference: null,
    entry: "proxy.ts",
    startArgs: ["--upstream", "127.0.0.1:6379", "--port", "6380"],
    denoFlags: ["--allow-net"],
    lessonOrder: true,
    part: { markers: "proxy", heading: "Steps for the caching proxy" },
    checkPort: "port",
    prepare: async () => {
      // The checks count the upstream's GETs and pause it, so it is one this run starts.
      const upstream = await startLabServer("labs/02-threaded/server.ts");
      const { proxySteps } = await import("../labs/02-threaded/proxy/proxy_suite.ts");
      return {
        serverArgs: ["--upstream", upstream.addr],
        upstream: upstream.addr,
        checks: fromSuite(proxySteps(upstream)),
        probe: probeWith(PING),
        [Symbol.asyncDispose]: () => upstream.stop(),
      };
    },
  },
  {
    id: "lab3",
    dir: "labs/03-secure",
    title: "Lab 3: nothing readable on the wire",
    reference: null,
    denoFlags: LAB3_FLAGS,
    lessonOrder: true,
    checkPort: "port",
    prepare: async (ours) => {
      const { lab2Steps } = await import("../labs/02-threaded/suite.ts");
      const { noPasswordAuthSteps } = await import("../labs/03-secure/auth_suite.ts");
      const { lab3Steps } = await import("../labs/03-secure/suite.ts");
      const { clientSteps } = await import("../labs/03-secure/client_suite.ts");
      const { prepareIdentity, secureRawConnect } = await import(
        "../labs/03-secure/test_support.ts"
      );
      const dir = await scratch();
      // Our server's key is made here first, so the checks pin it. A server started elsewhere
      // has a key we cannot know: the checks then trust whatever key it shows.
      const fingerprint = ours ? await prepareIdentity(dir.path) : undefined;
      const connect = secureRawConnect(fingerprint);
      return {
        serverArgs: ["--dir", dir.path],
        // Lab 3's own checks first, in lesson order. Not lab 2's checks of a limit: a client
        // turned away at --maxclients reads Redis's plaintext error before any handshake, which
        // no secure client can take for a reply.
        checks: fromSuite(
          [
            ...lab3Steps,
            ...clientSteps,
            ...lab2Steps.filter((s) => !s.flags),
            ...noPasswordAuthSteps,
          ],
          connect,
        ),
        probe: probeWith(PING, connect),
        // Step 3's checks run the client against the checker's own servers, honest and not.
        program: (folder) => ({
          entry: `${folder}/client.ts`,
          denoFlags: LAB3_CLIENT_FLAGS,
          dir: join(dir.path, "client"),
        }),
        [Symbol.asyncDispose]: dir.remove,
      };
    },
  },
  {
    id: "lab4",
    dir: "labs/04-ttl-persistence",
    title: "Lab 4: expiry, persistence, eviction",
    reference: "redis-server",
    denoFlags: SERVER_FLAGS,
    lessonOrder: true,
    checkPort: "port",
    prepare: async () => {
      const dir = await scratch();
      return {
        serverArgs: ["--dir", dir.path, "--save", "", "--appendonly", "no"],
        checks: fromSuite((await import("../labs/04-ttl-persistence/suite.ts")).lab4Steps),
        probe: probeWith(PING),
        [Symbol.asyncDispose]: dir.remove,
      };
    },
  },
  {
    id: "lab4-memcache",
    dir: "labs/04-ttl-persistence",
    title: "Lab 4: the memcached protocol",
    reference: "memcached",
    denoFlags: SERVER_FLAGS,
    lessonOrder: true,
    part: { markers: "memcache", heading: "Steps for the memcached port" },
    checkPort: "port2",
    prepare: async () => {
      const dir = await scratch();
      const port = freePort();
      const { memcacheSteps } = await import("../labs/04-ttl-persistence/memcache/suite.ts");
      return {
        serverArgs: ["--dir", dir.path, "--save", "", "--memcache-port", String(port)],
        checkAddr: (serverAddr) => `${serverAddr.slice(0, serverAddr.lastIndexOf(":"))}:${port}`,
        checks: fromMemcacheSuite(memcacheSteps),
        probe: probeWith("version\r\n"),
        [Symbol.asyncDispose]: dir.remove,
      };
    },
  },
];

/**
 * Finds a lab by its command-line name.
 *
 * @param id Such as `lab1`.
 * @returns The lab, or `undefined`.
 */
export function findLab(id: string): Lab | undefined {
  return LABS.find((lab) => lab.id === id);
}

/**
 * The path of the program a lab's checks talk to, in one of its folders.
 *
 * @param lab The lab.
 * @param folder The reference's folder (`lab.dir`) or a workspace's (`exercises/02-threaded`).
 * @returns Such as `labs/02-threaded/server.ts`, or `labs/02-threaded/proxy.ts`.
 */
export function entryIn(lab: Lab, folder: string): string {
  return `${folder}/${lab.entry ?? "server.ts"}`;
}

/**
 * The directory name of a lab inside `exercises/`: the lab's own, such as `01-single-client`.
 *
 * @param lab The lab.
 * @returns Its last path segment.
 */
export function labFolder(lab: Lab): string {
  return lab.dir.slice(lab.dir.lastIndexOf("/") + 1);
}
