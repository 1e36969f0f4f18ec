/**
 * What lab 3's tests share: starting the server with a throwaway identity, connecting raw test
 * clients through the channel or TLS, making throwaway TLS certificates, and reading the log.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  hasProgram,
  REPO_ROOT,
  type RunningServer,
  startLabServer,
} from "../../shared/testing/processes.ts";
import { connectOptions, RawClient } from "../../shared/testing/raw_client.ts";
import type { RawConnect } from "../../shared/testing/suite.ts";
import { connectSecure, loadOrCreateIdentity } from "./channel/mod.ts";
import { tlsTransport } from "./tls.ts";

/** Lab 3's server, from the repository root. */
export const ENTRY = "labs/03-secure/server.ts";

/** Lab 3's client, from the repository root. */
export const CLIENT = "labs/03-secure/client.ts";

/** The permissions `deno task lab3` grants (FFI, for OpenSSL's AES: see `channel/openssl.ts`). */
export const SERVER_FLAGS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-ffi",
];

/** A temporary directory that removes itself at the end of an `await using` block. */
export interface TempDir extends AsyncDisposable {
  /** Its path. */
  readonly path: string;
}

/**
 * Makes a temporary directory.
 *
 * @returns It, for `await using`.
 */
export async function tempDir(): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: "cachelab-lab3-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/**
 * Creates a server identity in `dir` (as the server would on first start), so a test knows the
 * fingerprint to pin before the server runs.
 *
 * @param dir The server's `--dir`.
 * @returns The identity's fingerprint, `SHA256:...`.
 */
export async function prepareIdentity(dir: string): Promise<string> {
  return (await loadOrCreateIdentity(dir)).fingerprint;
}

/**
 * A `verifyServerKey` that trusts exactly one fingerprint.
 *
 * @param fingerprint The one to trust.
 * @returns The check, which throws for any other key.
 */
export function trustOnly(fingerprint: string): (key: Uint8Array, seen: string) => void {
  return (_key, seen) => {
    if (seen !== fingerprint) {
      throw new Error(`Untrusted server key ${seen}; expected ${fingerprint}`);
    }
  };
}

/**
 * How suite steps connect through the secure channel: TCP, handshake, then raw bytes inside.
 *
 * @param fingerprint The server key to trust; any key when `undefined` (a server run elsewhere,
 *   given with `--addr`, whose key the test cannot know).
 * @returns A connect function for `registerSuite`.
 */
export function secureRawConnect(fingerprint: string | undefined): RawConnect {
  return async (addr) => {
    const conn = await Deno.connect(connectOptions(addr));
    try {
      const channel = await connectSecure(conn, {
        verifyServerKey: fingerprint === undefined ? () => {} : trustOnly(fingerprint),
      });
      return RawClient.over(channel);
    } catch (error) {
      try {
        conn.close();
      } catch {
        // closed by the channel already
      }
      throw error;
    }
  };
}

/**
 * How suite steps connect over standard TLS.
 *
 * @param caCert The CA certificate (PEM) that signed the server's.
 * @returns A connect function for `registerSuite`.
 */
export function tlsRawConnect(caCert: string): RawConnect {
  return async (addr) => {
    const colon = addr.lastIndexOf(":");
    const conn = await Deno.connectTls({
      hostname: addr.slice(0, colon),
      port: Number(addr.slice(colon + 1)),
      caCerts: [caCert],
    });
    await conn.handshake();
    return RawClient.over(tlsTransport(conn));
  };
}

/** A running lab 3 server and what a test needs to talk to it. */
export interface Lab3Server extends AsyncDisposable {
  /** The process. */
  readonly server: RunningServer;
  /** `host:port`. */
  readonly addr: string;
  /** Its identity's fingerprint (secure-channel mode). */
  readonly fingerprint: string;
  /** Opens a raw client through the channel, trusting this server's key. */
  connect(): Promise<RawClient>;
}

/**
 * Starts lab 3's server in secure-channel mode with a fresh identity in a temporary directory.
 *
 * @param args More server arguments.
 * @param options `env`: more environment variables for the server.
 * @returns The server; stopping it also removes the directory.
 */
