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
 * One dump at a time is not enough either. A client may send `AUTH hunter2` one byte per record,
 * and then every dump holds a single letter, none of them the secret. So the plaintext of each
 * direction is also followed as one stream (a {@link SecretScanner}): a match that began in earlier
 * records is finished in this one, and the last bytes of a record that could be the start of the
 * secret are hidden at once, before anyone knows whether the rest will follow. Holding them back
 * until the next record would hide no more, and would make the trace lag behind the wire; the
 * price of printing at once is that a record ending in `h` shows `*` when the secret is `hunter2`,
 * even if `unter2` never comes.
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

/**
 * Finds a secret in a byte stream that arrives in pieces, as a string search would in the whole
 * stream (Knuth–Morris–Pratt: after a mismatch, it falls back to the longest part of what matched
 * that could still start the secret, so no byte is looked at twice).
 *
 * @example
 * ```ts
 * const scanner = new SecretScanner(new TextEncoder().encode("hunter2"));
 * scanner.hide(new TextEncoder().encode("AUTH hun")); // "AUTH ***": maybe the start
 * scanner.hide(new TextEncoder().encode("ter2
")); // "****
": it was
 * ```
 */
export class SecretScanner {
  readonly #secret: Uint8Array;
  /** For each prefix length, the longest proper border: where a match resumes after a miss. */
  readonly #fallback: number[];
  /** How many bytes of the secret the stream ends with so far. */
  #matched = 0;

  /**
   * Starts a scanner at the beginning of a stream.
   *
   * @param secret The bytes to hide; an empty secret hides nothing.
   */
  constructor(secret: Uint8Array) {
    this.#secret = secret;
    this.#fallback = [0, 0];
    for (let i = 1, k = 0; i < secret.length; i++) {
      while (k > 0 && secret[i] !== secret[k]) k = this.#fallback[k];
      if (secret[i] === secret[k]) k++;
      this.#fallback[i + 1] = k;
    }
  }

  /** Forgets the stream so far: the next piece does not follow on from the last one. */
  reset(): void {
    this.#matched = 0;
  }

  /**
   * Hides, in a copy of the next piece of the stream, every byte of the secret it holds: whole
   * occurrences, the end of one begun in earlier pieces, and a tail that may be its start.
   *
   * @param piece The next bytes of the stream.
   * @returns `piece` itself when nothing had to be hidden, else a redacted copy.
   */
  hide(piece: Uint8Array): Uint8Array {
    const secret = this.#secret;
    if (secret.length === 0) return piece;
    let copy: Uint8Array | undefined;
    const hide = (start: number, end: number) => {
      if (end <= start) return;
      copy ??= piece.slice();
      copy.fill(REDACTED, start, end);
    };
    let k = this.#matched;
    for (let i = 0; i < piece.length; i++) {
      while (k > 0 && piece[i] !== secret[k]) k = this.#fallback[k];
      if (piece[i] === secret[k]) k++;
      if (k === secret.length) {
        // The whole secret ends here; the part of it in earlier pieces was hidden as their tail.
        hide(Math.max(0, i + 1 - secret.length), i + 1);
        k = this.#fallback[k];
      }
    }
    hide(Math.max(0, piece.length - k), piece.length);
    this.#matched = k;
    return copy ?? piece;
  }
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
  /** For a record's plaintext: its direction, and how many bytes it has (the dump may show fewer). */
  plaintext?: { direction: "send" | "recv"; length: number };
}

/** The channel's title for a record's plaintext, which the dump on the next lines shows. */
const PLAINTEXT_TITLE = /^(send|recv) record \d+(?: decrypted)?: (\d+) bytes of plaintext$/;

/** Prints trace lines for many connections, each line tagged with its connection. */
export class Tracer {
  /** Whether tracing is on. */
  readonly enabled: boolean;
  readonly #secret: Uint8Array;
  readonly #secretText: string;
  readonly #write: (line: string) => void;

  /**
   * Makes a tracer.
   *
   * @param options Whether to trace, the secret to hide, and where to write.
   */
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
    // What the next dump shows, if the line before it announced a record's plaintext.
    let announced: DumpBlock["plaintext"];
    const streams = {
      send: new SecretScanner(this.#secret),
      recv: new SecretScanner(this.#secret),
    };
    const flush = () => {
      scheduled = false;
      if (block === undefined) return;
      const { indent, bytes, plaintext } = block;
      block = undefined;
      let shown: Uint8Array = Uint8Array.from(bytes);
      if (plaintext !== undefined) {
        const stream = streams[plaintext.direction];
        shown = stream.hide(shown);
        // A dump cut short leaves a gap in the stream: the next record does not follow this one.
        if (bytes.length < plaintext.length) stream.reset();
      }
      shown = redactBytes(shown, this.#secret);
      for (const line of hexDump(shown, { indent })) this.#write(tag + line);
    };
    return (line) => {
      const dump = DUMP_LINE.exec(line);
      if (dump !== null) {
        const [, indent, offset, hex] = dump;
        // A dump starting again at offset 0 is the next frame's: print the one before.
        if (block !== undefined && (offset === "00000000" || indent !== block.indent)) flush();
        if (block === undefined) {
          block = { indent, bytes: [], plaintext: announced };
          announced = undefined;
        }
        for (const pair of hex.match(/[0-9a-f]{2}/g) ?? []) block.bytes.push(parseInt(pair, 16));
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(flush);
        }
        return;
      }
      flush();
      const title = PLAINTEXT_TITLE.exec(line);
      announced = title === null
        ? undefined
        : { direction: title[1] === "send" ? "send" : "recv", length: Number(title[2]) };
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
