/**
 * A tunnel: plaintext in on one side, the secure channel out on the other, so a tool that knows
 * nothing of the channel (`redis-cli`, `redis-benchmark`, the course's load generator) can still
 * talk to lab 3's server. It is what `stunnel` and `spiped` did for Redis before Redis spoke TLS,
 * and what `ssh -L` does for anything.
 *
 * ```sh
 * deno task lab3 --port 6379                                  # the secure server
 * deno run --allow-net --allow-read --allow-write --allow-env labs/03-secure/tunnel.ts \
 *   --listen 6380 --to 127.0.0.1:6379 --server-fingerprint SHA256:...
 * redis-cli -p 6380 PING                                      # through the tunnel: PONG
 * ```
 *
 * The plaintext side listens on 127.0.0.1 only: the tunnel protects the network between it and
 * the server, not the machine it runs on.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { listenPort, parseCommandLine, parseHostPort, usageError } from "../../shared/cli.ts";
import { noDelay } from "../../shared/no_delay.ts";
import { onShutdownSignal } from "../../shared/server/cli.ts";
import { logToStderr } from "../../shared/server/server_state.ts";
import { isDisconnect, type Transport, writeAll } from "../../shared/transport.ts";
import { KnownHosts, parseFingerprint, pinnedFingerprint } from "./channel/mod.ts";
import { defaultKnownHostsPath } from "./client.ts";
import { openLab3Transport } from "./connect.ts";

/** Copies one way until the source ends, then passes the end on. */
async function pump(from: Transport, to: Transport & { closeWrite?(): Promise<void> }) {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      await writeAll(to, buffer.subarray(0, n));
    }
  } catch (error) {
    if (!isDisconnect(error)) {
      console.error(`Tunnel: ${error instanceof Error ? error.message : error}`);
    }
  } finally {
    try {
      if (to.closeWrite) await to.closeWrite();
      else to.close();
    } catch {
      // gone already
    }
  }
}

/** Options for {@link startTunnel}. */
export interface TunnelOptions {
  /** The lab 3 server, `host:port`. */
  to: string;
  /** Decides whether to trust the server's identity key. */
  verifyServerKey: (publicKey: Uint8Array, fingerprint: string) => void | Promise<void>;
  /** Port on 127.0.0.1 for the plaintext side; 0 (default) picks a free one. */
  port?: number;
}

/** A running tunnel. */
export interface Tunnel extends AsyncDisposable {
  /** The plaintext side, `127.0.0.1:port`. */
  readonly addr: string;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a tunnel to a lab 3 server.
 *
 * @param options Where the server is, how to trust it, and where to listen.
 * @returns The tunnel, already accepting.
 */
export function startTunnel(options: TunnelOptions): Tunnel {
  const colon = options.to.lastIndexOf(":");
  const host = options.to.slice(0, colon);
  const port = Number(options.to.slice(colon + 1));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
  const open = new Set<Transport>();
  const tasks = new Set<Promise<void>>();
  const serve = async (plain: Deno.TcpConn) => {
    open.add(plain);
    let secure: Transport | undefined;
    try {
      noDelay(plain);
      secure = await openLab3Transport({ host, port, verifyServerKey: options.verifyServerKey });
      open.add(secure);
      await Promise.all([pump(plain, secure), pump(secure, plain)]);
    } catch (error) {
      console.error(
        `Tunnel: cannot reach ${options.to}: ${error instanceof Error ? error.message : error}`,
      );
    } finally {
      for (const t of [plain, secure]) {
        if (t === undefined) continue;
        open.delete(t);
        try {
          t.close();
        } catch {
          // closed already
        }
      }
    }
  };
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      const task = serve(conn);
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })();
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      listener.close();
      for (const t of open) {
        try {
          t.close();
        } catch {
          // closed already
        }
      }
      await accepting;
      await Promise.allSettled([...tasks]);
    })();
  const { port: listening } = listener.addr as Deno.NetAddr;
  return { addr: `127.0.0.1:${listening}`, close, [Symbol.asyncDispose]: close };
}

const USAGE = "deno run labs/03-secure/tunnel.ts";

const HELP =
  `Usage: deno run --allow-net --allow-read --allow-write --allow-env labs/03-secure/tunnel.ts \\
  --listen PORT --to HOST:PORT [--server-fingerprint SHA256:... | --known-hosts PATH]

Accepts plaintext RESP on 127.0.0.1:PORT and carries it over the secure channel to a lab 3 server,
so redis-cli, redis-benchmark or any Redis client can reach it.

Options:
  --listen PORT                     plaintext port on 127.0.0.1; 0 picks any free port (default 6380)
  --to HOST:PORT                    the lab 3 server (default 127.0.0.1:6379)
  --server-fingerprint SHA256:...   trust only this server key
  --known-hosts PATH                else: trust on first use, as the client does
                                    (default ~/.cachelab/known_hosts)
  --help                            show this help

Prints "listening on HOST:PORT" when ready. Ctrl-C stops it.`;

if (import.meta.main) {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        listen: { type: "string", default: "6380" },
        to: { type: "string", default: "127.0.0.1:6379" },
        "server-fingerprint": { type: "string" },
        "known-hosts": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  const port = listenPort(values.listen, USAGE);
  if (parseHostPort(values.to) === null) {
    usageError(`Invalid server: "${values.to}" is not HOST:PORT`, USAGE);
  }
  let verifyServerKey;
  const fingerprint = values["server-fingerprint"];
  if (fingerprint !== undefined) {
    try {
      verifyServerKey = pinnedFingerprint(parseFingerprint(fingerprint));
    } catch (error) {
      usageError(error instanceof Error ? error.message : String(error), USAGE);
    }
  } else {
    const path = values["known-hosts"] ?? defaultKnownHostsPath();
    if (path === undefined) {
      usageError("HOME is not set: give --known-hosts or --server-fingerprint", USAGE);
    }
    verifyServerKey = (await KnownHosts.open(path)).verifier(
      values.to,
      (notice) => console.error(notice),
    );
  }
  const tunnel = startTunnel({ to: values.to, verifyServerKey, port });
  console.log(`listening on ${tunnel.addr}`);
  onShutdownSignal(logToStderr, () => tunnel.close());
}
