/**
 * Lab 1's decoder, byte for byte: whole frames, partial frames, Redis's error texts and limits,
 * and a big value arriving in many reads. The same bytes against a live server, and against a
 * real `redis-server`, are in `protocol_errors_test.ts`; lab 2 checks that its fast decoder agrees
 * with this one on thousands of random inputs (`request_decoder_fuzz_test.ts` there).
 *
 * @module
 */

import assert from "node:assert/strict";
import { byteStringToBytes } from "../../shared/resp/bytes.ts";
import { encodeCommand } from "../../shared/resp/encoder.ts";
import type { DecoderLimits } from "../../shared/resp/limits.ts";
import { decodeRequests, fuzzRequestDecoder } from "../../shared/testing/fuzz.ts";
import { Decoder } from "./decoder.ts";

/** What the decoder made of some bytes: the commands, then the error that stopped it, if any. */
interface Outcome {
  commands: string[][];
  error: string | null;
  buffered: number;
}

/** Pushes `chunks` one at a time and takes every command after each, as the server's loop does. */
function decode(chunks: readonly string[], limits?: Partial<DecoderLimits>): Outcome {
  const decoder = new Decoder(limits);
  const outcome = decodeRequests(decoder, chunks.map(byteStringToBytes));
  return { ...outcome, buffered: decoder.buffered };
}

function errorOf(input: string, limits?: Partial<DecoderLimits>): string | null {
  return decode([input], limits).error;
}

// Every shape of frame: arrays and inline commands, an empty bulk string, binary bulk strings
// holding CR, LF, NUL and high bytes, frames with no command, quoting, a bare LF.
const PIPELINE = "*3\r\n$3\r\nSET\r\n$12\r\nhello\r\nworld\r\n$0\r\n\r\n" +
  "PING\r\n" +
  "*2\r\n$4\r\nECHO\r\n$6\r\n\0\xff\r\n\xfe\n\r\n" +
  "*0\r\n" +
  "\r\n" +
  "*-1\r\n" +
  'SET "a b" \'c\\\'d\' "\\x41\\n"\r\n' +
  "ECHO x\n";

const PIPELINE_COMMANDS = [
  ["SET", "hello\r\nworld", ""],
  ["PING"],
  ["ECHO", "\0\xff\r\n\xfe\n"],
  ["SET", "a b", "c'd", "A\n"],
  ["ECHO", "x"],
];

Deno.test("Decoder decodes a pipeline of arrays and inline commands pushed at once", () => {
  assert.deepEqual(decode([PIPELINE]), { commands: PIPELINE_COMMANDS, error: null, buffered: 0 });
});

Deno.test("Decoder decodes the same commands wherever the pipeline is split, or byte by byte", () => {
  for (let cut = 0; cut <= PIPELINE.length; cut++) {
    assert.deepEqual(
      decode([PIPELINE.slice(0, cut), PIPELINE.slice(cut)]).commands,
      PIPELINE_COMMANDS,
    );
  }
  assert.deepEqual(decode([...PIPELINE]).commands, PIPELINE_COMMANDS);
});

