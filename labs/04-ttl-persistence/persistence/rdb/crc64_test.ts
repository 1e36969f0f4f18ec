import assert from "node:assert/strict";
import { Crc64, crc64 } from "./crc64.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("crc64() gives the check value of CRC-64/Jones as Redis computes it", () => {
  assert.equal(crc64(text("123456789")), 0xe9c6d914c4b8d9can);
});

Deno.test("crc64() matches Redis's own test vector for a longer text", () => {
  // From Redis's crc64.c test: the Lorem ipsum paragraph with its terminating NUL byte.
  const lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed " +
    "do eiusmod tempor incididunt ut labore et dolore magna " +
    "aliqua. Ut enim ad minim veniam, quis nostrud exercitation " +
    "ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis " +
    "aute irure dolor in reprehenderit in voluptate velit esse " +
    "cillum dolore eu fugiat nulla pariatur. Excepteur sint " +
    "occaecat cupidatat non proident, sunt in culpa qui officia " +
    "deserunt mollit anim id est laborum.\0";
  assert.equal(crc64(text(lorem)), 0xc7794709e69683b3n);
});

Deno.test("crc64() of nothing is zero, the starting value", () => {
  assert.equal(crc64(new Uint8Array(0)), 0n);
});

Deno.test("a Crc64 fed in pieces of any size equals one call over the whole", () => {
  const data = new Uint8Array(1000).map((_, i) => (i * 131 + 7) & 0xff);
  const whole = crc64(data);
  for (const piece of [1, 3, 7, 8, 9, 64, 999]) {
    const crc = new Crc64();
    for (let i = 0; i < data.length; i += piece) {
      crc.update(data, i, Math.min(data.length, i + piece));
    }
    assert.equal(crc.value, whole, `pieces of ${piece}`);
  }
});

Deno.test("writeTo() stores the CRC little-endian, as the last eight bytes of an RDB file", () => {
  const crc = new Crc64();
  crc.update(text("123456789"));
  const out = new Uint8Array(8);
  crc.writeTo(out, 0);
  assert.deepEqual([...out], [0xca, 0xd9, 0xb8, 0xc4, 0x14, 0xd9, 0xc6, 0xe9]);
});
