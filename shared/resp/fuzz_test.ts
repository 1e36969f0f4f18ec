/**
 * Fuzz tests for the client's reply decoder and for `splitArgs()`: thousands of random and mutated
 * inputs, each fed in several random chunkings (the inputs and the runner: `shared/testing/fuzz.ts`).
 * The request decoders have their own, beside them in labs 1 and 2.
 *
 * @module
 */

import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";
import { encodeReply, RespWriter } from "./encoder.ts";
import { ProtocolError } from "./errors.ts";
import { ErrorReply, NULL_ARRAY, type Reply, SimpleString } from "./reply.ts";
import { ReplyDecoder } from "./reply_decoder.ts";
import { splitArgs } from "./split_args.ts";
import { byteString, chunkings, fuzz, mutate, noise, randomArg } from "../testing/fuzz.ts";
import { showBytes } from "../testing/raw_client.ts";
import type { SeededRandom } from "../testing/random.ts";

const REPLY_INPUTS = 5_000;
const SPLIT_ARGS_INPUTS = 2_000;

// ---------------------------------------------------------------------------------------------
// The reply decoder

function randomReply(rng: SeededRandom, depth: number): Reply {
  switch (rng.below(depth < 4 ? 9 : 7)) {
    case 0:
      return new SimpleString(byteString(randomArg(rng)).replace(/[\r\n]/g, ""));
    case 1:
      return new ErrorReply("ERR " + byteString(randomArg(rng)).replace(/[\r\n]/g, ""));
    case 2:
      return rng.chance(0.5)
        ? rng.below(2 ** 31) - 2 ** 30
        : BigInt(rng.next()) * BigInt(rng.next()) * 4096n;
    case 3:
    case 4:
      return byteString(randomArg(rng));
    case 5:
      return null;
    case 6:
      return NULL_ARRAY;
    default:
      return Array.from({ length: rng.below(5) }, () => randomReply(rng, depth + 1));
  }
}

interface ReplyOutcome {
  replies: Reply[];
  error: string | null;
}

function decodeReplies(chunks: readonly Uint8Array[]): ReplyOutcome {
  const decoder = new ReplyDecoder();
  const replies: Reply[] = [];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let calls = 0;
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      for (;;) {
        assert.ok(++calls <= total + chunks.length + 1, "next() keeps returning replies");
        const reply = decoder.next();
        if (reply === undefined) break;
        replies.push(reply);
      }
    }
  } catch (error) {
    if (error instanceof ProtocolError) return { replies, error: error.detail };
    throw error;
  }
  return { replies, error: null };
}

fuzz("ReplyDecoder survives random and mutated replies in any chunking", REPLY_INPUTS, (rng) => {
  const replies = Array.from({ length: 1 + rng.below(6) }, () => randomReply(rng, 0));
  const writer = new RespWriter();
  for (const reply of replies) writer.write(reply);
  const valid = writer.take().slice();
  const kind = rng.below(10);
  const input = kind === 0 ? noise(rng) : kind < 8 ? mutate(rng, valid) : valid;
  const whole = decodeReplies([input]);
  if (input === valid) {
    // Undamaged, the stream decodes to exactly what was encoded, and encodes back to its bytes.
    assert.deepEqual(whole, { replies, error: null });
    assert.deepEqual(concatBytes(whole.replies.map((reply) => encodeReply(reply))), valid);
  }
  for (const chunks of chunkings(rng, input)) {
    assert.deepEqual(
      decodeReplies(chunks),
      whole,
      `chunked into ${chunks.map((c) => c.length).join(",")}`,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// splitArgs

/** Quotes a byte string so that splitArgs reads it back, as redis-cli's output quoting does. */
function quote(rng: SeededRandom, arg: string): string {
  if (rng.chance(0.5)) {
    const escaped = [...arg].map((c) => {
      const code = c.charCodeAt(0);
      if (c === '"' || c === "\\") return `\\${c}`;
      return code < 0x20 || code > 0x7e ? `\\x${code.toString(16).padStart(2, "0")}` : c;
    });
    return `"${escaped.join("")}"`;
  }
  // Single quotes can hold anything but NUL; only a quote needs (and a backslash before a quote
  // would need) care, so those arguments use double quotes instead.
  return /[\0'\\]/.test(arg) ? quote(rng, arg) : `'${arg}'`;
}

fuzz(
  "splitArgs() never throws, and reads back any arguments quoted for it",
  SPLIT_ARGS_INPUTS,
  (rng) => {
    const noisy = String.fromCharCode(...noise(rng));
    const words = splitArgs(noisy);
    assert.ok(words === null || words.every((w) => typeof w === "string"));
    const args = Array.from(
      { length: rng.below(5) },
      () => byteString(randomArg(rng).subarray(0, 200)),
    );
    const line = args.map((a) => quote(rng, a)).join(rng.pick([" ", "\t", "  "]));
    assert.deepEqual(splitArgs(line), args, showBytes(line));
  },
);
