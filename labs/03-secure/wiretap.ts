/**
 * A wiretap: a relay that sits between a client and a server, passes every byte along, and shows
 * (or keeps, or changes) what it passes. It is the eavesdropper of the lesson, and in the tests the
 * attacker too: it can flip a bit, send a record twice, swap two, or cut the stream short.
 *
 * ```sh
 * deno task lab2 --port 6379                                   # a plaintext server
 * deno run --allow-net labs/03-secure/wiretap.ts --listen 6380 --to 127.0.0.1:6379
 * deno task lab2:client -p 6380 SET password hunter2           # talk through the tap
 * ```
 *
 * The tap prints each chunk it relays as a hex dump, the way `tcpdump -X` would if you could run
 * it (it needs root; this does not). Against lab 2 you read `SET password hunter2` in the right-hand
 * column; against lab 3, noise.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { listenPort, parseCommandLine, parseHostPort, usageError } from "../../shared/cli.ts";
import { noDelay } from "../../shared/no_delay.ts";
import { onShutdownSignal } from "../../shared/server/cli.ts";
import { logToStderr } from "../../shared/server/server_state.ts";
import { concatBytes } from "../../shared/resp/bytes.ts";
import { hexDump } from "./channel/hex_dump.ts";

/** Which way bytes are going. */
export type Direction = "client->server" | "server->client";

/**
 * What to forward instead of a frame: bytes (the frame itself, changed, several frames, or none),
 * or `{ end }`: forward those bytes, then end this direction, so the far side reads end of stream
 * as if the connection had been cut there.
 */
export type TamperResult = Uint8Array | Uint8Array[] | { end: Uint8Array[] };

/** Options for a {@link Wiretap}. */
export interface WiretapOptions {
  /**
   * Cuts the byte stream into frames, so that {@link tamper} and {@link observe} see whole
   * messages. Called once per direction of each connection, it returns a function that, given the
   * bytes buffered so far, says how long the first whole frame is, or 0 if more bytes are needed.
   * Without it, each chunk read from the socket is one frame.
   */
  framer?: (direction: Direction, connection: number) => (buffered: Uint8Array) => number;
  /** Sees every frame before it is forwarded; returns what to forward instead. */
  tamper?: (frame: Uint8Array, info: FrameInfo) => TamperResult;
  /** Sees every frame as it arrives (before tampering). */
  observe?: (frame: Uint8Array, info: FrameInfo) => void;
}

/** Where a frame belongs. */
export interface FrameInfo {
  /** Which way it is going. */
  direction: Direction;
  /** The relayed connection, numbered from 1 in the order they arrived. */
  connection: number;
  /** The frame's index in its direction of its connection, from 0. */
  index: number;
}

/** Pumps bytes one way, frame by frame, until either side ends. */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  direction: Direction,
  connection: number,
  options: WiretapOptions,
  capture: (direction: Direction, bytes: Uint8Array) => void,
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let pending = new Uint8Array(0);
  let index = 0;
  const cut = options.framer?.(direction, connection);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      const merged = new Uint8Array(pending.length + n);
      merged.set(pending);
      merged.set(buffer.subarray(0, n), pending.length);
      pending = merged;
      for (;;) {
        const size = cut ? cut(pending) : pending.length;
        if (size === 0 || size > pending.length) break;
        const frame = pending.slice(0, size);
        pending = pending.subarray(size);
        const info = { direction, connection, index: index++ };
        capture(direction, frame);
        options.observe?.(frame, info);
        const out = options.tamper ? options.tamper(frame, info) : frame;
        const parts = out instanceof Uint8Array ? [out] : Array.isArray(out) ? out : out.end;
        for (const part of parts) await writeAll(to, part);
        if (!(out instanceof Uint8Array) && !Array.isArray(out)) return;
      }
    }
  } catch {
    // Either side went away; the other direction notices on its own.
  } finally {
    // Pass the end of stream on, so the far side sees what the near side did.
    await to.closeWrite().catch(() => {});
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await conn.write(bytes.subarray(written));
}

/**
 * A relay between clients and one server.
 *
 * @example
 * ```ts
 * await using tap = await Wiretap.start("127.0.0.1:6379");
 * // point a client at tap.addr, then:
 * tap.captured("client->server"); // every byte the clients sent
 * ```
 */
