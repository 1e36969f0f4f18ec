import assert from "node:assert/strict";
import { ProtocolError } from "../shared/resp/errors.ts";
import { ReplyCounter } from "./reply_counter.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Replies of every RESP2 type, including nesting, a null bulk, an empty array and an error. */
const STREAM = "+OK\r\n$5\r\nhello\r\n$-1\r\n:42\r\n-ERR unknown command 'INCR'\r\n" +
  "*2\r\n$1\r\na\r\n*2\r\n:1\r\n-ERR inner\r\n*0\r\n*-1\r\n$0\r\n\r\n";

Deno.test("ReplyCounter counts every top-level reply in one chunk", () => {
  const counter = new ReplyCounter();
  assert.equal(counter.feed(bytes(STREAM)), 9);
  assert.equal(counter.replies, 9);
  assert.equal(counter.errors, 1, "an error inside an array is not a failed request");
  assert.equal(counter.firstError, "ERR unknown command 'INCR'");
});

Deno.test("ReplyCounter gives the same counts when every byte arrives alone", () => {
  const counter = new ReplyCounter();
  let total = 0;
  for (const b of bytes(STREAM)) total += counter.feed(new Uint8Array([b]));
  assert.equal(total, 9);
  assert.equal(counter.errors, 1);
  assert.equal(counter.firstError, "ERR unknown command 'INCR'");
});

Deno.test("ReplyCounter does not count a bulk string until its last byte has arrived", () => {
  const counter = new ReplyCounter();
  assert.equal(counter.feed(bytes("$10\r\n01234")), 0);
  assert.equal(counter.feed(bytes("56789\r")), 0);
  assert.equal(counter.feed(bytes("\n")), 1);
});

Deno.test("ReplyCounter only reads the valid part of a reused buffer", () => {
  const buffer = bytes("+OK\r\n+OK\r\n");
  const counter = new ReplyCounter();
  assert.equal(counter.feed(buffer, 5), 1);
});

Deno.test("ReplyCounter rejects a byte that starts no RESP2 value", () => {
  assert.throws(() => new ReplyCounter().feed(bytes("hello\r\n")), ProtocolError);
});
