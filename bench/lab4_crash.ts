/**
 * The crash experiment: does `--appendfsync always` really keep every acknowledged write?
 *
 * One round:
 *
 * 1. start lab 4's server as a child process with `--appendonly yes --appendfsync always`;
 * 2. a few clients write as fast as they can, each pipelining a few `SET key value` + `INCR counter`
 *    pairs at a time and recording which replies it has fully received — the acknowledged writes;
 * 3. at a random moment, `kill -9` the server: no shutdown code runs, nothing is flushed;
 * 4. restart it on the same directory and read everything back.
 *
 * Every acknowledged `SET` must be there, and each client's keys must form an unbroken prefix
 * (the log is replayed in order: a later write without an earlier one would be a hole). Each
 * counter must be at least the last value a client was told, and at most what it asked for.
 * Writes that were sent but not acknowledged may be there or not: the server died before it
 * could answer.
 *
 * `crash_test.ts` runs a few rounds; `bench/crash_soak.ts` runs many.
 *
 * @module
 */

import { REPO_ROOT } from "../shared/testing/processes.ts";
import { RawClient } from "../shared/testing/raw_client.ts";

/** What one round found. */
export interface CrashRound {
  /** `SET`s acknowledged before the kill, over all clients. */
  acknowledged: number;
  /** `SET`s sent, acknowledged or not. */
  sent: number;
  /** `SET`s found after the restart. */
  recovered: number;
  /** The restarted server cut a torn command off the end of the log. */
  tornTail: boolean;
  /** Everything wrong; empty when the round passed. */
  problems: string[];
}

/** Options for {@link crashRound}. */
export interface CrashOptions {
  /** The data directory; must exist and may hold files from earlier rounds. */
  dir: string;
  /** How many clients write at once. */
  clients?: number;
  /** When to kill, in milliseconds after the clients start. */
  killAfterMs: number;
  /** The fsync policy under test. */
  appendfsync?: "always" | "everysec" | "no";
  /** A prefix for this round's keys, so rounds on one directory do not collide. */
  prefix: string;
}

const SERVER = `${REPO_ROOT}labs/04-ttl-persistence/server.ts`;
const READY_TIMEOUT_MS = 15_000;

/** A lab 4 server child process that this module can kill -9. */
class ServerProcess {
  #child: Deno.ChildProcess;
  #output: { stderr: string };
  #drained: Promise<void>;
  readonly port: number;

  private constructor(
    child: Deno.ChildProcess,
    port: number,
    output: { stderr: string },
    drained: Promise<void>,
  ) {
    this.#child = child;
    this.port = port;
    this.#output = output;
    this.#drained = drained;
  }

  /** Everything the server has logged so far. */
  get log(): string {
    return this.#output.stderr;
  }

  static async start(dir: string, appendfsync: string): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        SERVER,
        "--port",
        "0",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        appendfsync,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const output = { stderr: "" };
    const stderrDone = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        output.stderr += text;
      }
    })();
    // Read stdout up to the ready line, then keep draining it so that the pipe never fills.
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const timer = setTimeout(() => child.kill("SIGKILL"), READY_TIMEOUT_MS);
    let stdout = "";
    let port = 0;
    try {
      while (port === 0) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += value;
        port = Number(/listening on \S+:(\d+)/.exec(stdout)?.[1] ?? 0);
      }
    } finally {
      clearTimeout(timer);
    }
    const stdoutDone = (async () => {
      while (!(await reader.read()).done) {
        // Nothing more to learn from stdout.
      }
    })();
    const server = new ServerProcess(
      child,
      port,
      output,
      Promise.all([stderrDone, stdoutDone]).then(() => {}),
    );
    if (port === 0) {
      await server.kill();
      throw new Error(`Lab 4's server did not start:\n${stdout}${server.log}`);
    }
    return server;
  }

  /** `kill -9`: the process gets no chance to flush or save anything. */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#drained;
  }

  /** A clean stop (SIGTERM), as Ctrl-C would. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 10_000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#drained;
  }
}

function bulk(s: string): string {
  return `$${s.length}\r\n${s}\r\n`;
}

/** One client's record: what it sent, and what the server acknowledged. */
interface Writer {
  sent: number;
  acked: number;
  counterAcked: number;
}

/**
 * Writes `SET prefix:w:i value` + `INCR prefix:w:count` pairs until the connection dies, counting
 * the replies received in full.
 */
