/**
 * A test client that speaks raw bytes, so a test can send exactly what it means (half a frame,
 * a malformed length, forty pipelined commands in one write) and check exactly what comes back.
 *
 * A background task reads everything the server sends into one buffer; every check waits on that
 * buffer with a deadline. So a test never hangs on a server that stays silent, and no read is ever
 * left pending when the test ends (Deno's op sanitizer would flag it).
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { bytesToByteString, utf8ToBytes } from "../resp/bytes.ts";
import { encodeCommand } from "../resp/encoder.ts";
import type { Reply } from "../resp/reply.ts";
import { ReplyDecoder } from "../resp/reply_decoder.ts";
import type { Transport } from "../transport.ts";

/** How long a check waits before it fails instead of hanging. */
const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * Shows bytes the way `redis-cli` quotes them: printable ASCII as is, the rest escaped, so that a
 * failed assertion on protocol text full of `\r\n` is readable.
 *
 * @param bytes What to show; a string is taken as a byte string.
 * @returns A double-quoted, escaped rendering.
 */
export function showBytes(bytes: Uint8Array | string): string {
  const s = typeof bytes === "string" ? bytes : bytesToByteString(bytes);
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d) out += "\\r";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x22 || c === 0x5c) out += `\\${s[i]}`;
    else if (c >= 0x20 && c < 0x7f) out += s[i];
    else out += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return out + '"';
}

/**
 * Turns test input into bytes. A string is a byte string (each character one byte), unless it
 * holds a character above U+00FF, which only real text can: then it is sent as UTF-8.
 *
 * @param data A byte string, text, or bytes.
 * @returns The bytes to send.
 */
export function toBytes(data: string | Uint8Array): Uint8Array {
  if (typeof data !== "string") return data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c > 0xff) return utf8ToBytes(data);
    out[i] = c;
  }
  return out;
}

/** A byte pipe a {@link RawClient} can run over: TCP, or lab 3's encrypted channel. */
export type RawTransport = Transport & { closeWrite?(): Promise<void> };

/** A raw TCP connection for tests. Use it with `await using` so it is closed however a test ends. */
export class RawClient implements AsyncDisposable {
  #conn: RawTransport;
  // What the server sent and no check has consumed yet: the first #length bytes of #buffer. The
  // buffer doubles when full, so a test receiving megabytes does not copy them once per read.
  #buffer = new Uint8Array(64 * 1024);
  #length = 0;
  #ended = false;
  #reader: Promise<void>;
  #wakers: (() => void)[] = [];

  private constructor(conn: RawTransport) {
    this.#conn = conn;
    this.#reader = this.#readLoop();
  }

  /**
   * Connects to `host:port`.
   *
   * @param addr Such as `127.0.0.1:6379`.
   * @returns The connected client.
   */
  static async connect(addr: string): Promise<RawClient> {
    const colon = addr.lastIndexOf(":");
    const conn = await Deno.connect({
      hostname: addr.slice(0, colon),
      port: Number(addr.slice(colon + 1)),
    });
    return new RawClient(conn);
  }

  /**
   * Runs over a connection that is already open, such as lab 3's encrypted channel: the checks
   * then see the plaintext the channel carries.
   *
   * @param transport The connection; the client owns it from now on.
   * @returns The client.
   */
  static over(transport: RawTransport): RawClient {
    return new RawClient(transport);
  }

  /** Bytes received and not yet consumed by a check (a copy). */
  get received(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }

  /**
   * Sends bytes as they are.
   *
   * @param data A byte string (`"PING\r\n"`, `"\xff"`) or bytes.
   */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = toBytes(data);
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  /**
   * Sends a command as an array of bulk strings.
   *
   * @param args Byte strings (or bytes).
   */
  async sendCommand(...args: (string | Uint8Array)[]): Promise<void> {
    await this.send(encodeCommand(args.map(toBytes)));
  }

  /**
   * Sends a command and returns the decoded reply.
   *
   * @param args Byte strings (or bytes).
   * @returns The reply.
   */
  async call(...args: (string | Uint8Array)[]): Promise<Reply> {
    await this.sendCommand(...args);
    return await this.readReply();
  }