export async function startLab3(
  args: string[] = [],
  options: { env?: Record<string, string> } = {},
): Promise<Lab3Server> {
  const dir = await Deno.makeTempDir({ prefix: "cachelab-lab3-" });
  const fingerprint = await prepareIdentity(dir);
  let server: RunningServer;
  try {
    server = await startLabServer(ENTRY, {
      args: ["--dir", dir, ...args],
      denoFlags: SERVER_FLAGS,
      env: options.env,
    });
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  const connect = secureRawConnect(fingerprint);
  return {
    server,
    addr: server.addr,
    fingerprint,
    connect: () => connect(server.addr),
    [Symbol.asyncDispose]: async () => {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Throwaway TLS files: a CA, and a server certificate it signed for 127.0.0.1 and localhost. */
export interface TestCertificates {
  /** The CA certificate, PEM: what clients trust (`--cacert`). */
  caFile: string;
  /** The server's certificate, PEM (`--tls-cert`). */
  certFile: string;
  /** The server's private key, PEM (`--tls-key`). */
  keyFile: string;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * Makes a CA and a server certificate with `openssl`, the same commands the lesson shows.
 *
 * A certificate that is its own CA (`openssl req -x509` alone) is refused by Deno's TLS (rustls)
 * as a server certificate, so this makes two: a CA, and a leaf with `CA:FALSE` and the names
 * clients check (`IP:127.0.0.1`, `DNS:localhost`).
 *
 * @param dir Where to write them.
 * @returns The files.
 */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    dir,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=Cache Lab test CA",
  );
  await openssl(
    dir,
    "req",
    ...ec,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
  return { caFile: `${dir}/ca.crt`, certFile: `${dir}/server.crt`, keyFile: `${dir}/server.key` };
}

/** Whether this `redis-cli` was built with TLS (Debian's is; a minimal build may not be). */
export async function redisCliHasTls(): Promise<boolean> {
  if (!hasProgram("redis-cli")) return false;
  const { stdout } = await new Deno.Command("redis-cli", {
    args: ["--help"],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  return new TextDecoder().decode(stdout).includes("--tls");
}

/** What a program printed and how it ended. */
export interface ProgramResult {
  /** The exit code. */
  code: number;
  /** Everything it printed to standard output. */
  stdout: string;
  /** Everything it printed to standard error. */
  stderr: string;
}

/**
 * Runs a program to the end, with a time limit so a test never hangs on it.
 *
 * @param program Its name or path.
 * @param args Its arguments.
 * @param options Standard input and environment.
 * @returns Its exit code and output.
 */
export async function run(
  program: string,
  args: string[],
  options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ProgramResult> {
  const child = new Deno.Command(program, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited in the meantime
    }
  }, options.timeoutMs ?? 20_000);
  try {
    const { code, stdout, stderr } = await child.output();
    const text = new TextDecoder();
    return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs lab 3's client.
 *
 * @param args Its arguments.
 * @param env More environment (HOME, to keep known_hosts in a temporary directory).
 * @param stdin Lines to pipe in, if any.
 * @returns Its exit code and output.
 */
export function runClient(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<ProgramResult> {
  return run(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    `${REPO_ROOT}${CLIENT}`,
    ...args,
  ], { env, stdin });
}

/**
 * Waits (briefly, in small steps) until the server's log matches, or fails after `timeoutMs`.
 *
 * @param server The server.
 * @param pattern What the log must show.
 * @param timeoutMs How long to wait.
 */
export async function waitForLog(
  server: RunningServer,
  pattern: RegExp,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(server.log())) {
    if (Date.now() > deadline) assert.fail(`Log never matched ${pattern}:\n${server.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Whether `needle` occurs in `haystack`, byte for byte.
 *
 * @param haystack Bytes captured off the wire.
 * @param needle What must (not) be there, as text.
 * @returns `true` if it occurs.
 */
export function containsBytes(haystack: Uint8Array, needle: string): boolean {
  const n = new TextEncoder().encode(needle);
  outer: for (let i = 0; i + n.length <= haystack.length; i++) {
    for (let j = 0; j < n.length; j++) if (haystack[i + j] !== n[j]) continue outer;
    return true;
  }
  return false;
}
