import assert from "node:assert/strict";
import { byteStringToBytes } from "../../../shared/resp/bytes.ts";
import { RespWriter } from "../../../shared/resp/encoder.ts";
import { RequestDecoder } from "../../../shared/resp/request_decoder.ts";
import { LogBuffer } from "./log_buffer.ts";

/** The same commands by the shared encoder: the bytes the log buffer must produce. */
function expected(commands: readonly string[][]): Uint8Array {
  const out = new RespWriter();
  for (const command of commands) {
    out.arrayHeader(command.length);
    for (const arg of command) out.bulk(arg);
  }
  return out.take().slice();
}

Deno.test("LogBuffer encodes commands exactly as the shared RESP encoder does", () => {
  const every = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
  const commands = [
    ["SET", "k", "v"],
    ["SET", "key:__rand_int__", "xxx", "PXAT", "1795334197000"],
    ["DEL", ""],
    // Lengths around each header's number of digits, and around the native copy's threshold.
    ...[9, 10, 64, 65, 99, 100, 999, 1000, 12345].map((n) => ["APPEND", "k", "x".repeat(n)]),
    // Every byte value, in a short argument and in a long one.
    ["SET", every.slice(0, 40), every],
    ["MSET", ...Array.from({ length: 12 }, (_, i) => `k${i}`)],
  ];
  const buffer = new LogBuffer();
  let total = 0;
  for (const command of commands) total += buffer.append(command);
  assert.equal(buffer.length, total, "append() returns the bytes it added");
  assert.deepEqual(buffer.take(), expected(commands));
  assert.equal(buffer.length, 0);
});

Deno.test("LogBuffer holds a command bigger than its buffer, and goes on after shrink()", () => {
  const buffer = new LogBuffer();
  const big = ["SET", "k", "v".repeat(3 * 1024 * 1024)];
  buffer.append(["SET", "before", "1"]);
  buffer.append(big);
  assert.deepEqual(buffer.take(), expected([["SET", "before", "1"], big]));
  buffer.shrink();
  buffer.append(["SET", "after", "2"]);
  assert.deepEqual(buffer.take(), expected([["SET", "after", "2"]]));
});

Deno.test("LogBuffer copies a decoder's frame in place, between encoded commands", () => {
  const decoder = new RequestDecoder();
  const frames = [
    "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n",
    `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200\r\n${"v".repeat(200)}\r\n`,
  ];
  const buffer = new LogBuffer();
  buffer.append(["DEL", "x"]);
  for (const frame of frames) {
    decoder.push(byteStringToBytes(frame));
    const command = decoder.next();
    assert.ok(command !== null);
    const length = decoder.lastFrameLength(command);
    assert.equal(buffer.appendFrame(decoder, length), frame.length);
  }
  buffer.append(["DEL", "y"]);
  assert.deepEqual(
    buffer.take(),
    byteStringToBytes(
      "*2\r\n$3\r\nDEL\r\n$1\r\nx\r\n" + frames.join("") + "*2\r\n$3\r\nDEL\r\n$1\r\ny\r\n",
    ),
  );
});