  /**
   * Waits for exactly `expected.length` more bytes and checks that they are `expected`.
   *
   * @param expected The exact bytes, as a byte string or bytes.
   * @param timeoutMs Fail if they have not all arrived by then.
   */
  async expect(expected: string | Uint8Array, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const want = toBytes(expected);
    await this.#waitFor(() => this.#length >= want.length, timeoutMs);
    let got = this.#take(want.length);
    if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
      // Show the whole wrong reply, not just as many bytes as were expected: a short wait lets
      // the rest of its line arrive, so "-ERR no" reads as the server's complete error.
      await this.#waitFor(() => this.#buffer.subarray(0, this.#length).includes(10), 100);
      got = new Uint8Array([...got, ...this.#take(Math.min(this.#length, 256))]);
      throw new AssertionError({
        message: `Expected ${showBytes(want)}\n     got ${showBytes(got)}` +
          (got.length < want.length ? ` (${this.#ended ? "connection closed" : "timed out"})` : ""),
        actual: showBytes(got),
        expected: showBytes(want),
        operator: "strictEqual",
      });
    }
  }

  /**
   * Waits for one line, as text protocols such as memcached's answer.
   *
   * @param timeoutMs Fail if no whole line has arrived by then.
   * @returns The line as a byte string, without its `\r\n`.
   */
  async readLine(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const lineEnd = () => {
      for (let i = 1; i < this.#length; i++) {
        if (this.#buffer[i - 1] === 13 && this.#buffer[i] === 10) return i + 1;
      }
      return -1;
    };
    await this.#waitFor(() => lineEnd() >= 0, timeoutMs);
    const end = lineEnd();
    if (end < 0) {
      throw new AssertionError({
        message: `Expected a line ending in \\r\\n, received ${showBytes(this.received)}` +
          ` (${this.#ended ? "connection closed" : "timed out"})`,
      });
    }
    return bytesToByteString(this.#take(end).subarray(0, end - 2));
  }

  /**
   * Waits for exactly `n` more bytes, whatever they are: the data block after a header that gave
   * its length, such as memcached's `VALUE k 0 5`.
   *
   * @param n How many bytes.
   * @param timeoutMs Fail if they have not all arrived by then.
   * @returns The bytes.
   */
  async readExactly(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
    await this.#waitFor(() => this.#length >= n, timeoutMs);
    if (this.#length < n) {
      throw new AssertionError({
        message: `Expected ${n} bytes, received ${showBytes(this.received)}` +
          ` (${this.#ended ? "connection closed" : "timed out"})`,
      });
    }
    return this.#take(n);
  }

  /**
   * Waits for one whole RESP reply and decodes it.
   *
   * @param timeoutMs Fail if it has not arrived by then.
   * @returns The decoded reply.
   */
  async readReply(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Reply> {
    // One decoder for the whole wait, fed only the bytes that are new each time: decoding all
    // that has arrived afresh on every read would be quadratic in the size of a big reply.
    const decoder = new ReplyDecoder();
    let fed = 0;
    let reply: Reply | undefined;
    await this.#waitFor(() => {
      if (this.#length > fed) {
        decoder.push(this.#buffer.subarray(fed, this.#length));
        fed = this.#length;
      }
      reply = decoder.next();
      return reply !== undefined;
    }, timeoutMs);
    if (reply === undefined) {
      throw new AssertionError({
        message: `No whole reply ${this.#ended ? "before the connection closed" : "in time"}; ` +
          `received ${showBytes(this.received)}`,
      });
    }
    this.#take(fed - decoder.buffered);
    return reply;
  }

  /**
   * Checks that the server closes the connection, and returns what it sent before closing.
   *
   * @param timeoutMs How long to wait for the close.
   * @returns The bytes received before the close.
   */
  async expectClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Uint8Array> {
    await this.#waitFor(() => false, timeoutMs);
    if (!this.#ended) {
      throw new AssertionError({ message: `Connection still open after ${timeoutMs} ms` });
    }
    return this.#take(this.#length);
  }

  /**
   * Checks that nothing arrives for `ms` milliseconds: the server has not answered (yet).
   *
   * @param ms How long to listen.
   */
  async expectSilence(ms: number): Promise<void> {
    await this.#waitFor(() => this.#length > 0, ms);
    if (this.#length > 0 || this.#ended) {
      throw new AssertionError({
        message: this.#length > 0
          ? `Expected silence, got ${showBytes(this.received)}`
          : "Expected silence, but the connection closed",
      });
    }
  }

  /** Shuts down the sending side: the server reads end of stream, and may still reply. */
  async closeWrite(): Promise<void> {
    if (this.#conn.closeWrite === undefined) {
      throw new TypeError("Cannot shut down the sending side: this transport has no closeWrite");
    }
    await this.#conn.closeWrite();
  }

  /** Closes the connection and waits for the background reader to finish. Idempotent. */
  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    await this.#reader;
  }

  /** Closes the connection at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        if (this.#length + n > this.#buffer.length) {
          let capacity = this.#buffer.length * 2;
          while (capacity < this.#length + n) capacity *= 2;
          const grown = new Uint8Array(capacity);
          grown.set(this.#buffer.subarray(0, this.#length));
          this.#buffer = grown;
        }
        this.#buffer.set(buffer.subarray(0, n), this.#length);
        this.#length += n;
        this.#wake();
      }
    } catch {
      // reset by the server, or closed by us: either way, the stream has ended
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  #wake(): void {
    for (const wake of this.#wakers.splice(0)) wake();
  }

  /** Waits until `done()` is true, the stream ends, or `timeoutMs` passes. */
  async #waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && !this.#ended && Date.now() < deadline) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wakers.push(resolve);
        timer = setTimeout(resolve, deadline - Date.now());
      });
      clearTimeout(timer);
    }
  }

  /** Removes the first `n` received bytes (or all there are) and returns them. */
  #take(n: number): Uint8Array {
    const out = this.#buffer.slice(0, Math.min(n, this.#length));
    this.#buffer.copyWithin(0, out.length, this.#length);
    this.#length -= out.length;
    return out;
  }
}