export class Wiretap implements AsyncDisposable {
  /** Where clients connect, `host:port`. */
  readonly addr: string;
  #listener: Deno.Listener;
  #options: WiretapOptions;
  #target: { hostname: string; port: number };
  #conns = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  #captured: Record<Direction, Uint8Array[]> = { "client->server": [], "server->client": [] };
  #connections = 0;
  #accepting: Promise<void>;

  private constructor(
    listener: Deno.Listener,
    target: { hostname: string; port: number },
    options: WiretapOptions,
  ) {
    this.#listener = listener;
    this.#target = target;
    this.#options = options;
    const { hostname, port } = listener.addr as Deno.NetAddr;
    this.addr = `${hostname}:${port}`;
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Starts a relay to `target`.
   *
   * @param target The server, `host:port`.
   * @param options How to frame, observe and tamper; nothing by default (a plain relay).
   * @param listen Where to listen; any free port on 127.0.0.1 by default.
   * @returns The running relay.
   */
  static start(
    target: string,
    options: WiretapOptions = {},
    listen: { hostname?: string; port?: number } = {},
  ): Promise<Wiretap> {
    const colon = target.lastIndexOf(":");
    const listener = Deno.listen({
      hostname: listen.hostname ?? "127.0.0.1",
      port: listen.port ?? 0,
    });
    const to = { hostname: target.slice(0, colon), port: Number(target.slice(colon + 1)) };
    return Promise.resolve(new Wiretap(listener, to, options));
  }

  /** How many connections have been relayed. */
  get connections(): number {
    return this.#connections;
  }

  /**
   * Every byte relayed so far in one direction, or in both (client's first, then server's).
   *
   * @param direction Which way; both by default.
   * @returns The bytes, as they arrived (before any tampering).
   */
  captured(direction?: Direction): Uint8Array {
    const parts = direction === undefined
      ? [...this.#captured["client->server"], ...this.#captured["server->client"]]
      : this.#captured[direction];
    return concatBytes(parts);
  }

  /** Stops listening, cuts every relayed connection, and waits for the relay to settle. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await this.#accepting;
    await Promise.allSettled([...this.#tasks]);
  }

  /** Closes the relay at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        // A relay must not hold back what it relays: see shared/no_delay.ts.
        client = noDelay(await this.#listener.accept());
      } catch {
        return; // closed
      }
      const task = this.#relay(client);
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
    }
  }

  async #relay(client: Deno.Conn): Promise<void> {
    const connection = ++this.#connections;
    this.#conns.add(client);
    let server: Deno.Conn | undefined;
    try {
      server = noDelay(await Deno.connect(this.#target));
      this.#conns.add(server);
      const capture = (direction: Direction, bytes: Uint8Array) =>
        this.#captured[direction].push(bytes);
      await Promise.all([
        pump(client, server, "client->server", connection, this.#options, capture),
        pump(server, client, "server->client", connection, this.#options, capture),
      ]);
    } catch {
      // The server is not there: drop the client, as a dead link would.
    } finally {
      for (const conn of [client, server]) {
        if (conn === undefined) continue;
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
  }
}

const USAGE = "deno run labs/03-secure/wiretap.ts";

const HELP = `Usage: deno run --allow-net labs/03-secure/wiretap.ts --listen PORT --to HOST:PORT

Relays TCP connections from 127.0.0.1:PORT to HOST:PORT and prints every chunk it relays as a hex
dump, in both directions: what anyone on the path between a client and a server can read.

Options:
  --listen PORT     port to listen on, on 127.0.0.1; 0 picks any free port (default 6380)
  --to HOST:PORT    the server to relay to (default 127.0.0.1:6379)
  --help            show this help

Prints "listening on HOST:PORT" when ready. Ctrl-C stops it.`;

if (import.meta.main) {
  const { values } = parseCommandLine({ usage: USAGE, help: HELP }, () =>
    parseArgs({
      args: Deno.args,
      options: {
        listen: { type: "string", default: "6380" },
        to: { type: "string", default: "127.0.0.1:6379" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  const port = listenPort(values.listen, USAGE);
  if (parseHostPort(values.to) === null) {
    usageError(`Invalid target: "${values.to}" is not HOST:PORT`, USAGE);
  }
  const tap = await Wiretap.start(values.to, {
    observe(frame, { direction, connection }) {
      console.log(`[connection ${connection}] ${direction}, ${frame.length} bytes`);
      for (const line of hexDump(frame, { maxBytes: 512 })) console.log(line);
    },
  }, { port });
  console.log(`listening on ${tap.addr}`);
  onShutdownSignal(logToStderr, () => tap.close());
}
