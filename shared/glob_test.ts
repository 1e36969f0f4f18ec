import assert from "node:assert/strict";
import { globMatch } from "./glob.ts";
import { hasProgram, startRedisServer } from "./testing/processes.ts";
import { RawClient } from "./testing/raw_client.ts";

/** Asserts the match result for each subject, naming the pattern and subject on failure. */
function check(pattern: string, expected: Record<string, boolean>, nocase = false): void {
  for (const [subject, want] of Object.entries(expected)) {
    assert.equal(
      globMatch(pattern, subject, { nocase }),
      want,
      `globMatch(${JSON.stringify(pattern)}, ${JSON.stringify(subject)}${
        nocase ? ", nocase" : ""
      })`,
    );
  }
}

Deno.test("globMatch() matches a pattern without wildcards only to the same bytes", () => {
  check("abc", { abc: true, abd: false, ab: false, abcd: false, ABC: false, "": false });
  check("", { "": true, a: false });
});

Deno.test("globMatch() lets * match any run of bytes, but not the empty string on its own", () => {
  check("*", { a: true, "hello world": true, "\0\xff\r\n": true, "": false });
  check("**", { a: true, "": false });
  check("a*", { a: true, abc: true, ba: false });
  check("*a", { a: true, bca: true, ab: false });
  check("a*b*c", { abc: true, aXbYc: true, abbbc: true, acb: false, ab: false });
  check("user:*:name", { "user:42:name": true, "user::name": true, "user:42:age": false });
});

Deno.test("globMatch() lets ? match exactly one byte", () => {
  check("?", { a: true, "\xff": true, "": false, ab: false });
  check("a?c", { abc: true, "a\0c": true, ac: false, abbc: false });
  check("*?", { a: true, ab: true, "": false });
});

Deno.test("globMatch() matches one byte of a class", () => {
  check("h[ae]llo", { hello: true, hallo: true, hillo: false, hllo: false, heello: false });
  check("[abc]", { a: true, c: true, d: false, "": false, ab: false });
  check("[]", { "]": false, a: false });
});

Deno.test("globMatch() negates a class that starts with ^", () => {
  check("h[^e]llo", { hallo: true, hillo: true, hello: false, hllo: false });
  check("[^abc]", { d: true, a: false });
  check("[a^]", { "^": true, a: true, b: false });
});

Deno.test("globMatch() matches ranges, including ranges written backwards", () => {
  check("[a-c]", { a: true, b: true, c: true, d: false, B: false });
  check("[c-a]", { a: true, b: true, c: true, d: false });
  check("[0-9a-f]x", { "7x": true, ex: true, gx: false });
  // Three bytes "a-]" make a range before "]" can close the class: a to ] (backwards), unclosed.
  check("[a-]", { a: true, "]": true, "^": true, "-": false, b: false });
  check("[^a-c]", { b: false, z: true });
});

Deno.test("globMatch() compares range ends as signed bytes, as Redis does in C", () => {
  // Redis reads the pattern through `char`, which is signed on x86-64: 0x80-0xff sort below 0x00.
  // So [a-\xff] is the range -1..97 and holds 'A' and 0xff but not 'b'. Checked against redis-server
  // below.
  check("[a-\xff]", { a: true, A: true, "\0": true, "\xff": true, b: false, "\x80": false });
  check("[\x80-\xff]", { "\x80": true, "\xc0": true, "\xff": true, a: false });
});

Deno.test("globMatch() takes the byte after a backslash literally", () => {
  check("\\*", { "*": true, a: false });
  check("a\\?", { "a?": true, ab: false });
  check("\\[a]", { "[a]": true, a: false });
  check("[\\]]", { "]": true, "\\": false });
  check("[\\^a]", { "^": true, a: true, b: false });
  check("[a\\-z]", { "-": true, b: false });
  check("a\\", { "a\\": true, a: false });
});

Deno.test("globMatch() runs an unclosed [ to the end of the pattern", () => {
  check("[abc", { a: true, c: true, d: false });
  check("[", { "[": false, a: false });
  check("[^", { a: true, "": false });
  check("a[", { a: false, "a[": false });
  check("[a-", { a: true, "-": true, b: false });
});

