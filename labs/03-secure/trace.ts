/**
 * `--trace`: the bytes on the wire, printed to stderr so a student can see what an eavesdropper
 * sees. The secure channel reports each frame before and after encryption, as a title line and a
 * hex dump; this file tags those lines with the connection they belong to, keeps the password out
 * of them, and traces TLS connections (whose records stay inside the runtime) as plaintext.
 *
 * Keeping the password out is less simple than searching each line for it. A hex dump shows 16
 * bytes a line, so `hunter2` may be split across two lines (`...0d 0a 68 |..h|` then
 * `75 6e 74 65 72 32 ...|unter2|`), and the channel shows at most 512 bytes of a frame, so a dump
 * may stop in the middle of it. So the tracer reads the dump's bytes back, hides the secret in
 * the bytes, and prints the dump again. The channel writes all the lines of one dump in one go,
 * without an `await` between them, so the tracer collects them until the current task is done
 * (a microtask) and then prints them.
 *
 * @module
 */

import type { Transport } from "../../shared/transport.ts";
import { hexDump } from "./channel/hex_dump.ts";

/** What a hidden secret's bytes become: asterisks, so lengths and offsets stay true. */
const REDACTED = 0x2a;

/** Partial matches at the very edge of a dump are hidden from this many bytes up. */
const MIN_EDGE_MATCH = 3;

/** A line of `hexDump`: indent, 8-digit offset, the hex field, then the ASCII column. */
const DUMP_LINE = /^(\s*)([0-9a-f]{8}) {2}((?:[0-9a-f]{2} | {3}| )+) \|.*\|$/;

/**
 * Hides every occurrence of `secret` in `bytes`, and any part of it cut off at either end (at
 * least a few bytes long), in a copy.
 *
 * @param bytes The bytes to show.
 * @param secret The bytes that must not be shown; nothing is hidden when it is empty.
 * @returns `bytes` itself when nothing had to be hidden, else a redacted copy.
 * @example
 * ```ts
 * redactBytes(new TextEncoder().encode("AUTH hunter2"), new TextEncoder().encode("hunter2"));
 * // the bytes of "AUTH *******"
 * ```
 */
export function redactBytes(bytes: Uint8Array, secret: Uint8Array): Uint8Array {
  if (secret.length === 0) return bytes;
  let copy: Uint8Array | undefined;
  const hide = (start: number, end: number) => {
    copy ??= bytes.slice();
    copy.fill(REDACTED, start, end);
  };
  const matches = (at: number, from: number, length: number) => {
    for (let j = 0; j < length; j++) if (bytes[at + j] !== secret[from + j]) return false;
    return true;
  };
  for (let i = 0; i + secret.length <= bytes.length; i++) {
    if (matches(i, 0, secret.length)) hide(i, i + secret.length);
  }
  const longest = Math.min(secret.length - 1, bytes.length);
  for (let k = longest; k >= MIN_EDGE_MATCH; k--) {
    // The secret's start at the end of the bytes, cut off by a dump limit or a record boundary.
    if (matches(bytes.length - k, 0, k)) {
      hide(bytes.length - k, bytes.length);
      break;
    }
  }
  for (let k = longest; k >= MIN_EDGE_MATCH; k--) {
    // The secret's end at the start of the bytes: the rest of one begun in the previous record.
    if (matches(0, secret.length - k, k)) {
      hide(0, k);
      break;
    }
  }
  return copy ?? bytes;
}

/** Options for a {@link Tracer}. */
export interface TracerOptions {
  /** Whether `--trace` was given; a disabled tracer costs nothing. */
  enabled: boolean;
  /** The password (a byte string), hidden wherever it would appear. */
  secret?: string;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
}

/** A hex dump being collected: its indent and the bytes read back from its lines. */
interface DumpBlock {
  indent: string;
  bytes: number[];
}

/** Prints trace lines for many connections, each line tagged with its connection. */
export class Tracer {
  /** Whether tracing is on. */
  readonly enabled: boolean;
  readonly #secret: Uint8Array;
  readonly #secretText: string;
  readonly #write: (line: string) => void;

  /** @param options Whether to trace, the secret to hide, and where to write. */
  constructor(options: TracerOptions) {
    this.enabled = options.enabled;
    this.#secretText = options.secret ?? "";
    this.#secret = Uint8Array.from(this.#secretText, (c) => c.charCodeAt(0));
    this.#write = options.write ?? ((line) => console.error(line));
  }

  /**
   * A line sink for the channel's `trace` option, for one connection.
   *
   * @param connection Such as the client's `host:port`; lines are tagged `[connection]`. None
   *   for the client, which has one connection.
   * @returns A function that prints a line, secret hidden.
   */
  sink(connection?: string): (line: string) => void {
    const tag = connection === undefined ? "" : `[${connection}] `;
    let block: DumpBlock | undefined;
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      if (block === undefined) return;
      const { indent, bytes } = block;
      block = undefined;
      const shown = redactBytes(Uint8Array.from(bytes), this.#secret);
      for (const line of hexDump(shown, { indent })) this.#write(tag + line);
    };
    return (line) => {
      const dump = DUMP_LINE.exec(line);
      if (dump !== null) {
        const [, indent, offset, hex] = dump;
        // A dump starting again at offset 0 is the next frame's: print the one before.
        if (block !== undefined && (offset === "00000000" || indent !== block.indent)) flush();
        block ??= { indent, bytes: [] };
        for (const pair of hex.match(/[0-9a-f]{2}/g) ?? []) block.bytes.push(parseInt(pair, 16));
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(flush);
        }
        return;
      }
      flush();
      this.#write(tag + this.#redactText(line));
    };
  }

  /**
   * Wraps a transport so that every read and write is dumped as plaintext.
   *
   * @param transport The connection.
   * @param connection Such as the client's `host:port`.
   * @returns A transport that behaves the same and traces.
   */
  wrapPlaintext(transport: Transport, connection?: string): Transport {
    const tag = connection === undefined ? "" : `[${connection}] `;
    const dump = (title: string, bytes: Uint8Array) => {
      this.#write(`${tag}${title}, ${bytes.length} bytes of plaintext (TLS encrypts it)`);
      for (const line of hexDump(redactBytes(bytes, this.#secret), { maxBytes: 512 })) {
        this.#write(tag + line);
      }
    };
    return {
      read: async (buffer) => {
        const n = await transport.read(buffer);
        if (n !== null) dump("recv", buffer.subarray(0, n));
        return n;
      },
      write: async (data) => {
        const n = await transport.write(data);
        dump("send", data.subarray(0, n));
        return n;
      },
      close: () => transport.close(),
    };
  }

  /** Any other line: hide the secret if it appears whole (an error message quoting bytes). */
  #redactText(line: string): string {
    if (this.#secretText === "") return line;
    return line.split(this.#secretText).join("*".repeat(this.#secretText.length));
  }
}
