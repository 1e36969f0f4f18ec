/**
 * The proxy's side of the conversation with the upstream server.
 *
 * **One shared connection.** Every client's forwarded commands travel over one TCP connection to
 * the upstream, through the course's `RedisClient`, which pipelines: commands sent in the same turn
 * of the event loop leave in one write, and replies are matched to requests by order. A thousand
 * clients cost the upstream one connection, not a thousand (that is what twemproxy and Envoy's
 * Redis proxy do). The price is head-of-line blocking: a slow command (`KEYS *` on a big database)
 * delays everyone queued behind it — but so it would inside the single-threaded upstream anyway.
 *
 * **Failure is normal.** The upstream may be down when the proxy starts, may restart, may hang.
 *
 * - A connection that breaks is dropped and reopened on the next request. Meanwhile requests fail
 *   at once with `upstream HOST:PORT unavailable: <why>`, instead of hanging.
 * - A failed attempt to connect is not retried at once: the next attempt waits 50 ms, then 100,
 *   200... up to 1 s (exponential backoff). Requests in between fail at once with the last reason,
 *   so a dead upstream costs one `connect()` per backoff period, not one per request.
 * - A connect that does not complete within the timeout fails, and so does an upstream that stops
 *   answering: when requests have been waiting with no reply at all for the timeout, the connection
 *   is closed, every waiting request fails, and the next one reconnects. One timer checks every
 *   connection, as lab 2's idle sweep does, rather than one timer per request.
 *
 * **Dedicated connections** exist for clients that need connection state upstream (`MULTI`,
 * `WATCH`): see `caching_proxy.ts`.
 *
 * @module
 */

import { byteStringToBytes } from "../../../shared/resp/bytes.ts";
import { ErrorReply, type Reply } from "../../../shared/resp/reply.ts";
import { RedisClient } from "../../../shared/client/client.ts";
import type { Transport } from "../../../shared/transport.ts";
import { noDelay } from "../../../shared/no_delay.ts";

/** The first wait after a failed connect; it doubles after each failure. */
const BACKOFF_MIN_MS = 50;
/** The longest wait between two connection attempts. */
const BACKOFF_MAX_MS = 1000;

/** A request could not be answered because the upstream is unreachable, or stopped answering. */
export class UpstreamError extends Error {
  /**
   * Describes an upstream failure.
   *
   * @param address The upstream, `host:port`.
   * @param reason What went wrong, such as `Connection refused`.
   */
  constructor(readonly address: string, readonly reason: string) {
    super(`upstream ${address} unavailable: ${reason}`);
    this.name = "UpstreamError";
  }

  /** The error reply a client gets: `-ERR upstream 127.0.0.1:6379 unavailable: ...`. */
  get reply(): ErrorReply {
    return new ErrorReply(`ERR ${this.message}`);
  }
}

/**
 * A short reason for a network error: Deno's message without its `(os error 111)` suffix.
 *
 * @param error What a connect, read or write threw.
 * @returns Such as `Connection refused`.
 */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\(os error \d+\)$/, "");
}

/** Options for {@link Upstream}. */
export interface UpstreamOptions {
  /** Host name or address of the upstream server. */
  host: string;
  /** Its port. */
  port: number;
  /** How long a connect, or a request with no reply at all, may take before it fails. */
  timeoutMs: number;
  /**
   * Sent as `AUTH [user] password` on each new connection before anything else, for an upstream
   * with `requirepass` (or an ACL user). A refusal fails the connect like a refused connection.
   */
  auth?: { user?: string; password: string };
  /** Called with a log line on each change: connected, lost, unreachable. */
  log?: (line: string) => void;
  /** Called when the shared connection is lost; the proxy empties its cache then. */
  onLost?: () => void;
}

/**
 * One connection to the upstream: a `RedisClient`, plus what the proxy needs to notice a dead or
 * silent server.
 */
export class UpstreamLink {
  readonly #client: RedisClient;
  readonly #address: string;
  /** Requests sent and not yet answered. */
  #waiting = 0;
  /** When the last reply arrived, or when the oldest waiting request was sent. */
  #lastProgress = 0;
  /** Why the link ended, in words for the client; set by whichever side noticed first. */
  #failure: string | undefined;
  readonly #onEnd: (link: UpstreamLink, reason: string) => void;

  /**
   * Wraps an open connection.
   *
   * @param conn The connection; the link owns it from now on.
   * @param address The upstream, `host:port`, for error messages.
   * @param onEnd Called once when the connection ends, with the reason.
   */
  constructor(
    conn: Transport,
    address: string,
    onEnd: (link: UpstreamLink, reason: string) => void,
  ) {
    this.#address = address;
    this.#onEnd = onEnd;
    // Watch the reads the client makes: end of stream or an error is the moment the upstream
    // went away, and it arrives before the client rejects its waiting requests.
    const watched: Transport = {
      read: async (buffer) => {
        try {
          const n = await conn.read(buffer);
          if (n === null) this.#end("Server closed the connection");
          return n;
        } catch (error) {
          this.#end(describeError(error));
          throw error;
        }
      },
      write: (data) => conn.write(data),
      close: () => conn.close(),
    };
    this.#client = RedisClient.over(watched);
  }

