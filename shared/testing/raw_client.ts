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

/** A raw TCP connection for tests. Use it with `await using` so it is closed however a test ends. */
export class RawClient implements AsyncDisposable {
  #conn: Deno.Conn;
  #received = new Uint8Array(0);
  #ended = false;
  #reader: Promise<void>;
  #wakers: (() => void)[] = [];

  private constructor(conn: Deno.Conn) {
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

  /** Bytes received and not yet consumed by a check. */
  get received(): Uint8Array {
    return this.#received;
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
    await this.#waitFor(() => this.#received.length >= want.length, timeoutMs);
    let got = this.#take(want.length);
    if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
      // Show the whole wrong reply, not just as many bytes as were expected: a short wait lets
      // the rest of its line arrive, so "-ERR no" reads as the server's complete error.
      await this.#waitFor(() => this.#received.includes(10), 100);
      got = new Uint8Array([...got, ...this.#take(Math.min(this.#received.length, 256))]);
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
   * Waits for one whole RESP reply and decodes it.
   *
   * @param timeoutMs Fail if it has not arrived by then.
   * @returns The decoded reply.
   */
  async readReply(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Reply> {
    let reply: Reply | undefined;
    let used = 0;
    await this.#waitFor(() => {
      const decoder = new ReplyDecoder();
      decoder.push(this.#received);
      reply = decoder.next();
      used = this.#received.length - decoder.buffered;
      return reply !== undefined;
    }, timeoutMs);
    if (reply === undefined) {
      throw new AssertionError({
        message: `No whole reply ${this.#ended ? "before the connection closed" : "in time"}; ` +
          `received ${showBytes(this.#received)}`,
      });
    }
    this.#take(used);
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
    return this.#take(this.#received.length);
  }

  /**
   * Checks that nothing arrives for `ms` milliseconds: the server has not answered (yet).
   *
   * @param ms How long to listen.
   */
  async expectSilence(ms: number): Promise<void> {
    await this.#waitFor(() => this.#received.length > 0, ms);
    if (this.#received.length > 0 || this.#ended) {
      throw new AssertionError({
        message: this.#received.length > 0
          ? `Expected silence, got ${showBytes(this.#received)}`
          : "Expected silence, but the connection closed",
      });
    }
  }

  /** Shuts down the sending side: the server reads end of stream, and may still reply. */
  async closeWrite(): Promise<void> {
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
        const merged = new Uint8Array(this.#received.length + n);
        merged.set(this.#received);
        merged.set(buffer.subarray(0, n), this.#received.length);
        this.#received = merged;
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

  #take(n: number): Uint8Array {
    const out = this.#received.slice(0, n);
    this.#received = this.#received.slice(out.length);
    return out;
  }
}