Deno.test("Decoder.next() returns null on a partial frame and consumes nothing", () => {
  const decoder = new Decoder();
  decoder.push(byteStringToBytes("*1\r\n$4\r\nPI"));
  assert.equal(decoder.next(), null);
  assert.equal(decoder.buffered, 10);
  decoder.push(byteStringToBytes("NG\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("Decoder.push() copies the chunk, so the caller may reuse its read buffer", () => {
  const decoder = new Decoder();
  const chunk = byteStringToBytes("*1\r\n$4\r\nPI");
  decoder.push(chunk);
  chunk.fill(0);
  decoder.push(byteStringToBytes("NG\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
});

Deno.test("Decoder returns the commands before a protocol error, then throws it", () => {
  assert.deepEqual(decode(["PING\r\n*1\r\n$4\r\nECHO\r\n*x\r\nPING\r\n"]).commands, [
    ["PING"],
    ["ECHO"],
  ]);
});

Deno.test("Decoder answers with Redis's error text for each kind of bad frame", () => {
  const cases: [string, string][] = [
    ["*abc\r\n", "invalid multibulk length"],
    ["*01\r\n", "invalid multibulk length"],
    ["*2147483648\r\n", "invalid multibulk length"],
    ["*1\r\n$-1\r\n", "invalid bulk length"],
    ["*1\r\n$04\r\nPING\r\n", "invalid bulk length"],
    ["*1\r\n$536870913\r\n", "invalid bulk length"],
    ["*1\r\nx\r\n", "expected '$', got 'x'"],
    ["*2\r\n$3\r\nGET\r\n:1\r\n", "expected '$', got ':'"],
    [`SET "a\r\n`, "unbalanced quotes in request"],
    [`SET 'a'b\r\n`, "unbalanced quotes in request"],
    ["*" + "1".repeat(65536), "too big mbulk count string"],
    ["*1\r\n$" + "1".repeat(65536), "too big bulk count string"],
    ["x".repeat(65537), "too big inline request"],
  ];
  for (const [input, error] of cases) {
    assert.equal(errorOf(input), error, JSON.stringify(input.slice(0, 40)));
  }
  // Up to the limit a line without its end is still waited for.
  assert.equal(errorOf("x".repeat(65536)), null);
  assert.equal(errorOf("*1\r\n$" + "1".repeat(65535)), null);
});

Deno.test("Decoder skips the two bytes after bulk data without checking them, as Redis does", () => {
  assert.deepEqual(decode(["*1\r\n$3\r\nfooXY"]).commands, [["foo"]]);
});

Deno.test("Decoder treats a NUL before the line end as Redis's strchr does: no line yet", () => {
  for (const input of ["PING\0\r\n", "*1\0\r\n$4\r\nPING\r\n", "*1\r\n$4\0\r\nPING\r\n"]) {
    assert.deepEqual(decode([input]), { commands: [], error: null, buffered: input.length });
  }
  assert.equal(errorOf("PING\0\r\n" + "x".repeat(65530)), "too big inline request");
  // A NUL inside bulk data is just data.
  assert.deepEqual(decode(["*1\r\n$1\r\n\0\r\n"]).commands, [["\0"]]);
});

Deno.test("Decoder enforces configured limits", () => {
  assert.equal(errorOf("*1\r\n$6\r\nhello!\r\n", { maxBulkLength: 5 }), "invalid bulk length");
  assert.equal(errorOf("*3\r\n", { maxArrayLength: 2 }), "invalid multibulk length");
  assert.equal(errorOf("x".repeat(11), { maxInlineLength: 10 }), "too big inline request");
});

Deno.test("Decoder takes a 64 MiB value arriving in 16 KiB reads in linear time", () => {
  // Checking the frame again after every read would walk 4,096 reads × up to 64 MiB; the decoder
  // remembers where the value ends and checks once it is all here. The buffer doubles as it
  // grows, so the bytes are copied a few times in all, not once per read.
  const value = new Uint8Array(64 * 1024 * 1024).fill(0x61);
  const frame = encodeCommand(["SET", "big", value]);
  const decoder = new Decoder();
  let command: string[] | null = null;
  for (let i = 0; i < frame.length; i += 16_384) {
    assert.equal(command, null, "the command came out before its last byte");
    decoder.push(frame.subarray(i, i + 16_384));
    command = decoder.next();
  }
  assert.ok(command !== null);
  assert.equal(command[2].length, value.length);
  // Small frames work again after it, from a buffer that no longer holds 64 MiB.
  decoder.push(byteStringToBytes("PING\r\n"));
  assert.deepEqual(decoder.next(), ["PING"]);
});

fuzzRequestDecoder(
  "Decoder survives random and mutated pipelines in any chunking",
  3_000,
  (limits) => new Decoder(limits),
);