async function write(port: number, prefix: string, w: number, record: Writer): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return;
  }
  const encoder = new TextEncoder();
  const buffer = new Uint8Array(64 * 1024);
  let pending = "";
  try {
    for (;;) {
      const pairs = 1 + Math.floor(Math.random() * 8);
      let request = "";
      for (let p = 0; p < pairs; p++) {
        const i = record.sent + p;
        request += `*3\r\n$3\r\nSET\r\n${bulk(`${prefix}:${w}:${i}`)}${bulk(`value ${i}`)}`;
        request += `*2\r\n$4\r\nINCR\r\n${bulk(`${prefix}:${w}:count`)}`;
      }
      const bytes = encoder.encode(request);
      for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
      const first = record.sent;
      record.sent += pairs;
      // Two reply lines per pair: "+OK" then ":<count>". Only whole lines count.
      let lines = 0;
      while (lines < 2 * pairs) {
        const n = await conn.read(buffer);
        if (n === null) return;
        pending += new TextDecoder().decode(buffer.subarray(0, n));
        let end: number;
        while ((end = pending.indexOf("\r\n")) >= 0) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 2);
          const pair = first + (lines >> 1);
          if (lines % 2 === 0) {
            if (line !== "+OK") throw new Error(`Unexpected reply to SET: ${line}`);
            record.acked = pair + 1;
          } else {
            if (!line.startsWith(":")) throw new Error(`Unexpected reply to INCR: ${line}`);
            record.counterAcked = Number(line.slice(1));
          }
          lines++;
        }
      }
    }
  } catch (error) {
    // The kill: a reset or a closed connection ends this client. Anything else is a real failure.
    if (error instanceof Error && error.message.startsWith("Unexpected")) throw error;
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/**
 * Runs one round: start, write from several clients, kill -9, restart, check.
 *
 * @param options Where, how many clients, when to kill.
 * @returns What was acknowledged and recovered, and any problem found.
 */
export async function crashRound(options: CrashOptions): Promise<CrashRound> {
  const appendfsync = options.appendfsync ?? "always";
  const clients = options.clients ?? 4;
  const server = await ServerProcess.start(options.dir, appendfsync);
  const records: Writer[] = Array.from({ length: clients }, () => ({
    sent: 0,
    acked: 0,
    counterAcked: 0,
  }));
  let writers: Promise<void>[];
  try {
    writers = records.map((record, w) => write(server.port, options.prefix, w, record));
    await new Promise((resolve) => setTimeout(resolve, options.killAfterMs));
  } finally {
    await server.kill();
  }
  await Promise.all(writers);

  const problems: string[] = [];
  const restarted = await ServerProcess.start(options.dir, appendfsync);
  let recovered = 0;
  try {
    const client = await RawClient.connect(`127.0.0.1:${restarted.port}`);
    try {
      for (const [w, record] of records.entries()) {
        const keys = Array.from({ length: record.sent }, (_, i) => `${options.prefix}:${w}:${i}`);
        const values = keys.length > 0 ? await client.call("MGET", ...keys) : [];
        if (!Array.isArray(values)) throw new Error(`MGET failed: ${values}`);
        // The keys present must be a prefix 0..n-1, with n at least what was acknowledged.
        const present = values.findIndex((v) => v === null);
        const n = present < 0 ? values.length : present;
        recovered += n;
        if (n < record.acked) {
          problems.push(`client ${w}: ${record.acked} SETs acknowledged, only ${n} recovered`);
        }
        for (let i = 0; i < values.length; i++) {
          if (i < n && values[i] !== `value ${i}`) {
            problems.push(`client ${w}: key ${i} holds ${JSON.stringify(values[i])}`);
          }
          if (i >= n && values[i] !== null) {
            problems.push(`client ${w}: key ${i} present after missing key ${n} (a hole)`);
            break;
          }
        }
        const counter = Number(await client.call("GET", `${options.prefix}:${w}:count`) ?? 0);
        if (counter < record.counterAcked || counter > record.sent) {
          problems.push(
            `client ${w}: counter is ${counter}, acknowledged ${record.counterAcked}, ` +
              `sent ${record.sent}`,
          );
        }
      }
    } finally {
      await client.close();
    }
  } finally {
    await restarted.stop();
  }
  if (/Cannot start/.test(restarted.log)) problems.push(`restart failed: ${restarted.log}`);
  return {
    acknowledged: records.reduce((n, r) => n + r.acked, 0),
    sent: records.reduce((n, r) => n + r.sent, 0),
    recovered,
    tornTail: restarted.log.includes("!!! Warning"),
    problems,
  };
}