  /** Why the connection ended, or `undefined` while it is open. */
  get reason(): string | undefined {
    return this.#failure;
  }

  /** `true` once the connection has ended. */
  get closed(): boolean {
    return this.#failure !== undefined || this.#client.closed;
  }

  /**
   * Sends one command and waits for its reply.
   *
   * @param args The command and its arguments, as byte strings.
   * @returns The reply (an error reply is a reply, not an exception).
   * @throws {UpstreamError} When the connection is lost before the reply arrives.
   */
  async call(args: readonly string[]): Promise<Reply> {
    if (this.#waiting++ === 0) this.#lastProgress = performance.now();
    try {
      // Byte strings become bytes here. A plain string would be sent as UTF-8, which would turn
      // each byte above 0x7f into two.
      return await this.#client.send(...args.map(byteStringToBytes));
    } catch (error) {
      this.#end(describeError(error));
      throw new UpstreamError(this.#address, this.#failure ?? describeError(error));
    } finally {
      this.#waiting--;
      this.#lastProgress = performance.now();
    }
  }

  /**
   * Tells whether requests have waited with no reply at all for longer than `timeoutMs`.
   *
   * @param now The current `performance.now()`.
   * @param timeoutMs The limit.
   * @returns `true` if the upstream looks hung.
   */
  overdue(now: number, timeoutMs: number): boolean {
    return this.#waiting > 0 && now - this.#lastProgress > timeoutMs;
  }

  /**
   * Ends the connection; waiting requests fail with `reason`.
   *
   * @param reason Why, in words for the client.
   * @returns When the connection's reader has stopped.
   */
  close(reason = "Connection closed by the proxy"): Promise<void> {
    this.#end(reason);
    return this.#client.close();
  }

  #end(reason: string): void {
    if (this.#failure !== undefined) return;
    this.#failure = reason;
    this.#onEnd(this, reason);
    // The client rejects every waiting request; `call` turns each into this reason.
    this.#client.close().catch(() => {});
  }
}

/**
 * The upstream server: one shared connection, opened on demand and reopened after failures, plus
 * dedicated connections on request.
 *
 * @example
 * ```ts
 * const upstream = new Upstream({ host: "127.0.0.1", port: 6379, timeoutMs: 5000 });
 * await upstream.call(["GET", "k"]); // the value, or a rejection with an UpstreamError
 * await upstream.close();
 * ```
 */
export class Upstream {
  /** `host:port`, as in error messages and `INFO proxy`. */
  readonly address: string;
  /** Commands sent upstream since start, on any connection. */
  calls = 0;
  /** Commands that failed because the upstream was unreachable or silent. */
  errors = 0;
  readonly #options: UpstreamOptions;
  #shared: UpstreamLink | null = null;
  #connecting: Promise<UpstreamLink> | null = null;
  /** Every open link, shared or dedicated, for the timeout sweep and for shutdown. */
  readonly #links = new Set<UpstreamLink>();
  /** No connection attempt before this `performance.now()`; requests fail fast until then. */
  #retryAt = 0;
  #backoffMs = BACKOFF_MIN_MS;
  #lastError = "";
  /** Whether the last attempt succeeded, so that the log says only what changed. */
  #up = true;
  readonly #sweep: ReturnType<typeof setInterval>;
  #closed = false;

  /**
   * Prepares the connection; nothing is opened until the first request.
   *
   * @param options Where the upstream is, and how long to wait for it.
   */
  constructor(options: UpstreamOptions) {
    this.#options = options;
    this.address = `${options.host}:${options.port}`;
    const every = Math.max(25, Math.min(1000, options.timeoutMs / 4));
    this.#sweep = setInterval(() => this.#closeHungLinks(), every);
  }

  /** `true` while the shared connection is open. */
  get connected(): boolean {
    return this.#shared !== null && !this.#shared.closed;
  }

  /**
   * Opens the shared connection now, if it is not open. A failure is logged, not thrown: the next
   * request tries again.
   *
   * @returns When the attempt has succeeded or failed.
   */
  async connect(): Promise<void> {
    if (this.connected) return;
    try {
      await this.#reconnect();
    } catch {
      // Logged by #connectFailed; requests will report it.
    }
  }

  /**
   * Sends a command over the shared connection, connecting first if needed.
   *
   * @param args The command and its arguments, as byte strings.
   * @returns The reply.
   * @throws {UpstreamError} When the upstream cannot be reached or the connection is lost.
   */
  async call(args: readonly string[]): Promise<Reply> {
    try {
      const link = this.connected && this.#shared !== null ? this.#shared : await this.#reconnect();
      this.calls++;
      return await link.call(args);
    } catch (error) {
      this.errors++;
      throw error;
    }
  }

  /**
   * Opens a connection for one client alone (the proxy gives one to a client in a transaction).
   * It obeys the same backoff as the shared one: while the upstream is known to be down, this
   * fails at once.
   *
   * @returns The new connection; the caller closes it.
   * @throws {UpstreamError} When the upstream cannot be reached.
   */
  async dedicated(): Promise<UpstreamLink> {
    this.#failFastDuringBackoff();
    try {
      return await this.#open();
    } catch (error) {
      throw this.#connectFailed(error);
    }
  }

  /**
   * Sends a command over a dedicated connection, counting it like any other.
   *
   * @param link A connection from {@link dedicated}.
   * @param args The command and its arguments, as byte strings.
   * @returns The reply.
   * @throws {UpstreamError} When the connection is lost.
   */
  async callOn(link: UpstreamLink, args: readonly string[]): Promise<Reply> {
    this.calls++;
    try {
      return await link.call(args);
    } catch (error) {
      this.errors++;
      throw error;
    }
  }

  /** Closes every connection and stops the timeout sweep; requests fail from now on. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    await this.#connecting?.catch(() => {});
    await Promise.all([...this.#links].map((link) => link.close("The proxy is shutting down")));
  }

  /** Connects the shared link, once for all the requests that need it at the same moment. */
  #reconnect(): Promise<UpstreamLink> {
    if (this.#connecting === null) {
      this.#failFastDuringBackoff();
      const attempt = this.#open().then(
        (link) => this.#shared = link,
        (error) => {
          throw this.#connectFailed(error);
        },
      );
      this.#connecting = attempt;
      const done = () => {
        this.#connecting = null;
      };
      attempt.then(done, done);
    }
    return this.#connecting;
  }

