import assert from "node:assert/strict";
import { byteStringToBytes } from "./bytes.ts";
import { MAX_BYTE_STRING, parseStrictInteger, withDefaults } from "./limits.ts";

Deno.test("parseStrictInteger accepts exactly what Redis's string2ll accepts", () => {
  const parse = (s: string) => parseStrictInteger(byteStringToBytes(s), 0, s.length);
  assert.equal(parse("0"), 0);
  assert.equal(parse("7"), 7);
  assert.equal(parse("-7"), -7);
  assert.equal(parse("9007199254740991"), Number.MAX_SAFE_INTEGER);
  for (
    const bad of [
      "",
      "-",
      "-0",
      "00",
      "01",
      "+1",
      " 1",
      "1 ",
      "1a",
      "1.0",
      "0x10",
      "1234567890123456789",
    ]
  ) {
    assert.ok(Number.isNaN(parse(bad)), JSON.stringify(bad));
  }
  // It reads only [start, end), so a header can be parsed in place.
  assert.equal(parseStrictInteger(byteStringToBytes("$123\r\n"), 1, 4), 123);
});

Deno.test("MAX_BYTE_STRING is the length of V8's longest string", () => {
  // Built from halves that share their characters (V8 joins long strings without copying them),
  // so this costs a few objects, not half a gigabyte.
  let longest = "";
  let piece = "x";
  for (let n = MAX_BYTE_STRING; n > 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) longest += piece;
    if (n > 1) piece += piece;
  }
  assert.equal(longest.length, MAX_BYTE_STRING);
  assert.throws(() => longest + "x", RangeError);
});

Deno.test("withDefaults() fills in Redis's limits and caps the bulk length at MAX_BYTE_STRING", () => {
  assert.deepEqual(withDefaults({ maxArrayLength: 10 }), {
    maxBulkLength: Math.min(512 * 1024 * 1024, MAX_BYTE_STRING),
    maxInlineLength: 64 * 1024,
    maxArrayLength: 10,
  });
  assert.equal(withDefaults({ maxBulkLength: 1024 ** 3 }).maxBulkLength, MAX_BYTE_STRING);
});
