/**
 * The client library: send commands to a Redis-compatible server, get replies back as values.
 *
 * ```ts
 * await using client = await RedisClient.connect({ port: 6379 });
 * await client.send("SET", "greeting", "hello"); // SimpleString { value: "OK" }
 * await client.send("GET", "greeting");          // "hello"
 * ```
 *
 * Two ideas carry the whole design.
 *
 * **Replies come back in order.** RESP has no request ids: a server answers commands in the order
 * they arrived, so the n-th reply belongs to the n-th command. The client therefore keeps a
 * first-in, first-out queue of the promises it has handed out, and one background loop reads
 * replies and settles the oldest promise each time. Any number of commands can be outstanding at
 * once, which is what makes pipelining work: send a hundred commands, then wait once.
 *
 * **Writes are batched.** Commands issued in the same turn of the event loop are encoded into one
 * buffer and sent with one write, a little after the last of them (on a microtask). A loop of a
 * hundred `send()` calls costs one system call, not a hundred, without the caller doing anything.
 * {@link RedisClient.pipeline} makes that explicit.
 *
 * The client reads and writes through a {@link Transport}, not a socket, so lab 3 can hand it an
 * encrypted channel with {@link RedisClient.over} and nothing here changes.
 *
 * @module
 */

import { RespWriter } from "../resp/encoder.ts";
import { ProtocolError } from "../resp/errors.ts";
import type { Reply } from "../resp/reply.ts";
import { ReplyDecoder } from "../resp/reply_decoder.ts";
import { type Transport, writeAll } from "../transport.ts";
import { noDelay } from "../no_delay.ts";
import { Fifo } from "./fifo.ts";

export type { Transport } from "../transport.ts";

/**
 * One argument of a command. A `string` is user text and is sent as UTF-8; a `Uint8Array` is sent
 * byte for byte. A *byte string* you got back in a reply is neither: turn it into bytes with
 * `byteStringToBytes` before sending it again, or its bytes above 0x7f would be encoded twice.
 */
export type Arg = string | Uint8Array;

/** Where a server listens. */
export interface ServerAddress {
  /** Host name or IP address (default `127.0.0.1`). */
  host?: string;
  /** TCP port (default `6379`). */
  port?: number;
}

/** How much one read asks for; the same as the server's read size. */
const READ_SIZE = 16 * 1024;

/** A promise handed out by `send()`, waiting for its reply. */
interface Waiter {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

/**
 * Parses `host:port`, `port`, or `[ipv6]:port`.
 *
 * @throws {TypeError} When the port is not a number from 1 to 65535.
 */
function parseAddress(addr: string): Required<ServerAddress> {
  const colon = addr.lastIndexOf(":");
  const host = colon < 0 ? "127.0.0.1" : addr.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const portText = addr.slice(colon + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new TypeError(`Cannot parse address "${addr}": expected host:port`);
  }
  return { host: host || "127.0.0.1", port };
}

/**
 * A connection to a Redis-compatible server. Use it with `await using` so it is closed however
 * the block ends.
 *
 * @example
 * ```ts
 * await using client = await RedisClient.connect("127.0.0.1:6379");
 * const [set, get] = await client.pipeline([["SET", "k", "v"], ["GET", "k"]]);
 * ```
 */
export class RedisClient implements AsyncDisposable {
  #transport: Transport;
  #decoder = new ReplyDecoder();
  // Two writers take turns: commands go into `#queued` while `#sending`'s bytes are on their way,
  // because a writer's buffer must not change until its write has finished.
  #queued = new RespWriter();
  #sending = new RespWriter();
  // Set from the moment a write is scheduled until the queue is empty again: while it is set, new
  // commands only join the queue, and the running flush takes them along.
  #flushPending = false;
  #flushing: Promise<void> = Promise.resolve();
  #waiting = new Fifo<Waiter>();
  #failure: Error | undefined;
  #reader: Promise<void>;

  private constructor(transport: Transport) {
    this.#transport = transport;
    this.#reader = this.#readLoop();
  }

  /**
   * Opens a TCP connection to a server.
   *
   * @param address `host:port`, or `{ host, port }`; defaults to `127.0.0.1:6379`.
   * @returns The connected client.
   * @throws {Deno.errors.ConnectionRefused} When nothing listens there (or another network error).
   * @example
   * ```ts
   * const client = await RedisClient.connect({ host: "127.0.0.1", port: 6379 });
   * ```
   */
  static async connect(address: string | ServerAddress = {}): Promise<RedisClient> {
    const { host, port } = typeof address === "string"
      ? parseAddress(address)
      : { host: address.host ?? "127.0.0.1", port: address.port ?? 6379 };
    // Commands leave at once, not after the server's delayed ACK (see shared/no_delay.ts):
    // a client that pipelines sends a batch in several writes when it is large.
    const conn = noDelay(await Deno.connect({ hostname: host, port }));
    return new RedisClient(conn);
  }

  /**
   * Runs a client over a byte pipe that is already open, such as lab 3's encrypted channel.
   *
   * @param transport Anything with `read`, `write` and `close`; the client owns it from now on.
   * @returns The client.
   * @example
   * ```ts
   * const client = RedisClient.over(await Deno.connect({ port: 6379 }));
   * ```
   */
  static over(transport: Transport): RedisClient {
    return new RedisClient(transport);
  }

