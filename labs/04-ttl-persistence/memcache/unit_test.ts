/**
 * Unit tests of the pieces that need no socket: memcached's number parsing and the streaming
 * decoder, fed a byte at a time.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FramingError, MemcacheDecoder } from "./decoder.ts";
import { parseInt32, parseUint32, parseUint64 } from "./numbers.ts";
import type { Request } from "./protocol.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Pushes `input` one byte at a time and collects every request the decoder returns. */
function decodeByteByByte(input: string, decoder = new MemcacheDecoder()): Request[] {
  const out: Request[] = [];
  for (const byte of bytes(input)) {
    decoder.push(Uint8Array.of(byte));
    for (let r = decoder.next(); r !== null; r = decoder.next()) out.push(r);
  }
  return out;
}

Deno.test("parseInt32() reads like memcached's safe_strtol, wrapping to 32 bits", () => {
  assert.equal(parseInt32("0"), 0);
  assert.equal(parseInt32("-1"), -1);
  assert.equal(parseInt32("+5"), 5);
  assert.equal(parseInt32("\t7"), 7);
  assert.equal(parseInt32("2592001"), 2592001);
  assert.equal(parseInt32("4294967297"), 1);
  assert.equal(parseInt32("2147483648"), -2147483648);
  assert.equal(parseInt32("9223372036854775808"), null);
  for (const bad of ["", "x", "12x", "-", "+", "1.5", " "]) {
    assert.equal(parseInt32(bad), null, bad);
  }
});

Deno.test("parseUint64() refuses what looks negative and keeps 64 bits exact", () => {
  assert.equal(parseUint64("18446744073709551615"), 18446744073709551615n);
  assert.equal(parseUint64("18446744073709551616"), null);
  assert.equal(parseUint64("-1"), null);
  assert.equal(parseUint64("-0"), 0n);
  // C's strtoull negates modulo 2^64; memcached only refuses results that look negative.
  assert.equal(parseUint64("-18446744073709551615"), 1n);
  assert.equal(parseUint64(" 12"), 12n);
  assert.equal(parseUint64("12\r"), 12n);
  assert.equal(parseUint64("12 x"), 12n);
  assert.equal(parseUint64("12x"), null);
});

Deno.test("parseUint32() wraps a 64-bit value to 32 bits, as memcached stores flags", () => {
  assert.equal(parseUint32("4294967295"), 4294967295);
  assert.equal(parseUint32("4294967297"), 1);
  assert.equal(parseUint32("-1"), null);
});

Deno.test("MemcacheDecoder returns nothing until a line is whole, then the request", () => {
  const requests = decodeByteByByte("get a b\r\ndelete a noreply\r\nincr n 5\r\n");
  assert.deepEqual(requests, [
    { kind: "get", withCas: false, keys: ["a", "b"] },
    { kind: "delete", key: "a", noreply: true },
    { kind: "incr", key: "n", delta: 5n, noreply: false },
  ]);
});

Deno.test("MemcacheDecoder reads a data block by its length, \\r\\n inside included", () => {
  const [request] = decodeByteByByte("cas k 7 -1 4 99 noreply\r\n\r\n\r\n\r\n");
  assert.deepEqual(request, {
    kind: "store",
    command: "cas",
    key: "k",
    flags: 7,
    exptime: -1,
    bytes: 4,
    cas: 99n,
    noreply: true,
    data: "\r\n\r\n",
  });
});

Deno.test("MemcacheDecoder reports a block without \\r\\n and reads on after it", () => {
  const requests = decodeByteByByte("set k 0 0 1\r\nxyz\r\nversion\r\n");
  assert.deepEqual(requests.map((r) => r.kind), ["bad_chunk", "reply", "version"]);
});

Deno.test("MemcacheDecoder swallows an oversized block without buffering it", () => {
  const decoder = new MemcacheDecoder({ maxItemSize: 1000 });
  decoder.push(bytes("set big 0 0 5000\r\n"));
  assert.equal(decoder.next(), null);
  for (let i = 0; i < 5; i++) {
    decoder.push(new Uint8Array(1000));
    assert.equal(decoder.next(), null);
    assert.equal(decoder.buffered, 0);
  }
  decoder.push(bytes("\r\nget k\r\n"));
  assert.equal(decoder.next()?.kind, "too_large");
  assert.deepEqual(decoder.next(), { kind: "get", withCas: false, keys: ["k"] });
});

Deno.test("MemcacheDecoder gives up on 2049 bytes with no newline, except for a get", () => {
  const decoder = new MemcacheDecoder();
  decoder.push(bytes("x".repeat(2049)));
  assert.throws(() => decoder.next(), FramingError);

  const get = new MemcacheDecoder({ maxGetLine: 10_000 });
  get.push(bytes(`get ${"k ".repeat(4000)}`));
  assert.equal(get.next(), null);
  get.push(bytes("k ".repeat(2000)));
  assert.throws(() => get.next(), FramingError);
});

Deno.test("MemcacheDecoder refuses the binary protocol's first byte", () => {
  const decoder = new MemcacheDecoder();
  decoder.push(Uint8Array.of(0x80, 0x0a, 0, 0));
  assert.throws(() => decoder.next(), /binary protocol/);
});

Deno.test("MemcacheDecoder reads the seed's short set form", () => {
  const [request] = decodeByteByByte("set k 2\r\nhi\r\n");
  assert.equal(request.kind, "store");
  assert.deepEqual(
    request.kind === "store" && [request.flags, request.exptime, request.data],
    [0, 0, "hi"],
  );
});
