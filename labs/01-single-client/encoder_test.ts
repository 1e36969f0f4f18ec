/**
 * Lab 1's encoder writes, byte for byte, what the shared encoder of the later labs writes: every
 * reply type, in RESP2 and in RESP3, and errors counted as they are encoded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeReply } from "../../shared/resp/encoder.ts";
import {
  BigNumberReply,
  DoubleReply,
  ErrorReply,
  MapReply,
  NULL_ARRAY,
  type Protocol,
  PushReply,
  type Reply,
  SetReply,
  SimpleString,
  VerbatimString,
} from "../../shared/resp/reply.ts";
import { ReplyWriter } from "./encoder.ts";

const REPLIES: readonly Reply[] = [
  "Alice",
  "",
  "\r\n\0\xff",
  "x".repeat(3000),
  null,
  0,
  -42,
  2n ** 70n,
  new SimpleString("OK"),
  new ErrorReply("ERR one\r\ntwo\n"),
  NULL_ARRAY,
  [],
  ["a", 1, null, [new SimpleString("nested")]],
  true,
  false,
  new MapReply([["proto", 3], ["modules", []]]),
  new SetReply(["m"]),
  new PushReply(["message", "x"]),
  new DoubleReply(1.25),
  new DoubleReply(-Infinity),
  new BigNumberReply(-(10n ** 30n)),
  new VerbatimString("# Server\r\n"),
];

Deno.test("ReplyWriter writes every reply as the shared encoder does, in RESP2 and RESP3", () => {
  for (const protocol of [2, 3] as Protocol[]) {
    for (const reply of REPLIES) {
      const out = new ReplyWriter();
      out.write(reply, protocol);
      assert.deepEqual(
        out.take(),
        encodeReply(reply, protocol),
        `${String(reply)} in RESP${protocol}`,
      );
    }
  }
});

Deno.test("ReplyWriter gathers a batch in one buffer, and tells onError of each error", () => {
  const out = new ReplyWriter();
  const errors: string[] = [];
  out.onError = (message) => errors.push(message);
  out.write(new SimpleString("OK"));
  const before = out.length;
  out.write([new ErrorReply("ERR inner")]);
  out.truncate(before);
  out.write(":-)");
  assert.equal(new TextDecoder().decode(out.take()), "+OK\r\n$3\r\n:-)\r\n");
  assert.deepEqual(errors, ["ERR inner"]);
  assert.equal(out.length, 0);
});
