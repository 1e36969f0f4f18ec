/**
 * Servers for the proxy's tests: an upstream (lab 2's server or a real `redis-server`) on a port
 * the test chooses, so it can be stopped and started again on the same port, and paused
 * (`SIGSTOP`) so that requests pile up at the proxy while it answers nothing. Plus small readers
 * of `INFO`, which is how the tests count upstream calls from both sides.
 *
 * @module
 */

import {
  freePort,
  hasProgram,
  redisServerArgs,
  REPO_ROOT,
} from "../../../shared/testing/processes.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";

/** Which server plays the upstream. */
export type UpstreamKind = "lab 2" | "real Redis";

/** The upstreams available here: lab 2 always, real Redis when it is installed. */
export const UPSTREAM_KINDS: readonly UpstreamKind[] = ["lab 2", "real Redis"];

/**
 * Tells whether a kind of upstream can run here.
 *
 * @param kind The upstream.
 * @returns `false` for real Redis when `redis-server` is not installed.
 */
export function available(kind: UpstreamKind): boolean {
  return kind === "lab 2" || hasProgram("redis-server");
}

/** An upstream server process. */
export interface TestUpstream extends AsyncDisposable {
  /** Which server program it is. */
  readonly kind: UpstreamKind;
  /** The port it listens on. */
  readonly port: number;
  /** `127.0.0.1:port`. */
  readonly addr: string;
  /** Stops it (SIGTERM) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Freezes it with SIGSTOP: it accepts bytes into its socket buffers and answers nothing. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
}

const READY_MS = 15_000;

/** Reads a stream into a string as it arrives, so a child never blocks on a full pipe. */
function collect(stream: ReadableStream<Uint8Array>): { text: () => string; done: Promise<void> } {
  let text = "";
  const done = (async () => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  return { text: () => text, done };
}

/**
 * Starts an upstream on a given port (a free one by default) and waits until it is ready.
 *
 * @param kind Lab 2's server or a real `redis-server`.
 * @param port The port; pass the old one to restart a stopped upstream in the same place.
 * @returns The running upstream.
 */
export async function startUpstream(kind: UpstreamKind, port = freePort()): Promise<TestUpstream> {
  const child = kind === "lab 2"
    ? new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", `${REPO_ROOT}labs/02-threaded/server.ts`, "--port", `${port}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn()
    : new Deno.Command("redis-server", {
      args: redisServerArgs(port),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const out = collect(child.stdout);
  const err = collect(child.stderr);
  const ready = kind === "lab 2" ? /listening on / : /Ready to accept connections/;
  let exited = false;
  child.status.then(() => exited = true);
  let stopping: Promise<void> | undefined;
  const upstream: TestUpstream = {
    kind,
    port,
    addr: `127.0.0.1:${port}`,
    stop: () =>
      stopping ??= (async () => {
        try {
          child.kill("SIGCONT"); // a paused process would not act on SIGTERM
          child.kill("SIGTERM");
        } catch {
          // already exited
        }
        await child.status;
        await Promise.all([out.done, err.done]);
      })(),
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    [Symbol.asyncDispose]: () => upstream.stop(),
  };
  const deadline = Date.now() + READY_MS;
  while (!ready.test(out.text())) {
    if (exited || Date.now() > deadline) {
      await upstream.stop();
      throw new Error(`Cannot start ${kind} on port ${port}:\n${out.text()}${err.text()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return upstream;
}

/**
 * Reads one section of `INFO` as a map of fields.
 *
 * @param addr The server, `host:port`.
 * @param section Such as `proxy` or `stats`.
 * @returns Field names and values.
 */
export async function readInfo(addr: string, section: string): Promise<Map<string, string>> {
  await using client = await RawClient.connect(addr);
  const reply = await client.call("INFO", section);
  if (typeof reply !== "string") throw new Error(`INFO ${section} answered ${String(reply)}`);
  const fields = new Map<string, string>();
  for (const line of reply.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * Reads the numeric fields of the proxy's `INFO proxy`.
 *
 * @param addr The proxy.
 * @returns Such as `{ cache_hits: 3, upstream_calls: 1, ... }`.
 */
export async function proxyStats(addr: string): Promise<Record<string, number>> {
  const stats: Record<string, number> = {};
  for (const [name, value] of await readInfo(addr, "proxy")) stats[name] = Number(value);
  return stats;
}

/**
 * Counts the commands the upstream has processed, as the upstream itself reports them
 * (`total_commands_processed`, which both lab 2 and Redis keep). Counted on the upstream, not by
 * the proxy, so a proxy that miscounts its own upstream calls cannot fool the tests.
 *
 * @param upstream The upstream.
 * @returns A counter; compare two readings with {@link commandsBetween}.
 */
export async function upstreamCommands(upstream: TestUpstream): Promise<number> {
  return Number((await readInfo(upstream.addr, "stats")).get("total_commands_processed"));
}

/**
 * How many commands the upstream processed between two readings of {@link upstreamCommands}: the
 * difference, less the `INFO` that took the first reading.
 *
 * @param before The first reading.
 * @param after The second reading.
 * @returns Commands processed in between.
 */
export function commandsBetween(before: number, after: number): number {
  return after - before - 1;
}

/**
 * Waits until `check` returns `true`, in small steps, for at most `timeoutMs`.
 *
 * @param what Describes the condition for the failure message.
 * @param check Returns `true` once the condition holds.
 * @param timeoutMs The bound.
 */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
