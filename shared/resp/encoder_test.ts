import assert from "node:assert/strict";
import { bytesToByteString, byteStringToBytes } from "./bytes.ts";
import { SHRINK_WINDOW } from "./buffer_size.ts";
import { encodeCommand, encodeReply, RespWriter } from "./encoder.ts";
import {
  BigNumberReply,
  DoubleReply,
  err,
  ErrorReply,
  MapReply,
  NULL_ARRAY,
  OK,
  PONG,
  type Protocol,
  PushReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "./reply.ts";

/** The encoded bytes as a byte string, so that assertions show `\r\n` and compare exactly. */
function wire(reply: Reply, protocol: Protocol = 2): string {
  return bytesToByteString(encodeReply(reply, protocol));
}

Deno.test("encodeReply() writes RESP3's types in RESP3, and each as Redis falls back in RESP2", () => {
  // Each case: the value, its RESP3 bytes (as redis-server 7.0 sends them for DEBUG PROTOCOL), and
  // its RESP2 bytes.
  const cases: [Reply, string, string][] = [
    [null, "_\r\n", "$-1\r\n"],
    [NULL_ARRAY, "_\r\n", "*-1\r\n"],
    [true, "#t\r\n", ":1\r\n"],
    [false, "#f\r\n", ":0\r\n"],
    [new DoubleReply(3.141), ",3.141\r\n", "$5\r\n3.141\r\n"],
    [new DoubleReply(Infinity), ",inf\r\n", "$3\r\ninf\r\n"],
    [new DoubleReply(-Infinity), ",-inf\r\n", "$4\r\n-inf\r\n"],
    [new DoubleReply(NaN), ",nan\r\n", "$3\r\nnan\r\n"],
    [
      new BigNumberReply(1234567999999999999999999999999999999n),
      "(1234567999999999999999999999999999999\r\n",
      "$37\r\n1234567999999999999999999999999999999\r\n",
    ],
    [
      new VerbatimString("This is a verbatim\nstring"),
      "=29\r\ntxt:This is a verbatim\nstring\r\n",
      "$25\r\nThis is a verbatim\nstring\r\n",
    ],
    [
      new MapReply([[0, false], [1, true], [2, false]]),
      "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
      "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
    ],
    [new MapReply([]), "%0\r\n", "*0\r\n"],
    [new SetReply([0, 1]), "~2\r\n:0\r\n:1\r\n", "*2\r\n:0\r\n:1\r\n"],
    [new PushReply(["message"]), ">1\r\n$7\r\nmessage\r\n", "*1\r\n$7\r\nmessage\r\n"],
    // Nested: the protocol reaches every level.
    [
      [null, new MapReply([["k", null]])],
      "*2\r\n_\r\n%1\r\n$1\r\nk\r\n_\r\n",
      "*2\r\n$-1\r\n*2\r\n$1\r\nk\r\n$-1\r\n",
    ],
  ];
  for (const [reply, resp3, resp2] of cases) {
    assert.equal(wire(reply, 3), resp3);
    assert.equal(wire(reply, 2), resp2);
  }
  // What both protocols share is written the same.
  for (const reply of [OK, err("x"), 42, 2n ** 63n - 1n, "bulk", ["a", 1]] as Reply[]) {
    assert.equal(wire(reply, 3), wire(reply, 2));
  }
});

Deno.test("encodeReply() writes simple strings, errors and integers", () => {
  assert.equal(wire(OK), "+OK\r\n");
  assert.equal(wire(PONG), "+PONG\r\n");
  assert.equal(wire(new SimpleString("")), "+\r\n");
  assert.equal(wire(err("syntax error")), "-ERR syntax error\r\n");
  assert.equal(wire(new ErrorReply("WRONGTYPE Operation")), "-WRONGTYPE Operation\r\n");
  assert.equal(wire(0), ":0\r\n");
  assert.equal(wire(7), ":7\r\n");
  assert.equal(wire(10), ":10\r\n");
  assert.equal(wire(-1), ":-1\r\n");
  assert.equal(wire(1234567890), ":1234567890\r\n");
  assert.equal(wire(Number.MAX_SAFE_INTEGER), ":9007199254740991\r\n");
});

Deno.test("encodeReply() writes bigint integers with every digit", () => {
  assert.equal(wire(9223372036854775807n), ":9223372036854775807\r\n");
  assert.equal(wire(-9223372036854775808n), ":-9223372036854775808\r\n");
  assert.equal(wire(3n), ":3\r\n");
});

Deno.test("encodeReply() writes bulk strings, the empty one and the null one", () => {
  assert.equal(wire("hello"), "$5\r\nhello\r\n");
  assert.equal(wire(""), "$0\r\n\r\n");
  assert.equal(wire(null), "$-1\r\n");
  assert.equal(wire("\r\n\0\xff"), "$4\r\n\r\n\0\xff\r\n");
});

Deno.test("encodeReply() writes arrays: empty, nested, mixed, and the null array", () => {
  assert.equal(wire([]), "*0\r\n");
  assert.equal(wire(NULL_ARRAY), "*-1\r\n");
  assert.equal(wire([1, 2]), "*2\r\n:1\r\n:2\r\n");
  assert.equal(
    wire([OK, ["a", null, [NULL_ARRAY, []]], err("x"), 5n]),
    "*4\r\n+OK\r\n*3\r\n$1\r\na\r\n$-1\r\n*2\r\n*-1\r\n*0\r\n-ERR x\r\n:5\r\n",
  );
  assert.equal(wire(Array.from({ length: 12 }, (_, i) => i)).slice(0, 13), "*12\r\n:0\r\n:1\r\n");
});

Deno.test("encodeReply() turns CR and LF in an error or status line into spaces", () => {
  // A line reply cannot hold a line break, and Redis maps them to spaces rather than break framing;
  // at the ends of an error it cuts them off (`addReplyErrorFormat()`'s `sdstrim`).
  assert.equal(wire(err("bad\r\nthing\nhere\r")), "-ERR bad  thing here\r\n");
  assert.equal(wire(new SimpleString("a\nb")), "+a b\r\n");
});

Deno.test("encodeReply() writes bulk strings over 64 bytes of ASCII and of high bytes exactly", () => {
  // Past 64 bytes the encoder tries the native UTF-8 copy, which is only right for ASCII; a byte
  // above 0x7f anywhere, even the last, must make it fall back to one byte per character.
  const ascii = "0123456789abcdef".repeat(5) + "!";
  assert.equal(wire(ascii), `$81\r\n${ascii}\r\n`);
  const high = "\x80\xff\xe9".repeat(30);
  assert.equal(wire(high), `$90\r\n${high}\r\n`);
  const lastHigh = "a".repeat(100) + "\xff";
  assert.equal(wire(lastHigh), `$101\r\n${lastHigh}\r\n`);
  const nul = "\0".repeat(70);
  assert.equal(wire(nul), `$70\r\n${nul}\r\n`);
  // An error line over 64 bytes with a high byte takes the same path.
  const message = "ERR " + "x".repeat(70) + "\xff";
  assert.equal(wire(new ErrorReply(message)), `-${message}\r\n`);
});

Deno.test("encodeCommand() sends strings as UTF-8 and bytes as they are", () => {
  assert.equal(
    bytesToByteString(encodeCommand(["SET", "clé", new Uint8Array([0, 0xff, 0x0d, 0x0a])])),
    "*3\r\n$3\r\nSET\r\n$4\r\ncl\xc3\xa9\r\n$4\r\n\0\xff\r\n\r\n",
  );
  assert.equal(bytesToByteString(encodeCommand([])), "*0\r\n");
  assert.equal(bytesToByteString(encodeCommand([""])), "*1\r\n$0\r\n\r\n");
  assert.equal(bytesToByteString(encodeCommand(["€"])), "*1\r\n$3\r\n\xe2\x82\xac\r\n");
});

Deno.test("RespWriter batches several replies and starts over after take()", () => {
  const w = new RespWriter();
  w.write(OK);
  w.write("hello");
  w.arrayHeader(2);
  w.integer(1);
  w.bulkBytes(new Uint8Array([0xff]));
  assert.equal(w.length, 31);
  assert.equal(bytesToByteString(w.take()), "+OK\r\n$5\r\nhello\r\n*2\r\n:1\r\n$1\r\n\xff\r\n");
  assert.equal(w.length, 0);
  w.write(null);
  assert.equal(bytesToByteString(w.take()), "$-1\r\n");
});

Deno.test("RespWriter grows past its initial buffer without losing bytes", () => {
  const w = new RespWriter();
  const value = "v".repeat(40_000);
  for (let i = 0; i < 3; i++) w.write([i, value]);
  const out = bytesToByteString(w.take());
  assert.equal(
    out,
    `*2\r\n:0\r\n$40000\r\n${value}\r\n*2\r\n:1\r\n$40000\r\n${value}\r\n*2\r\n:2\r\n$40000\r\n${value}\r\n`,
  );
  w.shrink();
  w.write(PONG);
  assert.equal(bytesToByteString(w.take()), "+PONG\r\n");
});

Deno.test("RespWriter grows for a long integer near the end of its buffer", () => {
  // Fill the writer to 24 bytes short of its initial capacity: room for any 64-bit integer, but
  // not for this one. A bulk string of n bytes takes n + 5 bytes and the digits of n.
  const w = new RespWriter();
  const target = w.capacity - 24;
  let n = target - 5;
  while (n + 5 + String(n).length > target) n--;
  w.bulk("x".repeat(n));
  const before = w.length;
  assert.equal(before, target);
  const big = 10n ** 40n;
  w.integer(big);
  const out = bytesToByteString(w.take());
  assert.equal(out.slice(before), `:${big}\r\n`);
  assert.equal(out.length, before + 44);
});

Deno.test("RespWriter.take() returns a view that the next write reuses", () => {
  // The documented contract: send the bytes before writing more. encodeReply() copies for callers
  // that keep them, which this shows is necessary.
  const w = new RespWriter();
  w.write(OK);
  const first = w.take();
  w.write(new SimpleString("NO"));
  assert.equal(bytesToByteString(first), "+NO\r\n");
  assert.equal(bytesToByteString(encodeReply(OK)), "+OK\r\n");
});

/** RESP for commands of byte strings, spelled out with templates: independent of the writer. */
function spelledOut(commands: readonly string[][]): Uint8Array {
  return byteStringToBytes(
    commands.map((args) =>
      `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")
    ).join(""),
  );
}

Deno.test("bulkArray() encodes byte strings as an array of bulk strings in one pass", () => {
  const every = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
  const commands = [
    ["SET", "k", "v"],
    ["SET", "key:__rand_int__", "xxx", "PXAT", "1795334197000"],
    ["DEL", ""],
    // Lengths around each header's number of digits, and around the loop's threshold.
    ...[9, 10, 64, 65, 99, 100, 999, 1000, 12345].map((n) => ["APPEND", "k", "x".repeat(n)]),
    // Every byte value, in a short argument and in a long one.
    ["SET", every.slice(0, 40), every],
    ["MSET", ...Array.from({ length: 12 }, (_, i) => `k${i}`)],
  ];
  const w = new RespWriter();
  let total = 0;
  for (const command of commands) total += w.bulkArray(command);
  assert.equal(w.length, total, "bulkArray() returns the bytes it added");
  assert.deepEqual(w.take(), spelledOut(commands));
});

Deno.test("bulkArray() grows the buffer for a command bigger than it, and goes on after shrink()", () => {
  const w = new RespWriter();
  const big = ["SET", "k", "v".repeat(3 * 1024 * 1024)];
  w.bulkArray(["SET", "before", "1"]);
  w.bulkArray(big);
  assert.deepEqual(w.take(), spelledOut([["SET", "before", "1"], big]));
  w.shrink();
  w.bulkArray(["SET", "after", "2"]);
  assert.deepEqual(w.take(), spelledOut([["SET", "after", "2"]]));
});

Deno.test("RespWriter's buffer shrinks back after a burst once batches stay small", () => {
  const w = new RespWriter();
  const initial = w.capacity;
  w.write(["v".repeat(40_000)]);
  w.take();
  w.shrink();
  const grown = w.capacity;
  assert.ok(grown >= 40_000, `capacity ${grown}`);
  // Batches of small replies: the window that began with the burst keeps the buffer, and so do
  // the next window's batches until it ends, its 2 * SHRINK_WINDOW-th batch counting the burst's.
  for (let batch = 2; batch < 2 * SHRINK_WINDOW; batch++) {
    w.write(OK);
    assert.equal(bytesToByteString(w.take()), "+OK\r\n");
    w.shrink();
    assert.equal(w.capacity, grown, `batch ${batch}`);
  }
  w.write(OK);
  w.take();
  w.shrink();
  assert.equal(w.capacity, initial);
});

Deno.test("RespWriter keeps its buffer while every batch is big", () => {
  const w = new RespWriter();
  const replies = Array.from({ length: 16 }, () => "v".repeat(1000));
  const sizes = new Set<number>();
  for (let batch = 0; batch < 4 * SHRINK_WINDOW; batch++) {
    for (const r of replies) w.write(r);
    w.take();
    w.shrink();
    sizes.add(w.capacity);
  }
  assert.equal(sizes.size, 1, `capacities: ${[...sizes].join(", ")}`);
});
