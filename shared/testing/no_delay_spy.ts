/**
 * Watching which TCP connections get `TCP_NODELAY`, for tests of accept loops and clients.
 *
 * What Nagle's algorithm costs shows only as time (a round trip that waits for a delayed ACK), and
 * a test must not depend on time. So the tests check the cause instead: while a {@link NoDelaySpy}
 * is installed, every `setNoDelay()` call on any `Deno.TcpConn` in this process is recorded with
 * the two ends' addresses before it runs. A test then opens a real connection to a server running
 * in the same process, gets an answer (so the server has certainly accepted it), and asks whether
 * the server's end of that very connection was given `TCP_NODELAY`. Delete the call from an
 * accept loop and the test fails.
 *
 * It works by wrapping `setNoDelay` on the prototype every `Deno.TcpConn` shares, which is why
 * there can be only one spy at a time and why it must be disposed (`using spy = ...`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { RawClient } from "./raw_client.ts";

/** One recorded `setNoDelay()` call. */
export interface NoDelayCall {
  /** The local end of the connection it was called on, `host:port`. */
  local: string;
  /** The remote end, `host:port`. */
  remote: string;
  /** The argument, with Deno's default (`true`) filled in. */
  noDelay: boolean;
}

type SetNoDelay = (this: Deno.TcpConn, noDelay?: boolean) => void;

let installed = false;

/** Records `setNoDelay()` calls on every TCP connection in the process until disposed. */
export class NoDelaySpy implements Disposable {
  /** Every call so far, in order. */
  readonly calls: NoDelayCall[] = [];
  #prototype: { setNoDelay: SetNoDelay };
  #original: SetNoDelay;

  private constructor(prototype: { setNoDelay: SetNoDelay }) {
    this.#prototype = prototype;
    this.#original = prototype.setNoDelay;
    const calls = this.calls;
    const original = this.#original;
    prototype.setNoDelay = function (this: Deno.TcpConn, noDelay?: boolean): void {
      calls.push({
        local: `${this.localAddr.hostname}:${this.localAddr.port}`,
        remote: `${this.remoteAddr.hostname}:${this.remoteAddr.port}`,
        noDelay: noDelay ?? true,
      });
      original.call(this, noDelay);
    };
  }

  /**
   * Starts recording. The `Deno.TcpConn` prototype is not exported, so it is taken from a
   * throwaway connection to ourselves.
   *
   * @returns The spy; dispose of it to stop recording.
   * @throws {Error} If another spy is installed.
   */
  static async install(): Promise<NoDelaySpy> {
    if (installed) throw new Error("Cannot install a second NoDelaySpy: dispose of the first");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const accepted = await listener.accept();
    const prototype = Object.getPrototypeOf(client) as { setNoDelay: SetNoDelay };
    accepted.close();
    client.close();
    listener.close();
    installed = true;
    return new NoDelaySpy(prototype);
  }

  /**
   * Whether the server's end of a connection the test opened was given `TCP_NODELAY`.
   *
   * @param client The test's end of the connection.
   * @returns `true` if the other end had `setNoDelay(true)` called on it.
   */
  setOnServerEndOf(client: Deno.Conn): boolean {
    return this.#called(addr(client.remoteAddr), addr(client.localAddr));
  }

  /**
   * Whether a connection to `server` opened in this process was given `TCP_NODELAY` (a client, or
   * a proxy's upstream connection).
   *
   * @param server The address it was opened to, `host:port`.
   * @returns `true` if some connection to that address had `setNoDelay(true)` called on it.
   */
  setOnConnectionTo(server: string): boolean {
    return this.calls.some((c) => c.remote === server && c.noDelay);
  }

  /**
   * Opens a few connections to a server's accept loop, one after another, and fails unless the
   * server's end of each was given `TCP_NODELAY`. Each connection first gets an answer to
   * `request`, which proves the server accepted it (a loop sets the option before it serves).
   *
   * @param port Where the server listens, on 127.0.0.1.
   * @param request Bytes the server answers, such as `PING\r\n`.
   * @param reply The exact answer.
   */
  async assertAcceptLoop(port: number, request: string, reply: string): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await using client = RawClient.over(conn);
      await client.send(request);
      await client.expect(reply);
      assert.ok(
        this.setOnServerEndOf(conn),
        `connection ${i + 1}: the server's end has TCP_NODELAY`,
      );
    }
  }

  #called(local: string, remote: string): boolean {
    return this.calls.some((c) => c.local === local && c.remote === remote && c.noDelay);
  }

  /** Puts the original `setNoDelay` back. */
  [Symbol.dispose](): void {
    this.#prototype.setNoDelay = this.#original;
    installed = false;
  }
}

function addr(a: Deno.Addr): string {
  return a.transport === "tcp" ? `${a.hostname}:${a.port}` : a.transport;
}
