import assert from "node:assert/strict";
import { lzfCheck, LzfCompressor, lzfDecompress } from "./lzf.ts";
import { REDIS_DUMP } from "./testdata.ts";

const text = (s: string) => new TextEncoder().encode(s);

function compress(lzf: LzfCompressor, input: Uint8Array, room = input.length - 4): Uint8Array {
  const out = new Uint8Array(Math.max(room, 0) + 16);
  const n = lzf.compress(input, 0, input.length, out, 0, room);
  return out.slice(0, n);
}

function decompress(packed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  assert.equal(lzfDecompress(packed, 0, packed.length, out, 0, length), length);
  return out;
}

/** Finds `needle` in `haystack`. */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("LZF compresses a run and gets it back", () => {
  const lzf = new LzfCompressor();
  const input = text("a".repeat(100));
  const packed = compress(lzf, input);
  assert.ok(packed.length > 0 && packed.length < 12, `${packed.length} bytes`);
  assert.deepEqual(decompress(packed, 100), input);
});

Deno.test("LZF gives up (returns 0) when the output would not fit", () => {
  const lzf = new LzfCompressor();
  const input = text("abcdefghijklmnopqrstuvwxyz0123456789");
  assert.equal(compress(lzf, input).length, 0);
});

Deno.test("LZF round-trips random data of every shape, with one compressor reused", () => {
  const lzf = new LzfCompressor();
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let t = 0; t < 500; t++) {
    const length = 1 + Math.floor(random() * 3000);
    const alphabet = 1 + Math.floor(random() * 255);
    const input = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      // Half the bytes repeat something from the last 50, so matches of every length occur.
      input[i] = i > 0 && random() < 0.5
        ? input[i - 1 - Math.floor(random() * Math.min(i, 50))]
        : Math.floor(random() * alphabet);
    }
    // Room for incompressible input too: LZF's worst case is one length byte per 32 literals.
    const packed = compress(lzf, input, length + Math.ceil(length / 32) + 4);
    assert.ok(packed.length > 0);
    assert.deepEqual(decompress(packed, length), input, `case ${t}, ${length} bytes`);
    lzfCheck(packed, 0, packed.length, length);
    assert.throws(() => lzfCheck(packed, 0, packed.length, length + 1), /not the/);
  }
});

Deno.test("LZF makes the same bytes as Redis for the values in a dump.rdb Redis wrote", () => {
  // REDIS_DUMP holds "value:" + 26 zeros and a Lorem ipsum line, both stored compressed by
  // redis-server 7.0: our compressor must produce exactly those bytes.
  const lzf = new LzfCompressor();
  for (
    const value of [
      "value:00000000000000000000000000",
      "Lorem ipsum dolor sit amet, Lorem ipsum dolor sit amet, consectetur",
    ]
  ) {
    const packed = compress(lzf, text(value));
    assert.ok(packed.length > 0);
    assert.ok(indexOf(REDIS_DUMP, packed) > 0, `Redis's dump holds our bytes for ${value}`);
  }
});

Deno.test("LZF decodes the compressed strings of a dump.rdb Redis wrote", () => {
  // "lorem": c3, compressed length 0x2d, original length 0x40 0x43 (a 14-bit length, 67).
  const at = indexOf(REDIS_DUMP, text("lorem")) + 5;
  assert.equal(REDIS_DUMP[at], 0xc3);
  const packedLength = REDIS_DUMP[at + 1];
  const length = ((REDIS_DUMP[at + 2] & 0x3f) << 8) | REDIS_DUMP[at + 3];
  const packed = REDIS_DUMP.subarray(at + 4, at + 4 + packedLength);
  assert.equal(
    new TextDecoder().decode(decompress(packed, length)),
    "Lorem ipsum dolor sit amet, Lorem ipsum dolor sit amet, consectetur",
  );
});

Deno.test("lzfDecompress() refuses damaged input instead of reading or writing out of bounds", () => {
  const out = new Uint8Array(10);
  // A reference before the start of the output.
  assert.throws(() => lzfDecompress(new Uint8Array([0x20, 0x05]), 0, 2, out, 0, 10), /before/);
  // A literal run longer than the input left.
  assert.throws(() => lzfDecompress(new Uint8Array([0x05, 0x61]), 0, 2, out, 0, 10), /ends/);
  // More output than announced.
  assert.throws(
    () => lzfDecompress(new Uint8Array([0x02, 0x61, 0x62, 0x63]), 0, 4, out, 0, 2),
    /more bytes/,
  );
  // A reference cut off before its distance byte.
  assert.throws(() => lzfDecompress(new Uint8Array([0x00, 0x61, 0x20]), 0, 3, out, 0, 10), /ends/);
  // lzfCheck() finds the same faults without writing anything.
  assert.throws(() => lzfCheck(new Uint8Array([0x20, 0x05]), 0, 2, 10), /before/);
  assert.throws(() => lzfCheck(new Uint8Array([0x05, 0x61]), 0, 2, 10), /ends/);
  assert.throws(() => lzfCheck(new Uint8Array([0x02, 0x61, 0x62, 0x63]), 0, 4, 2), /more bytes/);
  assert.throws(() => lzfCheck(new Uint8Array([0x00, 0x61, 0x20]), 0, 3, 10), /ends/);
});
