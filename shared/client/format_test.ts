/**
 * Every expected string here was printed by the real `redis-cli` 7.0.15 for the same reply from a
 * real `redis-server` (with `--no-raw` for `format()` and `--raw` for `formatRaw()`).
 * `labs/01-single-client/client_test.ts` also compares the two programs byte for byte when both
 * are installed.
 */

import assert from "node:assert/strict";
import {
  DoubleReply,
  ErrorReply,
  MapReply,
  NULL_ARRAY,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "../resp/reply.ts";
import { format, formatRaw } from "./format.ts";

const s = (value: string) => new SimpleString(value);

/** `COMMAND INFO get` from Redis 7.0. */
const COMMAND_INFO_GET: Reply = [[
  "get",
  2,
  [s("readonly"), s("fast")],
  1,
  1,
  1,
  [s("@read"), s("@string"), s("@fast")],
  [],
  [[
    "flags",
    [s("RO"), s("access")],
    "begin_search",
    ["type", "index", "spec", ["index", 1]],
    "find_keys",
    ["type", "range", "spec", ["lastkey", 0, "keystep", 1, "limit", 0]],
  ]],
  [],
]];

/** `HELLO 2` from Redis 7.0. */
const HELLO_2: Reply = [
  "server",
  "redis",
  "version",
  "7.0.15",
  "proto",
  2,
  "id",
  13,
  "mode",
  "standalone",
  "role",
  "master",
  "modules",
  [],
];

Deno.test("format() prints a simple string bare", () => {
  assert.equal(format(s("OK")), "OK\n");
});

Deno.test("format() quotes a bulk string", () => {
  assert.equal(format("b"), '"b"\n');
  assert.equal(format(""), '""\n');
});

Deno.test("format() escapes control bytes, quotes and bytes from 0x80 like sdscatrepr", () => {
  // SET a "x\r\n\x00\xff\t\a\b\"\\ \x7f\x1b" then GET a
  assert.equal(
    format('x\r\n\x00\xff\t\x07\b"\\ \x7f\x1b'),
    '"x\\r\\n\\x00\\xff\\t\\a\\b\\"\\\\ \\x7f\\x1b"\n',
  );
});

Deno.test("format() shows the UTF-8 bytes of non-ASCII text as hex escapes", () => {
  // SET é ü then KEYS *: the key is the two bytes 0xc3 0xa9.
  assert.equal(format("\xc3\xa9"), '"\\xc3\\xa9"\n');
});

Deno.test("format() prints both RESP2 nulls as (nil)", () => {
  assert.equal(format(null), "(nil)\n");
  // BLPOP nolist 0.01 times out with the null array *-1.
  assert.equal(format(NULL_ARRAY), "(nil)\n");
});

Deno.test("format() prints integers, including 64-bit ones", () => {
  assert.equal(format(3), "(integer) 3\n");
  assert.equal(format(-1), "(integer) -1\n");
  assert.equal(format(9223372036854775807n), "(integer) 9223372036854775807\n");
});

Deno.test("format() prints an error reply after (error)", () => {
  assert.equal(
    format(new ErrorReply("ERR unknown command 'foo', with args beginning with: ")),
    "(error) ERR unknown command 'foo', with args beginning with: \n",
  );
});

Deno.test("format() prints an empty array as (empty array)", () => {
  assert.equal(format([]), "(empty array)\n");
});

Deno.test("format() numbers array items and prints nils among them", () => {
  // MGET a nokey
  assert.equal(format(["x", null]), '1) "x"\n2) (nil)\n');
});

Deno.test("format() right-aligns item numbers to the widest one", () => {
  // RPUSH l 1 2 3 4 5 6 7 8 9 10 11 then LRANGE l 0 -1
  const items = Array.from({ length: 11 }, (_, i) => String(i + 1));
  assert.equal(
    format(items),
    ' 1) "1"\n 2) "2"\n 3) "3"\n 4) "4"\n 5) "5"\n 6) "6"\n 7) "7"\n 8) "8"\n 9) "9"\n' +
      '10) "10"\n11) "11"\n',
  );
});

Deno.test("format() numbers nested arrays like redis-cli", () => {
  assert.equal(
    format(COMMAND_INFO_GET),
    `1)  1) "get"
    2) (integer) 2
    3) 1) readonly
       2) fast
    4) (integer) 1
    5) (integer) 1
    6) (integer) 1
    7) 1) @read
       2) @string
       3) @fast
    8) (empty array)
    9) 1) 1) "flags"
          2) 1) RO
             2) access
          3) "begin_search"
          4) 1) "type"
             2) "index"
             3) "spec"
             4) 1) "index"
                2) (integer) 1
          5) "find_keys"
          6) 1) "type"
             2) "range"
             3) "spec"
             4) 1) "lastkey"
                2) (integer) 0
                3) "keystep"
                4) (integer) 1
                5) "limit"
                6) (integer) 0
   10) (empty array)
`,
  );
});

Deno.test("format() prints HELLO 2 with a two-digit index column", () => {
  assert.equal(
    format(HELLO_2),
    ` 1) "server"
 2) "redis"
 3) "version"
 4) "7.0.15"
 5) "proto"
 6) (integer) 2
 7) "id"
 8) (integer) 13
 9) "mode"
10) "standalone"
11) "role"
12) "master"
13) "modules"
14) (empty array)
`,
  );
});

Deno.test("format() prints errors and empty arrays inside nested arrays", () => {
  // EVAL "return {1,{2,{3,{}}},{},'x',{err='bad'}}" 0
  assert.equal(
    format([1, [2, [3, []]], [], "x", new ErrorReply("bad")]),
    `1) (integer) 1
2) 1) (integer) 2
   2) 1) (integer) 3
      2) (empty array)
3) (empty array)
4) "x"
5) (error) bad
`,
  );
});

Deno.test("formatRaw() prints bare values", () => {
  assert.equal(formatRaw(s("OK")), "OK\n");
  assert.equal(formatRaw(3), "3\n");
  assert.equal(formatRaw(9223372036854775807n), "9223372036854775807\n");
  assert.equal(formatRaw(""), "\n");
});

Deno.test("formatRaw() keeps every byte of a value as it is", () => {
  const value = 'x\r\n\x00\xff\t\x07\b"\\ \x7f\x1b';
  assert.equal(formatRaw(value), `${value}\n`);
});

Deno.test("formatRaw() prints nulls and empty arrays as empty lines", () => {
  assert.equal(formatRaw(null), "\n");
  assert.equal(formatRaw(NULL_ARRAY), "\n");
  assert.equal(formatRaw([]), "\n");
});

Deno.test("formatRaw() ends an error with an extra newline, as redis-cli does", () => {
  assert.equal(
    formatRaw(new ErrorReply("ERR unknown command 'foo', with args beginning with: ")),
    "ERR unknown command 'foo', with args beginning with: \n\n",
  );
  assert.equal(formatRaw([1, new ErrorReply("bad"), "x"]), "1\nbad\n\nx\n");
});

Deno.test("formatRaw() flattens nested arrays to one value per line", () => {
  assert.equal(
    formatRaw(COMMAND_INFO_GET),
    "get\n2\nreadonly\nfast\n1\n1\n1\n@read\n@string\n@fast\n\nflags\nRO\naccess\nbegin_search\n" +
      "type\nindex\nspec\nindex\n1\nfind_keys\ntype\nrange\nspec\nlastkey\n0\nkeystep\n1\nlimit\n" +
      "0\n\n",
  );
});

// RESP3 replies, with what `redis-cli -3` 7.0 prints for the same replies from redis-server 7.0
// (`DEBUG PROTOCOL map|set|double|true|verbatim`, `CONFIG GET nothing`, `COMMAND DOCS get`).
const DEBUG_MAP = new MapReply([[0, false], [1, true], [2, false]]);

Deno.test("format() prints RESP3 maps, sets, doubles, booleans and verbatim text like redis-cli -3", () => {
  assert.equal(
    format(DEBUG_MAP),
    "1# (integer) 0 => (false)\n2# (integer) 1 => (true)\n3# (integer) 2 => (false)\n",
  );
  assert.equal(format(new SetReply([0, 1, 2])), "1~ (integer) 0\n2~ (integer) 1\n3~ (integer) 2\n");
  assert.equal(format(new DoubleReply(3.141)), "(double) 3.141\n");
  assert.equal(format(true), "(true)\n");
  assert.equal(
    format(new VerbatimString("This is a verbatim\nstring")),
    "This is a verbatim\nstring\n",
  );
  assert.equal(format(new MapReply([])), "(empty hash)\n");
  assert.equal(format(new SetReply([])), "(empty set)\n");
});

Deno.test("format() starts a map value of several lines on a line of its own, as redis-cli -3", () => {
  const docs = new MapReply([[
    "get",
    new MapReply([
      ["summary", "Get the value of a key"],
      ["since", "1.0.0"],
      ["arguments", [new MapReply([["name", "key"], ["type", "key"]])]],
    ]),
  ]]);
  assert.equal(
    format(docs),
    '1# "get" => \n' +
      '   1# "summary" => "Get the value of a key"\n' +
      '   2# "since" => "1.0.0"\n' +
      '   3# "arguments" => \n' +
      '      1) 1# "name" => "key"\n' +
      '         2# "type" => "key"\n',
  );
});

Deno.test("formatRaw() prints a map's pairs as key and value on one line, like redis-cli -3", () => {
  assert.equal(formatRaw(DEBUG_MAP), "0 (false)\n1 (true)\n2 (false)\n");
  assert.equal(formatRaw(new DoubleReply(3.141)), "3.141\n");
  assert.equal(formatRaw(new VerbatimString("# Keyspace\r\n")), "# Keyspace\r\n\n");
});
