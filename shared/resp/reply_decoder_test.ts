import assert from "node:assert/strict";
import { byteStringToBytes } from "./bytes.ts";
import { encodeReply } from "./encoder.ts";
import { ProtocolError } from "./errors.ts";
import {
  BigNumberReply,
  DoubleReply,
  ErrorReply,
  MapReply,
  NULL_ARRAY,
  PushReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "./reply.ts";
import { ReplyDecoder } from "./reply_decoder.ts";

/** Every whole reply in `chunks`, pushed one at a time, and how many bytes are left over. */
function decode(chunks: readonly string[]): { replies: Reply[]; buffered: number } {
  const decoder = new ReplyDecoder();
  const replies: Reply[] = [];
  for (const chunk of chunks) {
    decoder.push(byteStringToBytes(chunk));
    for (let reply = decoder.next(); reply !== undefined; reply = decoder.next()) {
      replies.push(reply);
    }
  }
  return { replies, buffered: decoder.buffered };
}

/** The one reply that `input` holds. */
function decodeOne(input: string): Reply {
  const { replies, buffered } = decode([input]);
  assert.equal(replies.length, 1, `one reply in ${JSON.stringify(input)}`);
  assert.equal(buffered, 0);
  return replies[0];
}

// One of every RESP2 type, nested arrays, binary bulk data, and integers on both sides of 2^53.
const STREAM = "+OK\r\n" +
  "-ERR unknown command 'x'\r\n" +
  ":42\r\n" +
  ":-7\r\n" +
  ":9007199254740993\r\n" +
  "$5\r\nhello\r\n" +
  "$0\r\n\r\n" +
  "$-1\r\n" +
  "$6\r\n\r\n\0\xff\r\n\r\n" +
  "*-1\r\n" +
  "*0\r\n" +
  "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n-WRONGTYPE x\r\n";

const STREAM_REPLIES: Reply[] = [
  new SimpleString("OK"),
  new ErrorReply("ERR unknown command 'x'"),
  42,
  -7,
  9007199254740993n,
  "hello",
  "",
  null,
  "\r\n\0\xff\r\n",
  NULL_ARRAY,
  [],
  [1, ["a", []], new ErrorReply("WRONGTYPE x")],
];

Deno.test("ReplyDecoder decodes every RESP2 type from one push", () => {
  assert.deepEqual(decode([STREAM]), { replies: STREAM_REPLIES, buffered: 0 });
});

Deno.test("ReplyDecoder decodes the same replies wherever the stream is split in two", () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    assert.deepEqual(
      decode([STREAM.slice(0, cut), STREAM.slice(cut)]),
      { replies: STREAM_REPLIES, buffered: 0 },
      `cut ${cut}`,
    );
  }
});

Deno.test("ReplyDecoder decodes the same replies when fed one byte at a time", () => {
  assert.deepEqual(decode(STREAM.split("")), { replies: STREAM_REPLIES, buffered: 0 });
});

