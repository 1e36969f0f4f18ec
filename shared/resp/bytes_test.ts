import assert from "node:assert/strict";
import {
  bytesToByteString,
  byteStringToBytes,
  byteStringToUtf8,
  SHORT_BYTE_STRING,
  shortByteString,
  utf8ToBytes,
  utf8ToByteString,
  writeByteString,
} from "./bytes.ts";

const EVERY_BYTE = Uint8Array.from({ length: 256 }, (_, i) => i);

Deno.test("bytesToByteString() maps every byte to the character with the same code", () => {
  // Including 0x80-0x9f, which TextDecoder's "latin1" (really windows-1252) would remap.
  const s = bytesToByteString(EVERY_BYTE);
  assert.equal(s.length, 256);
  for (let i = 0; i < 256; i++) assert.equal(s.charCodeAt(i), i);
});

Deno.test("bytesToByteString() reads only [start, end) of a view with an offset", () => {
  const view = EVERY_BYTE.subarray(0x60, 0x70);
  assert.equal(bytesToByteString(view), "`abcdefghijklmno");
  assert.equal(bytesToByteString(view, 1, 4), "abc");
});

Deno.test("shortByteString() reads every length up to SHORT_BYTE_STRING, at any offset", () => {
  for (let length = 0; length <= SHORT_BYTE_STRING; length++) {
    for (const start of [0, 1, 0x7a, 256 - length]) {
      const expected = bytesToByteString(EVERY_BYTE, start, start + length);
      assert.equal(shortByteString(EVERY_BYTE, start, length), expected, `${length} at ${start}`);
    }
  }
});

Deno.test("byteStringToBytes() round-trips every byte, short and past 64 bytes", () => {
  // Past 64 characters writeByteString tries a native ASCII copy first; both paths must agree.
  assert.deepEqual(byteStringToBytes(bytesToByteString(EVERY_BYTE)), EVERY_BYTE);
  assert.deepEqual(byteStringToBytes("\x80\xff"), Uint8Array.of(0x80, 0xff));
  const ascii = "z".repeat(65);
  assert.deepEqual(byteStringToBytes(ascii), new Uint8Array(65).fill(0x7a));
});

Deno.test("writeByteString() writes at the offset and nowhere else", () => {
  const out = new Uint8Array(80).fill(0xee);
  writeByteString("a".repeat(70) + "\xff", out, 3);
  assert.deepEqual(out.subarray(0, 3), Uint8Array.of(0xee, 0xee, 0xee));
  assert.deepEqual(out.subarray(3, 73), new Uint8Array(70).fill(0x61));
  assert.equal(out[73], 0xff);
  assert.deepEqual(out.subarray(74), new Uint8Array(6).fill(0xee));
});

Deno.test("utf8ToByteString() and byteStringToUtf8() convert between text and UTF-8 bytes", () => {
  assert.equal(utf8ToByteString("é€"), "\xc3\xa9\xe2\x82\xac");
  assert.equal(byteStringToUtf8("\xc3\xa9\xe2\x82\xac"), "é€");
  assert.equal(byteStringToUtf8("a\xffb"), "a\ufffdb", "invalid UTF-8 becomes U+FFFD");
  assert.deepEqual(utf8ToBytes("é"), Uint8Array.of(0xc3, 0xa9));
});
