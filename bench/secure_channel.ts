/**
 * What the secure channel costs: lab 2 and lab 3 under the same pipelined load from the project's
 * load generator (`bench/loadgen.ts`), which speaks the channel itself here through its `connect`
 * option, and how many handshakes per second the server completes.
 *
 * ```sh
 * deno run --allow-net --allow-run --allow-read --allow-write --allow-env --allow-ffi bench/secure_channel.ts
 * deno run ... bench/secure_channel.ts --quick       # a smoke test: a second per run, numbers are noise
 * ```
 *
 * The course's target: lab 3 at least half of lab 2's throughput, pipelined. Each server runs
 * alone, in turn, on a free port; the load generator runs in this process, so both servers meet
 * the same client. On a shared 2-core machine, compare the ratio, not the absolute numbers.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseCommandLine, usageError } from "../shared/cli.ts";
import { runLoad } from "./loadgen.ts";
import { type RunningServer, startLabServer } from "../shared/testing/processes.ts";
import type { Transport } from "../shared/transport.ts";
import {
  type AeadLibrary,
  aeadLibrary,
  type CipherName,
  connectSecure,
  type CryptoChoice,
  type SecureChannel,
} from "../labs/03-secure/channel/mod.ts";
import { ENTRY, prepareIdentity, SERVER_FLAGS, trustOnly } from "../labs/03-secure/test_support.ts";

const USAGE = "deno run bench/secure_channel.ts";

const HELP = `Usage: deno run --allow-net --allow-run --allow-read --allow-write --allow-env \\
  --allow-ffi bench/secure_channel.ts [options]

Measures lab 2 and lab 3 (AES-256-GCM and ChaCha20-Poly1305 records from OpenSSL and from
node:crypto, and Fernet records) with the project's load generator, pipelined, and lab 3's
handshakes per second. Without --allow-ffi the OpenSSL rows are skipped.

Options:
  --duration SECONDS   length of each measured run (default 5)
  --connections N      concurrent connections (default 50)
  --pipeline N         commands per batch (default 16)
  --quick              one second per run: a smoke test, the numbers are noise
  -h, --help           show this help`;

interface Result {
  name: string;
  opsPerSec: number;
}

function grouped(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Opens TCP connections, runs the handshake on each, and closes it, for `seconds`. */
async function handshakesPerSecond(
  addr: { hostname: string; port: number },
  inFlight: number,
  seconds: number,
  handshake: (conn: Deno.Conn) => Promise<Transport>,
): Promise<number> {
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < deadline) {
      const conn = await Deno.connect(addr);
      const transport = await handshake(conn);
      transport.close();
      done++;
    }
  }));
  return done / ((performance.now() - started) / 1000);
}

/** A plaintext "handshake" for comparison: the connection is usable once PING is answered. */
async function pingOnce(conn: Deno.Conn): Promise<Transport> {
  await conn.write(new TextEncoder().encode("PING\r\n"));
  const buffer = new Uint8Array(16);
  let got = 0;
  while (got < 7) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) throw new Error("Server closed the connection before answering PING");
    got += n;
  }
  return conn;
}

async function main(): Promise<void> {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        duration: { type: "string", default: "5" },
        connections: { type: "string", default: "50" },
        pipeline: { type: "string", default: "16" },
        quick: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  const duration = values.quick ? 1 : Number(values.duration);
  const connections = Number(values.connections);
  const pipeline = Number(values.pipeline);
  if (![duration, connections, pipeline].every((n) => Number.isFinite(n) && n > 0)) {
    usageError("--duration, --connections and --pipeline take positive numbers", USAGE);
  }

  const dir = await Deno.makeTempDir({ prefix: "cachelab-bench-" });
  const fingerprint = await prepareIdentity(dir);
  const secureWith = (crypto: AeadLibrary) => (conn: Deno.Conn): Promise<SecureChannel> => {
    (conn as Deno.TcpConn).setNoDelay(true);
    return connectSecure(conn, { verifyServerKey: trustOnly(fingerprint), crypto });
  };
  const load = { connections, pipeline, duration, mix: "set:50,get:50" };
  const results: Result[] = [];
  const handshakes: string[] = [];
  const measure = async (
    name: string,
    start: () => Promise<RunningServer>,
    connect: ((addr: { hostname: string; port: number }) => Promise<Transport>) | undefined,
    handshake: (conn: Deno.Conn) => Promise<Transport>,
  ) => {
    console.error(`== ${name}`);
    await using server = await start();
    // Warm up, so the JIT has compiled the hot paths before the clock runs.
    await runLoad(server.addr, { ...load, duration: undefined, requests: 50_000, connect });
    const result = await runLoad(server.addr, { ...load, connect });
    if (result.errors > 0) {
      throw new Error(`${name}: ${result.errors} errors, ${result.firstError}`);
    }
    results.push({ name, opsPerSec: result.opsPerSec });
    console.error(`   ${grouped(result.opsPerSec)} ops/s`);
    const [hostname, port] = server.addr.split(":");
    for (const inFlight of [1, 8]) {
      const rate = await handshakesPerSecond(
        { hostname, port: Number(port) },
        inFlight,
        values.quick ? 1 : 2,
        handshake,
      );
      handshakes.push(`| ${name} | ${inFlight} | ${grouped(rate)} |`);
      console.error(`   ${grouped(rate)} connections/s with ${inFlight} in flight`);
    }
  };
  try {
    await measure(
      "lab 2",
      () => startLabServer("labs/02-threaded/server.ts"),
      undefined,
      pingOnce,
    );
    // Both ends use the same library, so each row shows what that library costs a deployment.
    const runs: { cipher: CipherName; crypto: CryptoChoice }[] = [
      { cipher: "aes-256-gcm", crypto: "openssl" },
      { cipher: "chacha20-poly1305", crypto: "openssl" },
      { cipher: "aes-256-gcm", crypto: "node" },
      { cipher: "chacha20-poly1305", crypto: "node" },
      { cipher: "fernet", crypto: "node" },
    ];
    for (const { cipher, crypto } of runs) {
      let library: AeadLibrary;
      try {
        library = aeadLibrary(crypto);
      } catch (error) {
        console.error(`== lab 3, ${cipher}, ${crypto}: skipped (${(error as Error).message})`);
        continue;
      }
      const secure = secureWith(library);
      await measure(
        cipher === "fernet" ? `lab 3, ${cipher}` : `lab 3, ${cipher}, ${library.description}`,
        () =>
          startLabServer(ENTRY, {
            args: ["--dir", dir, "--cipher", cipher, "--crypto", crypto],
            denoFlags: SERVER_FLAGS,
          }),
        ({ hostname, port }) => Deno.connect({ hostname, port }).then(secure),
        secure,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const base = results[0].opsPerSec;
  console.log(
    `Load: ${connections} connections, pipeline ${pipeline}, SET/GET 50/50, ${duration} s per run\n`,
  );
  console.log("| server | ops/s | ratio to lab 2 |\n| --- | ---: | ---: |");
  for (const r of results) {
    console.log(`| ${r.name} | ${grouped(r.opsPerSec)} | ${(r.opsPerSec / base).toFixed(2)}× |`);
  }
  console.log(
    "\nNew connections per second (lab 2: TCP connect and PING; lab 3: TCP connect and the " +
      "whole handshake, X25519 + Ed25519 + HKDF)\n",
  );
  console.log("| server | in flight | connections/s |\n| --- | ---: | ---: |");
  for (const line of handshakes) console.log(line);
}

if (import.meta.main) await main();
