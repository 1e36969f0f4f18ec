import assert from "node:assert/strict";
import { byteStringToBytes } from "../../shared/resp/bytes.ts";
import { SHRINK_WINDOW } from "../../shared/resp/buffer_size.ts";
import { encodeCommand } from "../../shared/resp/encoder.ts";
import { ProtocolError } from "../../shared/resp/errors.ts";
import { type DecoderLimits, MAX_BYTE_STRING } from "../../shared/resp/limits.ts";
import { decodeRequests } from "../../shared/testing/fuzz.ts";
import { RequestDecoder } from "./request_decoder.ts";

/** What a decoder made of some bytes: the commands, then the error that stopped it, if any. */
interface Outcome {
  commands: string[][];
  error: string | null;
  buffered: number;
}

/**
 * Feeds `chunks` one push at a time and takes every command after each push, as the server's
 * connection loop does. Stops at the first protocol error; any other exception fails the test.
 */
function decode(
  chunks: readonly (string | Uint8Array)[],
  limits?: Partial<DecoderLimits>,
): Outcome {
  const decoder = new RequestDecoder(limits);
  const bytes = chunks.map((chunk) => typeof chunk === "string" ? byteStringToBytes(chunk) : chunk);
  return { ...decodeRequests(decoder, bytes), buffered: decoder.buffered };
}

/** The protocol error that `input` ends in, as Redis words it after `ERR Protocol error: `. */
function errorOf(input: string, limits?: Partial<DecoderLimits>): string | null {
  return decode([input], limits).error;
}

// A pipeline with every shape of frame: arrays and inline commands, an empty bulk string, lengths
// of two digits, binary bulk strings holding CR, LF, NUL and high bytes, frames that carry no
// command (`*0`, `*-1`, blank lines), quoting, and lines ended by a bare LF.
const PIPELINE = "*3\r\n$3\r\nSET\r\n$12\r\nhello\r\nworld\r\n$0\r\n\r\n" +
  "PING\r\n" +
  "*2\r\n$4\r\nECHO\r\n$6\r\n\0\xff\r\n\xfe\n\r\n" +
  "*0\r\n" +
  "\r\n" +
  "*-1\r\n" +
  'SET "a b" \'c\\\'d\' "\\x41\\n"\r\n' +
  "   \n" +
  "ECHO x\n" +
  "*1\r\n$10\r\n0123456789\r\n";

const PIPELINE_COMMANDS = [
  ["SET", "hello\r\nworld", ""],
  ["PING"],
  ["ECHO", "\0\xff\r\n\xfe\n"],
  ["SET", "a b", "c'd", "A\n"],
  ["ECHO", "x"],
  ["0123456789"],
];

Deno.test("RequestDecoder decodes a pipeline of arrays and inline commands pushed at once", () => {
  assert.deepEqual(decode([PIPELINE]), {
    commands: PIPELINE_COMMANDS,
    error: null,
    buffered: 0,
  });
});

Deno.test("RequestDecoder decodes the same commands wherever the pipeline is split in two", () => {
  for (let cut = 0; cut <= PIPELINE.length; cut++) {
    const outcome = decode([PIPELINE.slice(0, cut), PIPELINE.slice(cut)]);
    assert.deepEqual(
      outcome,
      { commands: PIPELINE_COMMANDS, error: null, buffered: 0 },
      `cut ${cut}`,
    );
  }
});

Deno.test("RequestDecoder decodes the same commands when fed one byte at a time", () => {
  assert.deepEqual(decode(PIPELINE.split("")), {
    commands: PIPELINE_COMMANDS,
    error: null,
    buffered: 0,
  });
});

Deno.test("RequestDecoder decodes a thousand frames that arrive in one push", () => {
  const frames = Array.from(
    { length: 1000 },
    (_, i) => `*2\r\n$4\r\nECHO\r\n$${String(i).length}\r\n${i}\r\n`,
  );
  const outcome = decode([frames.join("")]);
  assert.equal(outcome.commands.length, 1000);
  assert.deepEqual(outcome.commands[0], ["ECHO", "0"]);
  assert.deepEqual(outcome.commands[999], ["ECHO", "999"]);
  assert.equal(outcome.buffered, 0);
});

Deno.test("RequestDecoder.next() returns null on empty input", () => {
  assert.equal(new RequestDecoder().next(), null);
});

