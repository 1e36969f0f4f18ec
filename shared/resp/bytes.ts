/**
 * Byte strings: how this server holds binary data in JavaScript strings.
 *
 * Redis keys and values are arbitrary bytes. A `Uint8Array` can hold them, but it is a poor Map key
 * (two arrays with the same bytes are different keys) and costs several times the memory of a
 * string for a small value (`bench/README.md` has the measurement).
 * So the server holds every key and value as a *byte string*: a JavaScript string in which each
 * character is one byte, code 0 to 255 (Node calls this encoding "latin1"). It is binary-safe by
 * construction, compares by content, and V8 stores it one byte per character.
 *
 * A byte string is not text. `"é"` typed by a user is two UTF-8 bytes, so it becomes the two-character
 * byte string `"\xc3\xa9"`. Conversions happen only at the edges: the decoder makes byte strings from
 * the socket, the encoder writes them back, and the client converts user text with {@link utf8ToBytes}.
 *
 * @module
 */

import { Buffer } from "node:buffer";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * Up to this many bytes, {@link shortByteString} makes a byte string faster than `Buffer` does.
 *
 * `Buffer`'s latin1 conversion is native, so its cost barely depends on the length; but each call
 * crosses from JavaScript into Deno's runtime and back, and for a key or a small value that crossing
 * is most of the work. `String.fromCharCode` with one argument per byte stays inside V8, which wins
 * for keys and small values; from about 64 bytes on the native copy wins (`bench/README.md`).
 */
export const SHORT_BYTE_STRING = 48;

/** Reads a fixed number of bytes from `bytes[start]` on as a byte string. */
type FixedReader = (bytes: Uint8Array, start: number) => string;

/**
 * `readers[n]` reads `n` bytes:
 * `readers[3]` is `(b, s) => String.fromCharCode(b[s], b[s + 1], b[s + 2])`.
 *
 * `String.fromCharCode` is fastest when each byte is an argument of its own in the call, because V8
 * then hands them straight to its builtin; spreading the same bytes from an array
 * (`String.fromCharCode.apply(null, codes)`) goes through a slower, generic path (`bench/README.md`
 * has the measurement). A call written in source names a fixed number of arguments, so the module
 * writes one such function per length, once, as it loads. The code it generates holds only these
 * `b[s + i]` terms: no input ever reaches `new Function`.
 */
const readers: FixedReader[] = Array.from({ length: SHORT_BYTE_STRING + 1 }, (_, n) => {
  const codes = Array.from({ length: n }, (_, i) => `b[s + ${i}]`).join(", ");
  return new Function("b", "s", `return String.fromCharCode(${codes});`) as FixedReader;
});

/**
 * Reads `bytes[start, start + length)` as a byte string, for a `length` of at most
 * {@link SHORT_BYTE_STRING}; the decoders' fast path for keys and small values.
 *
 * @param bytes The buffer to read from; the range must lie inside it.
 * @param start First byte.
 * @param length How many bytes, from 0 to {@link SHORT_BYTE_STRING}.
 * @returns One character per byte.
 */
export function shortByteString(bytes: Uint8Array, start: number, length: number): string {
  return readers[length](bytes, start);
}

/**
 * Reads `bytes[start, end)` as a byte string.
 *
 * `TextDecoder` cannot do this: its "latin1" label is really windows-1252, which maps bytes
 * 0x80–0x9f to other code points. Node's `Buffer` has a true latin1 conversion, implemented natively.
 *
 * @param bytes The buffer to read from.
 * @param start First byte, inclusive.
 * @param end Last byte, exclusive.
 * @returns One character per byte.
 * @example
 * ```ts
 * bytesToByteString(new Uint8Array([0x68, 0x69, 0xff]), 0, 3); // "hi\xff"
 * ```
 */
export function bytesToByteString(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
    "latin1",
    start,
    end,
  );
}

/**
 * Writes a byte string into `out` at `offset`; the caller has made room for `s.length` bytes.
 *
 * For long strings that are plain ASCII, `TextEncoder.encodeInto` copies natively and is much faster
 * than a loop (in ASCII, UTF-8 and latin1 agree). If the string has any byte above 0x7f the UTF-8
 * encoder would write two bytes for it, which `encodeInto` reports by writing more than it read, and
 * we fall back to the loop.
 *
 * @param s A byte string.
 * @param out Destination buffer.
 * @param offset Where the first byte goes.
 */
export function writeByteString(s: string, out: Uint8Array, offset: number): void {
  const n = s.length;
  if (n > 64) {
    const { read, written } = utf8Encoder.encodeInto(s, out.subarray(offset, offset + n));
    if (read === n && written === n) return;
  }
  for (let i = 0; i < n; i++) out[offset + i] = s.charCodeAt(i);
}

/**
 * Converts a byte string to a new `Uint8Array`.
 *
 * @param s A byte string (every character code at most 255).
 * @returns The bytes.
 */
export function byteStringToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  writeByteString(s, out, 0);
  return out;
}

/**
 * Encodes user text as UTF-8 and returns it as a byte string.
 *
 * @param text Any JavaScript string.
 * @returns Its UTF-8 bytes, one character per byte.
 * @example
 * ```ts
 * utf8ToByteString("é"); // "\xc3\xa9"
 * ```
 */
export function utf8ToByteString(text: string): string {
  const bytes = utf8Encoder.encode(text);
  return bytesToByteString(bytes);
}

/**
 * Decodes a byte string as UTF-8 text, replacing invalid sequences with U+FFFD.
 *
 * @param s A byte string.
 * @returns The text it encodes.
 */
export function byteStringToUtf8(s: string): string {
  return utf8Decoder.decode(byteStringToBytes(s));
}

/**
 * Encodes user text as UTF-8 bytes.
 *
 * @param text Any JavaScript string.
 * @returns Its UTF-8 encoding.
 */
export function utf8ToBytes(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/**
 * Joins byte arrays end to end into one new array, as a frame is built from its header and body
 * or as the chunks a socket delivered become the stream they came from.
 *
 * @param parts The arrays, in order.
 * @returns A new array holding all their bytes.
 * @example
 * ```ts
 * concatBytes([Uint8Array.of(1, 2), Uint8Array.of(3)]); // Uint8Array [1, 2, 3]
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