Deno.test("globMatch() ignores ASCII case with nocase", () => {
  check("HELLO", { hello: true, HeLLo: true, help: false }, true);
  check("HELLO", { hello: false }, false);
  check("[A-C]x", { bX: true, Bx: true, dx: false }, true);
  check("h[^E]llo", { hello: false, hallo: true }, true);
  check("\xe9", { "\xc9": false }, true);
});

Deno.test("globMatch() fails fast on a pathological pattern instead of backtracking forever", () => {
  // Plain backtracking tries every way to place eight stars: about 10^19 steps for this subject.
  // Stopping once the tail has failed at every position keeps it to a few thousand.
  const started = performance.now();
  assert.equal(globMatch("*a*a*a*a*a*a*a*a*b", "a".repeat(1000)), false);
  assert.equal(globMatch("*a*a*a*a*a*a*a*a*b", "a".repeat(1000) + "b"), true);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 1000, `took ${elapsed.toFixed(0)} ms`);
});

Deno.test("globMatch() gives up past 1000 nested stars, as Redis does", () => {
  assert.equal(globMatch("a*".repeat(999), "a".repeat(999)), true);
  assert.equal(globMatch("a*".repeat(1002), "a".repeat(1002)), false);
});

// Redis checks the port: the same patterns go to KEYS on a real redis-server holding these keys.
// Keys and patterns are byte strings, with the bytes that make glob interesting.
const KEYS = [
  "",
  "a",
  "b",
  "A",
  "ab",
  "abc",
  "aXbYc",
  "hello",
  "hallo",
  "-",
  "]",
  "[",
  "^",
  "*",
  "?",
  "\\",
  "a\\b",
  "a*b",
  "\0",
  "\x80",
  "\xff",
  "x\xffy",
  "user:42",
  "aaaaaaaa",
];
const PATTERNS = [
  "**",
  "?",
  "*?",
  "[a-\xff]",
  "[\xff-a]",
  "[\x80-\xff]",
  "[^a-\xff]",
  "[abc",
  "[^",
  "[",
  "a[",
  "\\",
  "a\\",
  "[\\]]",
  "[]]",
  "[a-]",
  "*a*a*a*a*b",
  "a*".repeat(1001),
  "*".repeat(5000) + "a",
];
const GLOB_ALPHABET = [
  "a",
  "b",
  "A",
  "*",
  "*",
  "?",
  "[",
  "[",
  "]",
  "]",
  "^",
  "-",
  "-",
  "\\",
  "\xff",
  "\x80",
  "\0",
];

/** A deterministic pattern of up to 8 bytes from GLOB_ALPHABET, numbered `n`. */
function randomPattern(n: number): string {
  let state = n + 1;
  const next = () => {
    // xorshift32: enough randomness for test data, and the same patterns every run.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  let pattern = "";
  for (let length = 1 + next() % 8; length > 0; length--) {
    pattern += GLOB_ALPHABET[next() % GLOB_ALPHABET.length];
  }
  return pattern;
}

Deno.test({
  name: "globMatch() picks the same keys as KEYS on redis-server",
  ignore: !hasProgram("redis-server"),
  async fn() {
    await using redis = await startRedisServer();
    assert.ok(redis !== null);
    await using client = await RawClient.connect(redis.addr);
    for (const key of KEYS) await client.call("SET", key, "1");
    const patterns = [...PATTERNS, ...Array.from({ length: 600 }, (_, i) => randomPattern(i))];
    for (const pattern of patterns) {
      // KEYS returns every key for the exact pattern "*" without matching: see the test above.
      if (pattern === "*") continue;
      const reply = await client.call("KEYS", pattern);
      assert.ok(Array.isArray(reply));
      assert.deepEqual(
        KEYS.filter((key) => globMatch(pattern, key)).sort(),
        [...reply].sort(),
        `pattern ${JSON.stringify(pattern.length > 40 ? pattern.slice(0, 40) + "..." : pattern)}`,
      );
    }
  },
});