Deno.test("RequestDecoder.next() returns null on a partial bulk string and consumes nothing", () => {
  const decoder = new RequestDecoder();
  decoder.push(byteStringToBytes("*1\r\n$4\r\nPI"));
  assert.equal(decoder.next(), null);
  assert.equal(decoder.next(), null, "asking again changes nothing");
  assert.equal(decoder.buffered, 10);
  decoder.push(byteStringToBytes("NG\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("RequestDecoder.next() waits for the byte after a header's CR", () => {
  // "*1\r" could be the whole header line or not: Redis waits for one more byte, and so do we.
  const decoder = new RequestDecoder();
  decoder.push(byteStringToBytes("*1\r"));
  assert.equal(decoder.next(), null);
  decoder.push(byteStringToBytes("\n$4\r"));
  assert.equal(decoder.next(), null);
  decoder.push(byteStringToBytes("\nPING\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
});

Deno.test("RequestDecoder.push() copies the chunk, so the caller may reuse its read buffer", () => {
  const decoder = new RequestDecoder();
  const chunk = byteStringToBytes("*1\r\n$4\r\nPI");
  decoder.push(chunk);
  chunk.fill(0x78); // what reusing the read buffer for the next read does to it
  decoder.push(byteStringToBytes("NG\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
});

Deno.test("RequestDecoder returns the commands before a protocol error, then throws it", () => {
  const decoder = new RequestDecoder();
  decoder.push(byteStringToBytes("PING\r\n*1\r\n$4\r\nECHO\r\n*x\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
  assert.deepEqual(decoder.next(), ["ECHO"]);
  assert.throws(
    () => decoder.next(),
    (error: unknown) =>
      error instanceof ProtocolError && error.detail === "invalid multibulk length" &&
      error.message === "Protocol error: invalid multibulk length",
  );
});

Deno.test("RequestDecoder skips *0, *-1 and any negative count like Redis", () => {
  assert.deepEqual(decode(["*0\r\n*-1\r\n*-7\r\nPING\r\n"]), {
    commands: [["PING"]],
    error: null,
    buffered: 0,
  });
});

Deno.test("RequestDecoder skips blank inline lines of any kind", () => {
  assert.deepEqual(decode(["\r\n\n \t \r\n\x0b\x0c\nPING\r\n"]), {
    commands: [["PING"]],
    error: null,
    buffered: 0,
  });
});

Deno.test("RequestDecoder skips the two bytes after bulk data without checking them", () => {
  // Redis does not look at them either: "*1\r\n$4\r\nPINGxx" is a whole frame.
  assert.deepEqual(decode(["*1\r\n$4\r\nPINGxxPING\r\n"]).commands, [["PING"], ["PING"]]);
});

Deno.test("RequestDecoder splits inline commands with redis-cli quoting", () => {
  assert.deepEqual(
    decode([`SET "a key" 'it\\'s' "\\x00\\xff\\r\\n"\r\nGET a"b c" d\r\n`]).commands,
    [["SET", "a key", "it's", "\0\xff\r\n"], ["GET", "ab c", "d"]],
  );
});

Deno.test("RequestDecoder keeps a CR that does not end an inline line as a separator", () => {
  assert.deepEqual(decode(["ECHO\ra\r\r\n"]).commands, [["ECHO", "a"]]);
});

Deno.test("RequestDecoder rejects a bad multibulk count with 'invalid multibulk length'", () => {
  for (
    const header of [
      "*abc",
      "*",
      "*+1",
      "*01",
      "*-0",
      "* 1",
      "*1 ",
      "*2147483648",
      "*99999999999999999999",
    ]
  ) {
    assert.equal(errorOf(`${header}\r\n`), "invalid multibulk length", header);
  }
});

Deno.test("RequestDecoder accepts a multibulk count up to 2^31 - 1 and waits for its elements", () => {
  assert.deepEqual(decode(["*2147483647\r\n$4\r\nPING\r\n"]), {
    commands: [],
    error: null,
    buffered: 23,
  });
});

Deno.test("RequestDecoder rejects a bad bulk length with 'invalid bulk length'", () => {
  const cases = {
    "negative": "$-1",
    "not a number": "$abc",
    "empty": "$",
    "leading zero": "$04",
    "leading plus": "$+4",
    "minus zero": "$-0",
    "over the 512 MiB limit": "$536870913",
  };
  for (const [what, header] of Object.entries(cases)) {
    assert.equal(errorOf(`*1\r\n${header}\r\nPING\r\n`), "invalid bulk length", what);
  }
});

Deno.test("RequestDecoder reports the byte it found where '$' should be", () => {
  assert.equal(errorOf("*1\r\nx\r\n"), "expected '$', got 'x'");
  assert.equal(errorOf("*2\r\n$3\r\nGET\r\n:1\r\n"), "expected '$', got ':'");
  assert.equal(errorOf("*1\r\n\xff\r\n"), "expected '$', got '\xff'");
  // The line is "\r" itself: the server's encoder turns that CR into a space, as Redis does.
  assert.equal(errorOf("*1\r\n\r\n"), "expected '$', got '\r'");
});

Deno.test("RequestDecoder rejects a count line with no CR in 64 KiB with 'too big mbulk count string'", () => {
  const decoder = new RequestDecoder();
  decoder.push(byteStringToBytes("*" + "1".repeat(65535)));
  assert.equal(decoder.next(), null, "exactly 64 KiB is still allowed");
  decoder.push(byteStringToBytes("1"));
  assert.throws(() => decoder.next(), { detail: "too big mbulk count string" });
});

Deno.test("RequestDecoder rejects a bulk header with no CR in 64 KiB with 'too big bulk count string'", () => {
  assert.equal(errorOf("*1\r\n$" + "1".repeat(65535)), null);
  assert.equal(errorOf("*1\r\n$" + "1".repeat(65536)), "too big bulk count string");
  // The limit counts from the header being read, not from the start of the frame.
  assert.equal(errorOf("*2\r\n$3\r\nGET\r\n$" + "1".repeat(65535)), null);
});

Deno.test("RequestDecoder rejects an inline line with no LF in 64 KiB with 'too big inline request'", () => {
  assert.equal(errorOf("x".repeat(65536)), null);
  assert.equal(errorOf("x".repeat(65537)), "too big inline request");
  // A long line that does end within one push is a command, as in Redis.
  assert.deepEqual(decode(["ECHO " + "x".repeat(70_000) + "\r\n"]).commands[0][1].length, 70_000);
});

Deno.test("RequestDecoder waits for a long header whose CR is the last byte, then judges its content", () => {
  // Redis only counts a header against the limit while it has found no CR at all.
  const decoder = new RequestDecoder();
  decoder.push(byteStringToBytes("*" + "1".repeat(70_000) + "\r"));
  assert.equal(decoder.next(), null);
  decoder.push(byteStringToBytes("\n"));
  assert.throws(() => decoder.next(), { detail: "invalid multibulk length" });
});

Deno.test("RequestDecoder rejects unbalanced quotes with 'unbalanced quotes in request'", () => {
  for (const line of [`SET "a`, `SET 'a`, `SET "a"b`, `SET 'a'b`, `ECHO "\\"`]) {
    assert.equal(errorOf(`${line}\r\n`), "unbalanced quotes in request", line);
  }
});

Deno.test("RequestDecoder treats a NUL before the line end as Redis's strchr does: no line yet", () => {
  // Redis looks for the end of an inline line or a header with strchr, which stops at NUL. So it
  // answers nothing and waits, and only the inline limit ends the wait.
  for (
    const input of [
      "PING\0\r\n",
      "*1\0\r\n$4\r\nPING\r\n",
      "*1\r\n$4\0\r\nPING\r\n",
      "*1\r\nx\0\r\n",
    ]
  ) {
    const outcome = decode([input]);
    assert.deepEqual(
      outcome,
      { commands: [], error: null, buffered: input.length },
      JSON.stringify(input),
    );
  }
  assert.equal(errorOf("PING\0\r\n" + "x".repeat(65530)), "too big inline request");
  assert.equal(errorOf("*1\0\r\n" + "x".repeat(65532)), "too big mbulk count string");
  assert.equal(errorOf("*1\r\n$4\0\r\n" + "x".repeat(65532)), "too big bulk count string");
  // A NUL inside bulk data is just data.
  assert.deepEqual(decode(["*1\r\n$1\r\n\0\r\n"]).commands, [["\0"]]);
});

Deno.test("RequestDecoder enforces a configured maxBulkLength", () => {
  const limits = { maxBulkLength: 5 };
  assert.deepEqual(decode(["*1\r\n$5\r\nhello\r\n"], limits).commands, [["hello"]]);
  assert.equal(errorOf("*1\r\n$6\r\nhello!\r\n", limits), "invalid bulk length");
});

Deno.test("RequestDecoder enforces a configured maxArrayLength", () => {
  const limits = { maxArrayLength: 2 };
  assert.deepEqual(decode(["*2\r\n$1\r\na\r\n$1\r\nb\r\n"], limits).commands, [["a", "b"]]);
  assert.equal(errorOf("*3\r\n", limits), "invalid multibulk length");
});

Deno.test("RequestDecoder enforces a configured maxInlineLength on inline lines and headers", () => {
  const limits = { maxInlineLength: 10 };
  assert.equal(errorOf("x".repeat(10), limits), null);
  assert.equal(errorOf("x".repeat(11), limits), "too big inline request");
  assert.equal(errorOf("*" + "1".repeat(10), limits), "too big mbulk count string");
  assert.equal(errorOf("*1\r\n$" + "1".repeat(10), limits), "too big bulk count string");
});

Deno.test("RequestDecoder decodes a 4 MiB value arriving in 16 KiB reads, then small frames again", () => {
  const value = byteStringToBytes("\xab\r\n".repeat(1_400_000));
  const frame = encodeCommand(["SET", "big", value]);
  const decoder = new RequestDecoder();
  let command: string[] | null = null;
  for (let i = 0; i < frame.length; i += 16_384) {
    assert.equal(command, null, "the command came out before its last byte");
    decoder.push(frame.subarray(i, i + 16_384));
    command = decoder.next();
  }
  assert.ok(command !== null);
  assert.equal(command[2].length, value.length);
  assert.equal(command[2], "\xab\r\n".repeat(1_400_000));
  assert.equal(decoder.buffered, 0);
  // Once the big frame has gone the buffer shrinks back; what follows must still decode.
  decoder.push(byteStringToBytes("*1\r\n$4\r\nPI"));
  assert.equal(decoder.next(), null);
  assert.equal(decoder.buffered, 10);
  decoder.push(byteStringToBytes("NG\r\nECHO hi\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
  assert.deepEqual(decoder.next(), ["ECHO", "hi"]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("RequestDecoder decodes a big frame and the start of the next one from a single push", () => {
  const big = encodeCommand(["SET", "k", "v".repeat(3_000_000)]);
  const next = byteStringToBytes("*1\r\n$4\r\nPI");
  const decoder = new RequestDecoder();
  const both = new Uint8Array(big.length + next.length);
  both.set(big);
  both.set(next, big.length);
  decoder.push(both);
  assert.equal(decoder.next()?.[2].length, 3_000_000);
  assert.equal(decoder.next(), null);
  assert.equal(decoder.buffered, 10);
  decoder.push(byteStringToBytes("NG\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
});

Deno.test("RequestDecoder decodes a pipeline larger than its buffer the same in chunks of any size", () => {
  // Big enough that the buffer must compact and grow while an array frame is half decoded.
  const commands: string[][] = [];
  for (let i = 0; i < 60; i++) {
    commands.push(["SET", `key:${i}`, String.fromCharCode(i).repeat(i * 997 % 20_000)]);
    commands.push(["MSET", ...Array.from({ length: i * 7 }, (_, j) => `${i}:${j}\r\n`)]);
  }
  const wire = commands.map((c) => encodeCommand(c));
  const all = new Uint8Array(wire.reduce((n, w) => n + w.length, 0));
  let offset = 0;
  for (const w of wire) {
    all.set(w, offset);
    offset += w.length;
  }
  for (const size of [1, 7, 100, 1_023, 4_096, 16_384, 16_385, 50_000, all.length]) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += size) chunks.push(all.subarray(i, i + size));
    assert.deepEqual(decode(chunks), { commands, error: null, buffered: 0 }, `chunks of ${size}`);
  }
});

Deno.test("RequestDecoder decodes an MSET of 200,000 arguments arriving in 16 KiB reads", () => {
  // Decoding must resume where the last read ended: starting over from the frame's first byte on
  // each of the ~400 reads would decode 40 million arguments (seconds) instead of 200,000.
  const args = ["MSET"];
  for (let i = 0; i < 100_000; i++) args.push(`key:${i}`, `value:${i}`);
  const frame = encodeCommand(args);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < frame.length; i += 16_384) chunks.push(frame.subarray(i, i + 16_384));
  const outcome = decode(chunks);
  assert.equal(outcome.commands.length, 1);
  assert.deepEqual(outcome.commands[0], args);
});

Deno.test("RequestDecoder allocates for a big bulk string only as its bytes arrive", () => {
  // A header is a claim, not bytes: the largest bulk header followed by nothing must not cost
  // half a gigabyte.
  const decoder = new RequestDecoder();
  const initial = decoder.capacity;
  decoder.push(byteStringToBytes(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${MAX_BYTE_STRING}\r\n`));
  assert.equal(decoder.next(), null);
  assert.equal(decoder.capacity, initial);
  // A mebibyte of it arrives: the buffer grows with it, by doubling, not to the claimed size.
  const piece = new Uint8Array(16_384).fill(0x61);
  for (let i = 0; i < 64; i++) {
    decoder.push(piece);
    assert.equal(decoder.next(), null);
  }
  assert.ok(decoder.capacity <= 2 * 1024 * 1024, `capacity ${decoder.capacity}`);
  assert.equal(decoder.buffered, 32 + 1024 * 1024);
});

Deno.test("RequestDecoder grows its buffer to the size of a big last argument, not past it", () => {
  // Doubling from 16 KiB would reach 4 MiB for a 3 MB frame; the header says 3 MB is enough.
  const frame = encodeCommand(["SET", "k", "v".repeat(3_000_000)]);
  const decoder = new RequestDecoder();
  let most = 0;
  for (let i = 0; i < frame.length; i += 65_536) {
    decoder.push(frame.subarray(i, i + 65_536));
    most = Math.max(most, decoder.capacity);
    if (i + 65_536 < frame.length) assert.equal(decoder.next(), null);
  }
  assert.equal(most, frame.length);
  const command = decoder.next();
  assert.equal(command?.[2].length, 3_000_000);
  assert.equal(decoder.buffered, 0);
});

Deno.test("RequestDecoder decodes many big arguments in few buffer copies", () => {
  // Only the last argument's size caps the growth: capping at each argument's end would copy the
  // whole frame once per argument.
  const args = ["MSET"];
  for (let i = 0; i < 8; i++) args.push(`k${i}`, String(i).repeat(300_000));
  const frame = encodeCommand(args);
  const decoder = new RequestDecoder();
  const sizes = new Set<number>();
  for (let i = 0; i < frame.length; i += 16_384) {
    decoder.push(frame.subarray(i, i + 16_384));
    sizes.add(decoder.capacity);
    if (i + 16_384 < frame.length) assert.equal(decoder.next(), null);
  }
  assert.deepEqual(decoder.next(), args);
  // 16 KiB doubling to 4 MiB is nine sizes; one per argument would be seventeen or more.
  assert.ok(sizes.size <= 10, `buffer sizes: ${[...sizes].join(", ")}`);
});

Deno.test("RequestDecoder's cache of command names gives back exactly the bytes sent", () => {
  // Names are remembered by length, first and last byte: GET and GXT share a slot, so each must
  // be checked byte by byte, not taken from the slot on trust. Case is kept as sent.
  const names = ["GET", "GXT", "GET", "get", "GXT", "", "\xff\x00", "n".repeat(24), "n".repeat(25)];
  const decoder = new RequestDecoder();
  for (const name of names) {
    decoder.push(byteStringToBytes(`*2\r\n$${name.length}\r\n${name}\r\n$1\r\nk\r\n`));
  }
  for (const name of names) assert.deepEqual(decoder.next(), [name, "k"]);
  assert.equal(decoder.next(), null);
});

Deno.test("RequestDecoder refuses a bulk string longer than any string, whatever the limit", () => {
  const header = `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${MAX_BYTE_STRING + 1}\r\n`;
  // Refused at the header, before any of its bytes: it could never become a value.
  assert.equal(errorOf(header), "invalid bulk length");
  assert.equal(errorOf(header, { maxBulkLength: 1024 ** 3 }), "invalid bulk length");
  // One byte shorter is a claim the decoder waits for.
  assert.equal(errorOf(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${MAX_BYTE_STRING}\r\n`), null);
});

/** Copies `bytes` into {@link RequestDecoder.spare} as a socket read would, at most what fits. */
function read(decoder: RequestDecoder, bytes: Uint8Array): number {
  const room = decoder.spare();
  const n = Math.min(room.length, bytes.length);
  room.set(bytes.subarray(0, n));
  decoder.commit(n);
  return n;
}

Deno.test("RequestDecoder.spare() and commit() decode what a read wrote into the buffer", () => {
  const decoder = new RequestDecoder();
  const bytes = byteStringToBytes("*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$3\r\nGET");
  assert.equal(read(decoder, bytes), bytes.length);
  assert.deepEqual(decoder.next(), ["PING"]);
  assert.deepEqual(decoder.next(), ["ECHO", "hi"]);
  assert.equal(decoder.next(), null);
  read(decoder, byteStringToBytes("\r\n$1\r\nk\r\n"));
  assert.deepEqual(decoder.next(), ["GET", "k"]);
  assert.equal(decoder.buffered, 0);
  decoder.spare();
  assert.throws(() => decoder.commit(decoder.capacity + 1), RangeError);
});

Deno.test("RequestDecoder.spare() offers twice as much after a read that filled it, up to 16 KiB", () => {
  const decoder = new RequestDecoder();
  const initial = decoder.capacity;
  // One 100 KB MSET, read as a socket would deliver it into whatever room is offered.
  const args = ["MSET"];
  for (let i = 0; i < 1000; i++) args.push(`key:${i}`, "v".repeat(90));
  const frame = encodeCommand(args);
  const offers: number[] = [];
  let command: string[] | null = null;
  for (let at = 0; at < frame.length;) {
    offers.push(decoder.spare().length);
    at += read(decoder, frame.subarray(at));
    command = decoder.next();
  }
  assert.deepEqual(command, args);
  assert.equal(offers[0], initial);
  assert.ok(offers.every((o) => o >= Math.min(16 * 1024, initial)), offers.join(" "));
  // Doubling reaches 16 KiB within a few reads, so the whole frame takes few reads.
  assert.ok(offers.length <= 12, `${offers.length} reads: ${offers.join(" ")}`);
});

Deno.test("RequestDecoder's buffer shrinks back after a burst once reads stay small", () => {
  const decoder = new RequestDecoder();
  const initial = decoder.capacity;
  const burst = encodeCommand(["SET", "k", "v".repeat(40_000)]);
  for (let at = 0; at < burst.length;) at += read(decoder, burst.subarray(at));
  assert.equal(decoder.next()?.[2].length, 40_000);
  const grown = decoder.capacity;
  assert.ok(grown >= 40_000, `capacity ${grown}`);
  // Small commands, one read each: the buffer keeps its size until a whole window of them...
  const ping = encodeCommand(["PING"]);
  for (let i = 0; i < SHRINK_WINDOW; i++) {
    read(decoder, ping);
    assert.deepEqual(decoder.next(), ["PING"]);
  }
  assert.equal(decoder.capacity, grown);
  // ...has passed without needing it; then it is back to where it started.
  for (let i = 0; i < SHRINK_WINDOW; i++) {
    read(decoder, ping);
    assert.deepEqual(decoder.next(), ["PING"]);
  }
  assert.equal(decoder.capacity, initial);
  assert.equal(decoder.spare().length, initial);
});

Deno.test("RequestDecoder keeps its buffer while every read brings a big pipeline", () => {
  const decoder = new RequestDecoder();
  const commands: string[][] = [];
  for (let i = 0; i < 16; i++) commands.push(["SET", `key:${i}`, "v".repeat(1000)]);
  const batch = new Uint8Array(commands.reduce((n, c) => n + encodeCommand(c).length, 0));
  let at = 0;
  for (const c of commands) {
    batch.set(encodeCommand(c), at);
    at += encodeCommand(c).length;
  }
  const sizes = new Set<number>();
  for (let round = 0; round < 4 * SHRINK_WINDOW; round++) {
    for (let done = 0; done < batch.length;) {
      done += read(decoder, batch.subarray(done));
      while (decoder.next() !== null);
    }
    if (round >= 4) sizes.add(decoder.capacity);
  }
  assert.equal(sizes.size, 1, `capacities: ${[...sizes].join(", ")}`);
});

Deno.test("an unauthenticated decoder refuses more than 10 arguments, as Redis does", () => {
  const decoder = new RequestDecoder();
  decoder.unauthenticated = true;
  decoder.push(new TextEncoder().encode("*10\r\n"));
  assert.equal(decoder.next(), null, "10 is allowed");
  const over = new RequestDecoder();
  over.unauthenticated = true;
  over.push(new TextEncoder().encode("*11\r\n"));
  assert.throws(() => over.next(), { message: "Protocol error: unauthenticated multibulk length" });
});

Deno.test("an unauthenticated decoder refuses a bulk over 16 KiB at its header; later it may", () => {
  const header = new TextEncoder().encode("*1\r\n$16385\r\n");
  const decoder = new RequestDecoder();
  decoder.unauthenticated = true;
  decoder.push(header);
  assert.throws(() => decoder.next(), { message: "Protocol error: unauthenticated bulk length" });
  const relaxed = new RequestDecoder();
  relaxed.unauthenticated = true;
  relaxed.unauthenticated = false;
  relaxed.push(header);
  assert.equal(relaxed.next(), null, "waits for the 16385 bytes");
});