Deno.test("ReplyDecoder.next() returns undefined, not null, until a reply is whole", () => {
  const decoder = new ReplyDecoder();
  assert.equal(decoder.next(), undefined);
  decoder.push(byteStringToBytes("*2\r\n$3\r\nfoo\r\n$-"));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.buffered, 15, "an incomplete array consumes nothing");
  decoder.push(byteStringToBytes("1\r\n"));
  assert.deepEqual(decoder.next(), ["foo", null]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("ReplyDecoder tells the null bulk string, the null array and the empty array apart", () => {
  assert.equal(decodeOne("$-1\r\n"), null);
  assert.equal(decodeOne("*-1\r\n"), NULL_ARRAY);
  assert.deepEqual(decodeOne("*0\r\n"), []);
  assert.equal(decodeOne("$0\r\n\r\n"), "");
});

Deno.test("ReplyDecoder returns integers past 2^53 as bigint and smaller ones as number", () => {
  assert.equal(decodeOne(":9007199254740991\r\n"), 9007199254740991);
  assert.equal(decodeOne(":9007199254740992\r\n"), 9007199254740992n);
  assert.equal(decodeOne(":-9007199254740992\r\n"), -9007199254740992n);
  assert.equal(decodeOne(":9223372036854775807\r\n"), 9223372036854775807n);
  assert.equal(decodeOne(":-9223372036854775808\r\n"), -9223372036854775808n);
  assert.equal(decodeOne(":0\r\n"), 0);
});

Deno.test("ReplyDecoder reads back what the encoder writes", () => {
  const replies: Reply[] = [
    ...STREAM_REPLIES,
    "\x80".repeat(100),
    [[[["deep"]]], NULL_ARRAY, null, -9223372036854775808n],
  ];
  for (const reply of replies) {
    assert.deepEqual(decodeOne(String.fromCharCode(...encodeReply(reply))), reply);
  }
});

Deno.test("ReplyDecoder decodes a reply much bigger than its initial buffer", () => {
  const value = "\xfe\r\n".repeat(100_000);
  const bytes = encodeReply([value, 1, value]);
  const decoder = new ReplyDecoder();
  for (let i = 0; i < bytes.length; i += 10_000) {
    assert.equal(decoder.next(), undefined);
    decoder.push(bytes.subarray(i, i + 10_000));
  }
  assert.deepEqual(decoder.next(), [value, 1, value]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("ReplyDecoder throws ProtocolError on bytes that are not RESP", () => {
  const cases: Record<string, [string, string]> = {
    "an unknown type byte": ["?x\r\n", "unexpected reply type '?'"],
    "a boolean other than t or f": ["#x\r\n", "invalid boolean 'x'"],
    "a double that is not a number": [",abc\r\n", "invalid double 'abc'"],
    "an empty double": [",\r\n", "invalid double ''"],
    "a big number that is not an integer": ["(1.5\r\n", "invalid big number '1.5'"],
    "a bulk length that is not a number": ["$x\r\n", "invalid bulk length"],
    "a bulk length below -1": ["$-2\r\n", "invalid bulk length"],
    "a bulk length with a leading zero": ["$01\r\na\r\n", "invalid bulk length"],
    "an array length that is not a number": ["*1x\r\n", "invalid multibulk length"],
    "an array length below -1": ["*-2\r\n", "invalid multibulk length"],
    "an integer that is not a number": [":12a\r\n", "invalid integer '12a'"],
    "an empty integer": [":\r\n", "invalid integer ''"],
    "a bad element inside an array": ["*2\r\n:1\r\n?\r\n", "unexpected reply type '?'"],
    "a bad element inside a map": ["%1\r\n:1\r\n?\r\n", "unexpected reply type '?'"],
  };
  for (const [what, [input, detail]] of Object.entries(cases)) {
    const decoder = new ReplyDecoder();
    decoder.push(byteStringToBytes(input));
    assert.throws(
      () => decoder.next(),
      (error: unknown) => error instanceof ProtocolError && error.detail === detail,
      what,
    );
  }
});

Deno.test("ReplyDecoder waits on an array count too big for memory instead of throwing RangeError", () => {
  // The count is only a claim until the elements arrive; no JavaScript array can be that long.
  const decoder = new ReplyDecoder();
  decoder.push(byteStringToBytes("*99999999999\r\n:1\r\n"));
  assert.equal(decoder.next(), undefined);
});

Deno.test("ReplyDecoder rejects arrays nested past its depth limit with ProtocolError", () => {
  // No real reply nests deeper than a few levels, and each open level holds an unfinished array.
  const decoder = new ReplyDecoder();
  decoder.push(byteStringToBytes("*1\r\n".repeat(100_000) + ":1\r\n"));
  assert.throws(() => decoder.next(), {
    name: "ProtocolError",
    detail: "arrays nested deeper than 1000",
  });
  // Deep, but within the limit, is fine.
  const ok = new ReplyDecoder();
  ok.push(byteStringToBytes("*1\r\n".repeat(1000) + ":1\r\n"));
  let reply = ok.next();
  for (let depth = 0; depth < 1000; depth++) {
    assert.ok(Array.isArray(reply));
    reply = reply[0];
  }
  assert.equal(reply, 1);
});

Deno.test("ReplyDecoder decodes an array of 200,000 elements arriving in 16 KiB reads", () => {
  // Decoding must resume where the last read ended: starting over from the reply's first byte on
  // each of the ~150 reads would decode 15 million elements (seconds) instead of 200,000.
  const items: Reply[] = [];
  for (let i = 0; i < 100_000; i++) items.push(`key:${i}`, i);
  const bytes = encodeReply(items);
  const decoder = new ReplyDecoder();
  for (let i = 0; i < bytes.length; i += 16_384) {
    assert.equal(decoder.next(), undefined);
    decoder.push(bytes.subarray(i, i + 16_384));
  }
  assert.deepEqual(decoder.next(), items);
  assert.equal(decoder.buffered, 0);
});

Deno.test("ReplyDecoder resumes inside nested arrays and keeps what follows", () => {
  // Split everywhere, with a second reply behind the first: what was decoded before a split is
  // kept, and the count of unconsumed bytes still starts at the first reply's first byte.
  const first = "*3\r\n*2\r\n:1\r\n$3\r\nfoo\r\n*0\r\n*1\r\n+OK\r\n";
  const second = "$-1\r\n";
  for (let cut = 1; cut < first.length; cut++) {
    const decoder = new ReplyDecoder();
    decoder.push(byteStringToBytes(first.slice(0, cut)));
    assert.equal(decoder.next(), undefined, `cut at ${cut}`);
    assert.equal(decoder.buffered, cut);
    decoder.push(byteStringToBytes(first.slice(cut) + second));
    assert.deepEqual(decoder.next(), [[1, "foo"], [], [new SimpleString("OK")]], `cut at ${cut}`);
    assert.equal(decoder.next(), null);
    assert.equal(decoder.buffered, 0);
  }
});

Deno.test("ReplyDecoder decodes a long status line arriving a byte at a time", () => {
  // The search for the line's end resumes too, including past a CR whose LF comes later.
  const text = "x".repeat(5_000);
  const decoder = new ReplyDecoder();
  for (const c of `+${text}\r`) {
    decoder.push(byteStringToBytes(c));
    assert.equal(decoder.next(), undefined);
  }
  decoder.push(byteStringToBytes("\n:5\r\n"));
  assert.deepEqual(decoder.next(), new SimpleString(text));
  assert.equal(decoder.next(), 5);
});

Deno.test("ReplyDecoder reads every RESP3 type, whole or a byte at a time", () => {
  // As redis-server 7.0 sends them (DEBUG PROTOCOL map, set, double, ...), then an attribute that
  // annotates the integer after it, and a blob error.
  const input = "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n" +
    "~3\r\n:0\r\n:1\r\n:2\r\n" +
    ",3.141\r\n,inf\r\n,-inf\r\n,nan\r\n" +
    "(1234567999999999999999999999999999999\r\n" +
    "_\r\n" +
    "=29\r\ntxt:This is a verbatim\nstring\r\n" +
    ">2\r\n$7\r\nmessage\r\n%0\r\n" +
    "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n:7\r\n" +
    "!21\r\nSYNTAX invalid syntax\r\n" +
    "*2\r\n%1\r\n$1\r\nk\r\n_\r\n~0\r\n";
  const expected: Reply[] = [
    new MapReply([[0, false], [1, true], [2, false]]),
    new SetReply([0, 1, 2]),
    new DoubleReply(3.141),
    new DoubleReply(Infinity),
    new DoubleReply(-Infinity),
    new DoubleReply(NaN),
    new BigNumberReply(1234567999999999999999999999999999999n),
    null,
    new VerbatimString("This is a verbatim\nstring", "txt"),
    new PushReply(["message", new MapReply([])]),
    7,
    new ErrorReply("SYNTAX invalid syntax"),
    [new MapReply([["k", null]]), new SetReply([])],
  ];
  assert.deepEqual(decode([input]).replies, expected);
  assert.deepEqual(decode([...input]).replies, expected);
  // What the encoder writes in RESP3 reads back as the same values.
  for (const reply of expected) {
    if (reply instanceof ErrorReply) continue; // the encoder writes errors as simple errors
    assert.deepEqual(decodeOne(new TextDecoder("latin1").decode(encodeReply(reply, 3))), reply);
  }
});
