/**
 * How `deno task bench` measures lab 3: its server, with a tunnel in front (`labs/03-secure/tunnel.ts`), so that
 * `redis-benchmark` and the load generator, which speak plaintext RESP, go through the secure
 * channel like any client would. The tunnel runs inside the benchmark's own process, so every
 * request is encrypted and decrypted twice (tunnel and server), on the same cores as everything
 * else: the numbers are a lower bound. `bench/secure_channel.ts` measures the channel without the
 * extra hop, with the load generator speaking it directly.
 *
 * @module
 */

import { REPO_ROOT, type RunningServer, startLabServer } from "../shared/testing/processes.ts";
import { loadOrCreateIdentity, pinnedFingerprint } from "../labs/03-secure/channel/mod.ts";
import { ENTRY, SERVER_FLAGS } from "../labs/03-secure/test_support.ts";
import { startTunnel } from "../labs/03-secure/tunnel.ts";

/** Where the benchmark keeps lab 3's identity key: a directory git ignores, that bench may write. */
const IDENTITY_DIR = "bench/results/lab3-identity";

/** The lab 3 server behind each tunnel this module started, for the report. */
const serverAddrs = new WeakMap<RunningServer, string>();

/**
 * Starts lab 3's server on a free port and a tunnel to it.
 *
 * @returns The server as the benchmark sees it: the tunnel's address; stopping it stops both.
 */
export async function startLab3BehindTunnel(): Promise<RunningServer> {
  const dir = `${REPO_ROOT}${IDENTITY_DIR}`;
  const { fingerprint } = await loadOrCreateIdentity(dir);
  const server = await startLabServer(ENTRY, { args: ["--dir", dir], denoFlags: SERVER_FLAGS });
  const tunnel = startTunnel({ to: server.addr, verifyServerKey: pinnedFingerprint(fingerprint) });
  const [host, port] = tunnel.addr.split(":");
  const stop = async () => {
    await tunnel.close();
    await server.stop();
  };
  const running: RunningServer = {
    addr: tunnel.addr,
    host,
    port: Number(port),
    log: () => server.log(),
    output: () => server.output(),
    waitForLog: (pattern, timeoutMs) => server.waitForLog(pattern, timeoutMs),
    stop,
    kill: async (signal) => {
      await tunnel.close();
      return server.kill(signal);
    },
    exited: server.exited,
    [Symbol.asyncDispose]: stop,
  };
  serverAddrs.set(running, server.addr);
  return running;
}

/**
 * The commands behind {@link startLab3BehindTunnel}, for the benchmark's report.
 *
 * @param server What it returned.
 * @returns Two commands a reader can run by hand.
 */
export function describeLab3BehindTunnel(server: RunningServer): string {
  const target = serverAddrs.get(server) ?? "?";
  return `deno task lab3 --port 0 --dir ${IDENTITY_DIR}  # listening on ${target}\n` +
    "deno run --allow-net --allow-read --allow-write --allow-env --allow-ffi labs/03-secure/tunnel.ts " +
    `--listen 0 --to ${target} --server-fingerprint SHA256:...  # listening on ${server.addr}`;
}
