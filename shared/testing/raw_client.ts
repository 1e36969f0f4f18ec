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
import { parseHostPort } from "../cli.ts";
import { bytesToByteString, utf8ToBytes } from "../resp/bytes.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { ErrorReply, NULL_ARRAY, type Reply, SimpleString } from "../resp/reply.ts";
import { ReplyDecoder } from "../resp/reply_decoder.ts";
import type { Transport } from "../transport.ts";

/** How long a check waits before it fails instead of hanging. */
const DEFAULT_TIMEOUT_MS = 5_000;
/** How much of each send and receipt a failure report shows. */
const SHOWN_BYTES = 200;
/** How many sends and receipts a failure report shows: the exchange that failed and a little before. */
const CONVERSATION_KEPT = 4;

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
 * Shows a decoded reply as the RESP it came from would read, so a report says `-ERR unknown
 * command 'INFO'` where JavaScript would print `[object Object]`.
 *
 * @param value A reply, or any value a check compared.
 * @returns Such as `+OK`, `-ERR syntax error`, `:42`, `"hello"`, `(nil)`, `["a", :1]`.
 */
export function showValue(value: unknown): string {
  if (value === null) return "(nil)";
  if (value === NULL_ARRAY) return "(nil array)";
  if (typeof value === "string") return showBytes(value);
  if (typeof value === "number" || typeof value === "bigint") return `:${value}`;
  if (value instanceof SimpleString) return `+${value.value}`;
  if (value instanceof ErrorReply) return `-${value.message}`;
  if (value instanceof RegExp) return String(value);
  if (value instanceof Uint8Array) return showBytes(value);
  if (Array.isArray(value)) return `[${value.map(showValue).join(", ")}]`;
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${showValue(k)}: ${showValue(v)}`).join(", ")}}`;
  }
  return Deno.inspect(value, { depth: 4, colors: false });
}

/**
 * A reply a check reads as text (`INFO`, `CLIENT LIST`): the bulk string, or a failure that says
 * what came instead. A cast (`reply as string`) would let an error reply through, and the check
 * would then fail with `info.match is not a function`, which tells a student nothing.
 *
 * @param reply The decoded reply.
 * @param what The command, for the message: `INFO clients`.
 * @returns The text.
 * @throws {AssertionError} If the reply is not a bulk string.
 */
export function replyText(reply: Reply, what: string): string {
  if (typeof reply === "string") return reply;
  throw new AssertionError({
    message: `${what} replies with a bulk string, got ${showValue(reply)}`,
  });
}

/**
 * A reply a check reads as an array, or a failure that says what came instead.
 *
 * @param reply The decoded reply.
 * @param what The command, for the message: `KEYS *`.
 * @returns The array.
 * @throws {AssertionError} If the reply is not an array.
 */
export function replyArray(reply: Reply, what: string): readonly Reply[] {
  if (Array.isArray(reply)) return reply;
  throw new AssertionError({ message: `${what} replies with an array, got ${showValue(reply)}` });
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

/**
 * What `Deno.connect` needs for `host:port`, brackets removed from an IPv6 host: a grader finds
 * some students' servers on `[::1]:6379` only.
 *
 * @param addr Such as `127.0.0.1:6379` or `[::1]:6379`.
 * @returns The hostname and port.
 * @throws {TypeError} If it is not an address with a port.
 */
export function connectOptions(addr: string): { hostname: string; port: number } {
  const parsed = parseHostPort(addr);
  if (parsed === null) throw new TypeError(`Cannot parse address: "${addr}" is not host:port`);
  return { hostname: parsed.host, port: parsed.port };
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
  #timeoutMs = DEFAULT_TIMEOUT_MS;
  // The last few things sent and received, so a failed check can show the conversation that led
  // to it, whatever assertion failed (a deepEqual on a decoded reply shows no bytes by itself).
  #conversation: { direction: "sent" | "received"; head: Uint8Array; total: number }[] = [];

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
    const conn = await Deno.connect(connectOptions(addr));
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

  /**
   * How long a read waits when its caller gives no timeout: 5 s unless the grader's `--timeout`
   * says otherwise.
   */
  set timeoutMs(ms: number) {
    this.#timeoutMs = ms;
  }

  /**
   * The end of the conversation so far, for a failure report: the last few sends and receipts,
   * each shown as escaped bytes (the first {@link SHOWN_BYTES} of it, then how many more).
   *
   * @returns Lines such as `sent     "*1\r\n$4\r\nPING\r\n"`; none if nothing was exchanged.
   */
  conversation(): string[] {
    return this.#conversation.map(({ direction, head, total }) =>
      `${direction.padEnd(8)} ${showBytes(head)}` +
      (total > head.length ? ` ... (${total} bytes in all)` : "")
    );
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
    this.#record("sent", bytes);
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
  async expect(expected: string | Uint8Array, timeoutMs = this.#timeoutMs): Promise<void> {
    const want = toBytes(expected);
    // Stop waiting as soon as what arrived differs from what is expected: a short wrong answer
    // ("-ERR unknown command") is complete, and waiting for the expected length would only turn
    // it into a timeout, seconds later.
    let checked = 0; // bytes already compared, so a 1 MiB reply is compared once, not per read
    const differs = () => {
      const n = Math.min(this.#length, want.length);
      for (; checked < n; checked++) if (this.#buffer[checked] !== want[checked]) return true;
      return false;
    };
    await this.#waitFor(() => this.#length >= want.length || differs(), timeoutMs);
    const wrong = differs(); // a wrong reply arrived: whatever follows, nothing timed out
    let got = this.#take(want.length);
    if (got.length !== want.length || got.some((b, i) => b !== want[i])) {
      // Show the whole wrong reply, not just as many bytes as were expected: a short wait lets
      // the rest of its line arrive, so "-ERR no" reads as the server's complete error.
      const lineEnds = () => [...got, ...this.#buffer.subarray(0, this.#length)].includes(10);
      if (!lineEnds()) await this.#waitFor(lineEnds, 100);
      got = new Uint8Array([...got, ...this.#take(Math.min(this.#length, 256))]);
      throw new AssertionError({
        message: `Expected ${showBytes(want)}\n     got ${showBytes(got)}` +
          (this.#ended ? " (then the connection closed)" : wrong ? "" : " (timed out)"),
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
  async readLine(timeoutMs = this.#timeoutMs): Promise<string> {
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
  async readExactly(n: number, timeoutMs = this.#timeoutMs): Promise<Uint8Array> {
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
  async readReply(timeoutMs = this.#timeoutMs): Promise<Reply> {
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
  async expectClosed(timeoutMs = this.#timeoutMs): Promise<Uint8Array> {
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
        this.#record("received", buffer.subarray(0, n));
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

  #record(direction: "sent" | "received", bytes: Uint8Array): void {
    const last = this.#conversation.at(-1);
    if (last?.direction === direction) {
      if (last.head.length < SHOWN_BYTES) {
        const more = bytes.subarray(0, SHOWN_BYTES - last.head.length);
        last.head = new Uint8Array([...last.head, ...more]);
      }
      last.total += bytes.length;
      return;
    }
    this.#conversation.push({ direction, head: bytes.slice(0, SHOWN_BYTES), total: bytes.length });
    if (this.#conversation.length > CONVERSATION_KEPT) this.#conversation.shift();
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