  /** `true` once the connection has ended, whichever side ended it. */
  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /**
   * Sends one command and waits for its reply.
   *
   * An error reply is a value, not an exception: it resolves to an `ErrorReply`, as it is an
   * ordinary answer in RESP. The promise rejects only when the connection is lost.
   *
   * @param args The command name and its arguments.
   * @returns The reply: a byte string for a bulk string, `null`, a number, an array, a
   *   `SimpleString` or an `ErrorReply`.
   * @throws {TypeError} (as a rejection) When `args` is empty.
   * @example
   * ```ts
   * await client.send("ECHO", "hi");      // "hi"
   * await client.send("GET", "missing");  // null
   * await client.send("NOSUCHCOMMAND");   // ErrorReply { message: "ERR unknown command ..." }
   * ```
   */
  send(...args: Arg[]): Promise<Reply> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (args.length === 0) return Promise.reject(emptyCommand());
    const reply = this.#expectReply();
    this.#queued.command(args);
    this.#scheduleFlush();
    return reply;
  }

  /**
   * Sends many commands in one write and waits for all their replies.
   *
   * @param commands Each command as its name and arguments.
   * @returns The replies, in the order of the commands.
   * @example
   * ```ts
   * await client.pipeline([["INCR", "n"], ["INCR", "n"]]); // [1, 2]
   * ```
   */
  pipeline(commands: readonly (readonly Arg[])[]): Promise<Reply[]> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (commands.some((args) => args.length === 0)) return Promise.reject(emptyCommand());
    const replies = commands.map((args) => {
      const reply = this.#expectReply();
      this.#queued.command(args);
      return reply;
    });
    this.#scheduleFlush();
    return Promise.all(replies);
  }

  /**
   * Closes the connection. Commands still waiting for a reply are rejected. Safe to call twice.
   *
   * @returns When the background reader and writer have stopped.
   */
  async close(): Promise<void> {
    this.#fail(new Error("Connection closed by the client"));
    await this.#reader;
    await this.#flushing;
  }

  /** Closes the connection at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Puts a new waiter at the back of the queue. */
  #expectReply(): Promise<Reply> {
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    this.#waiting.push({ resolve, reject });
    return promise;
  }

  /**
   * Sends what is queued once the current turn of the event loop is over, so that every command
   * issued in that turn goes out in the same write.
   */
  #scheduleFlush(): void {
    if (this.#flushPending) return;
    this.#flushPending = true;
    queueMicrotask(() => {
      this.#flushing = this.#flush();
    });
  }

  /** Writes batches until nothing is queued; commands added during a write form the next batch. */
  async #flush(): Promise<void> {
    try {
      while (this.#queued.length > 0 && !this.#failure) {
        [this.#queued, this.#sending] = [this.#sending, this.#queued];
        await writeAll(this.#transport, this.#sending.take());
        this.#sending.shrink();
      }
    } catch (error) {
      this.#fail(lostConnection(error));
    } finally {
      this.#flushPending = false;
    }
  }

  /** Reads replies for as long as the connection lives, handing each to the oldest waiter. */
  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_SIZE);
    try {
      for (;;) {
        const n = await this.#transport.read(buffer);
        if (n === null) {
          this.#fail(new Error("Server closed the connection"));
          return;
        }
        this.#decoder.push(buffer.subarray(0, n));
        for (let reply = this.#decoder.next(); reply !== undefined; reply = this.#decoder.next()) {
          const waiter = this.#waiting.shift();
          if (waiter === undefined) {
            // RESP2 servers speak only when spoken to, so this reply answers nothing we sent:
            // the stream is out of step and no later reply could be trusted.
            this.#fail(new Error("Server sent a reply that no command was waiting for"));
            return;
          }
          waiter.resolve(reply);
        }
      }
    } catch (error) {
      this.#fail(
        error instanceof ProtocolError
          ? new Error(`Cannot decode the server's reply: ${error.message}`, { cause: error })
          : lostConnection(error),
      );
    }
  }

  /**
   * Ends the connection for good: the first reason wins, every waiter is rejected with it, and so
   * is every later command.
   */
  #fail(reason: Error): void {
    if (this.#failure) return;
    this.#failure = reason;
    for (const waiter of this.#waiting.drain()) waiter.reject(reason);
    try {
      this.#transport.close();
    } catch {
      // Already closed: the server went first, or the transport closes itself at end of stream.
    }
  }
}

/**
 * The error for a command with no name. It must never reach the wire: a server reads `*0\r\n` as
 * "no command" and sends no reply, so the reply queue would be one off from then on.
 */
function emptyCommand(): TypeError {
  return new TypeError("Cannot send an empty command: it needs at least a name");
}

/** Wraps a read or write error as the reason every waiting command is rejected with. */
function lostConnection(error: unknown): Error {
  const detail = error instanceof Error ? error.message : String(error);
  return new Error(`Connection lost: ${detail}`, { cause: error });
}