  #failFastDuringBackoff(): void {
    if (this.#closed) throw new UpstreamError(this.address, "The proxy is shutting down");
    if (performance.now() < this.#retryAt) throw new UpstreamError(this.address, this.#lastError);
  }

  /** Records a failed connect: log it if it is news, and wait longer before the next try. */
  #connectFailed(error: unknown): UpstreamError {
    if (error instanceof UpstreamError) return error;
    this.#lastError = describeError(error);
    this.#retryAt = performance.now() + this.#backoffMs;
    if (this.#up) {
      this.#options.log?.(
        `Upstream ${this.address} unreachable: ${this.#lastError}; retrying with backoff up to ` +
          `${BACKOFF_MAX_MS} ms`,
      );
    }
    this.#up = false;
    this.#backoffMs = Math.min(this.#backoffMs * 2, BACKOFF_MAX_MS);
    return new UpstreamError(this.address, this.#lastError);
  }

  /** Opens a TCP connection within the timeout, and wraps it as a link. */
  async #open(): Promise<UpstreamLink> {
    const { host, port, timeoutMs } = this.#options;
    const connecting = Deno.connect({ hostname: host, port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no connection within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    let conn: Deno.TcpConn;
    try {
      conn = await Promise.race([connecting, timedOut]);
    } catch (error) {
      // A connect that completes after we gave up must not leak its socket.
      connecting.then((late) => late.close(), () => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (this.#closed) {
      conn.close();
      throw new UpstreamError(this.address, "The proxy is shutting down");
    }
    // Commands leave at once, not after the upstream's delayed ACK: see shared/no_delay.ts.
    noDelay(conn);
    const link = new UpstreamLink(conn, this.address, (ended, reason) => {
      this.#links.delete(ended);
      if (ended === this.#shared) {
        this.#shared = null;
        if (!this.#closed) {
          this.#options.log?.(`Lost the connection to upstream ${this.address}: ${reason}`);
          this.#options.onLost?.();
        }
      }
    });
    this.#links.add(link);
    // Before any client's command: the link is in #links, so the hung-link sweep bounds the wait.
    if (this.#options.auth !== undefined) await this.#authenticate(link, this.#options.auth);
    if (!this.#up) this.#options.log?.(`Upstream ${this.address} reachable again`);
    this.#up = true;
    this.#backoffMs = BACKOFF_MIN_MS;
    this.#retryAt = 0;
    return link;
  }

  /**
   * Sends `AUTH` on a new link. A refusal (a wrong password, say) closes the link and throws a
   * plain error, so the caller backs off as after a refused connection rather than retrying at
   * once; the reason names the upstream's reply, never the password.
   */
  async #authenticate(
    link: UpstreamLink,
    auth: { user?: string; password: string },
  ): Promise<void> {
    const args = auth.user === undefined
      ? ["AUTH", auth.password]
      : ["AUTH", auth.user, auth.password];
    let reply: Reply;
    try {
      reply = await link.call(args);
    } catch (error) {
      throw new Error(
        `AUTH got no reply: ${error instanceof UpstreamError ? error.reason : error}`,
      );
    }
    if (reply instanceof ErrorReply) {
      await link.close("AUTH refused");
      throw new Error(`AUTH refused: ${reply.message}`);
    }
  }

  /** The timeout sweep: a link whose requests have had no reply for too long is closed. */
  #closeHungLinks(): void {
    const now = performance.now();
    for (const link of this.#links) {
      if (link.overdue(now, this.#options.timeoutMs)) {
        link.close(`no reply within ${this.#options.timeoutMs} ms`).catch(() => {});
      }
    }
  }
}
