import assert from "node:assert/strict";
import { ErrorReply, type Reply } from "./reply.ts";
import { splitArgs } from "./split_args.ts";
import { hasProgram, startRedisServer } from "../testing/processes.ts";
import { RawClient } from "../testing/raw_client.ts";

Deno.test("splitArgs() splits on runs of blanks and ignores them at both ends", () => {
  assert.deepEqual(splitArgs("SET a b"), ["SET", "a", "b"]);
  assert.deepEqual(splitArgs("  SET \t a\r\nb  "), ["SET", "a", "b"]);
  assert.deepEqual(splitArgs("\xff\x80 \x7f"), ["\xff\x80", "\x7f"]);
});

Deno.test("splitArgs() returns an empty array for a blank line", () => {
  assert.deepEqual(splitArgs(""), []);
  assert.deepEqual(splitArgs(" \t\r\n\x0b\x0c "), []);
});

Deno.test("splitArgs() skips vertical tab and form feed between words but keeps them inside one", () => {
  // sdssplitargs skips every isspace() byte before a word, but ends a word only at space, tab,
  // CR, LF or NUL.
  assert.deepEqual(splitArgs("a \x0b\x0c b"), ["a", "b"]);
  assert.deepEqual(splitArgs("a\x0bb\x0cc"), ["a\x0bb\x0cc"]);
});

Deno.test("splitArgs() reads double quotes with C escapes and \\x hex bytes", () => {
  assert.deepEqual(splitArgs(`"a b" ""`), ["a b", ""]);
  assert.deepEqual(splitArgs(`"\\n\\r\\t\\b\\a"`), ["\n\r\t\b\x07"]);
  assert.deepEqual(splitArgs(`"\\x41\\x4a\\xff\\x00\\xAb"`), ["AJ\xff\0\xab"]);
  assert.deepEqual(splitArgs(`"\\"\\\\\\q"`), ['"\\q'], "any other escaped byte is itself");
  // \x without two hex digits is not a hex escape: the backslash just escapes the x.
  assert.deepEqual(splitArgs(`"\\x4" "\\xZZ" "\\x"`), ["x4", "xZZ", "x"]);
});

Deno.test("splitArgs() reads single quotes literally except for \\'", () => {
  assert.deepEqual(splitArgs(`'it\\'s'`), ["it's"]);
  assert.deepEqual(splitArgs(`'a\\nb "c"'`), ['a\\nb "c"']);
  assert.deepEqual(splitArgs(`''`), [""]);
  // The second backslash escapes the closing quote, which leaves the quote open.
  assert.equal(splitArgs(`'\\\\'`), null);
});

Deno.test("splitArgs() rejects a closing quote followed by anything but a blank", () => {
  assert.equal(splitArgs(`"a"b`), null);
  assert.equal(splitArgs(`'a'b`), null);
  assert.equal(splitArgs(`"a""b"`), null);
  assert.deepEqual(splitArgs(`"a"\tb`), ["a", "b"]);
  assert.deepEqual(splitArgs(`'a'\x0bb`), ["a", "b"], "any isspace() byte will do after a quote");
});

Deno.test("splitArgs() lets a quote open in the middle of a word", () => {
  assert.deepEqual(splitArgs(`ab"c d"`), ["abc d"]);
  assert.deepEqual(splitArgs(`ab'c d' e`), ["abc d", "e"]);
});

Deno.test("splitArgs() returns null for a quote that is never closed", () => {
  for (const line of [`"abc`, `'abc`, `"`, `a "b`, `"a\\"`, `"a\\`]) {
    assert.equal(splitArgs(line), null, line);
  }
});

Deno.test("splitArgs() stops at a NUL byte as the C original stops at its terminator", () => {
  assert.deepEqual(splitArgs("a b\0c d"), ["a", "b"]);
  assert.deepEqual(splitArgs("a\0"), ["a"]);
  assert.deepEqual(splitArgs("\0a"), []);
  assert.equal(splitArgs(`"a\0b"`), null, "a NUL inside quotes leaves them unclosed");
});

// Redis checks the port: the same lines go to a real redis-server as inline commands, and it must
// split them the same way. Redis sees a line only up to its first LF or NUL, so lines hold neither;
// and no CR, which the inline reader would strip from the end of a line before splitting it.
const ALPHABET = [
  "a",
  "b",
  " ",
  " ",
  "\t",
  '"',
  '"',
  "'",
  "'",
  "\\",
  "\\",
  "x",
  "4",
  "f",
  "G",
  "\x0b",
  "\xff",
];
const TRICKY_LINES = [
  `"a\\x41" 'b\\'c'`,
  `x"a b"`,
  `"a"b`,
  `'\\\\'`,
  `"\\xZZ" "\\x4f\\x4B"`,
  "a\x0bb \x0b c",
  `"a\\"b"`,
  `''`,
  `"`,
];

/** A deterministic line of up to 12 bytes from ALPHABET, numbered `n`. */
function randomLine(n: number): string {
  let state = n * 2654435761 + 1;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  let line = "";
  for (let length = next() % 13; length > 0; length--) line += ALPHABET[next() % ALPHABET.length];
  return line;
}

Deno.test({
  name: "splitArgs() splits lines exactly as redis-server splits inline commands",
  ignore: !hasProgram("redis-server"),
  async fn() {
    await using redis = await startRedisServer();
    assert.ok(redis !== null);
    const lines = [...TRICKY_LINES, ...Array.from({ length: 300 }, (_, i) => randomLine(i))];
    let client = await RawClient.connect(redis.addr);
    try {
      for (const line of lines) {
        // RPUSH stores the split words, LRANGE reads them back. "_" keeps RPUSH's arity right when
        // the line is blank.
        await client.send(`RPUSH k _ ${line}\r\nLRANGE k 0 -1\r\nDEL k\r\n`);
        const pushed: Reply = await client.readReply();
        const words = splitArgs(line);
        if (words === null) {
          assert.deepEqual(
            pushed,
            new ErrorReply("ERR Protocol error: unbalanced quotes in request"),
            JSON.stringify(line),
          );
          await client.close();
          client = await RawClient.connect(redis.addr);
          continue;
        }
        assert.equal(pushed, words.length + 1, JSON.stringify(line));
        assert.deepEqual(await client.readReply(), ["_", ...words], JSON.stringify(line));
        assert.equal(await client.readReply(), 1);
      }
    } finally {
      await client.close();
    }
  },
});
