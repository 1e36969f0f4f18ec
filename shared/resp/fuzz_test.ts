/**
 * Fuzz tests for the decoders: thousands of random and mutated byte streams, each fed in several
 * random chunkings.
 *
 * What must hold for any bytes at all:
 *
 * - the only exception that escapes a decoder is `ProtocolError` (anything else would be a server
 *   bug reachable by any client);
 * - decoding finishes: every command or reply consumes bytes, so the number of `next()` calls is
 *   bounded by the input's length;
 * - how the bytes are chunked makes no difference, because TCP chooses the chunks, not the client.
 *
 * The random choices come from a seeded generator. A failure names its seed; run again with
 * `CACHELAB_FUZZ_SEED=<seed>` to replay exactly the same inputs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { concatBytes } from "./bytes.ts";
import { encodeCommand, encodeReply, RespWriter } from "./encoder.ts";
import { ProtocolError } from "./errors.ts";
import { ErrorReply, NULL_ARRAY, type Reply, SimpleString } from "./reply.ts";
import { ReplyDecoder } from "./reply_decoder.ts";
import { type DecoderLimits, RequestDecoder } from "./request_decoder.ts";
import { splitArgs } from "./split_args.ts";
import { showBytes } from "../testing/raw_client.ts";
import { SeededRandom } from "../testing/random.ts";

const REQUEST_INPUTS = 10_000;
const REPLY_INPUTS = 5_000;
const SPLIT_ARGS_INPUTS = 2_000;

/** The seed: from CACHELAB_FUZZ_SEED if set, so that a failure can be replayed, else random. */
function chooseSeed(): number {
  const variable = "CACHELAB_FUZZ_SEED";
  const allowed = Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  const fixed = allowed ? Deno.env.get(variable) : undefined;
  return fixed !== undefined ? Number(fixed) >>> 0 : crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Registers a test that runs `body` `count` times; a failure names the seed and the input's number. */
function fuzz(name: string, count: number, body: (rng: SeededRandom) => void): void {
  Deno.test(`${name} (${count} inputs)`, () => {
    const seed = chooseSeed();
    const rng = new SeededRandom(seed);
    for (let i = 0; i < count; i++) {
      try {
        body(rng);
      } catch (error) {
        throw new Error(
          `Fuzz failure with CACHELAB_FUZZ_SEED=${seed} at input #${i}: ` +
            (error instanceof Error ? error.stack ?? error.message : String(error)),
        );
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** Bytes that mean something to RESP or to inline splitting, and so make mutations bite. */
const INTERESTING = [..."*$:+-\r\n0123456789\"' \\x\t"].map((c) => c.charCodeAt(0))
  .concat([0x00, 0x7f, 0x80, 0xff, 0x0b]);

function randomByte(rng: SeededRandom): number {
  return rng.chance(0.6) ? rng.pick(INTERESTING) : rng.below(256);
}

/** An argument: empty, a word, binary bytes holding framing characters, or now and then big. */
function randomArg(rng: SeededRandom): Uint8Array {
  const kind = rng.below(50);
  const length = kind === 0
    ? 0
    : kind < 40
    ? rng.below(12)
    : kind < 49
    ? rng.below(300)
    : rng.below(20_000);
  const arg = new Uint8Array(length);
  for (let i = 0; i < length; i++) arg[i] = kind < 25 ? 0x61 + rng.below(26) : randomByte(rng);
  return arg;
}

/** A byte string of the same bytes. */
function byteString(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/** An inline word, sometimes quoted the way redis-cli quotes. */
function randomInlineWord(rng: SeededRandom): string {
  const word = Array.from(
    { length: 1 + rng.below(6) },
    () => String.fromCharCode(0x61 + rng.below(26)),
  ).join("");
  switch (rng.below(4)) {
    case 0:
      return `"${word} \\x${rng.below(256).toString(16).padStart(2, "0")}\\n"`;
    case 1:
      return `'${word}\\' x'`;
    default:
      return word;
  }
}

/** A well-formed pipeline mixing every kind of request frame. */
function validRequests(rng: SeededRandom): Uint8Array {
  const parts: Uint8Array[] = [];
  const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  for (let n = 1 + rng.below(8); n > 0; n--) {
    switch (rng.below(8)) {
      case 0:
        parts.push(ascii(rng.pick(["*0\r\n", "*-1\r\n", "\r\n", "\n", "  \t\r\n"])));
        break;
      case 1:
      case 2: {
        const words = Array.from({ length: 1 + rng.below(4) }, () => randomInlineWord(rng));
        parts.push(ascii(words.join(rng.pick([" ", "  ", "\t"])) + rng.pick(["\r\n", "\n"])));
        break;
      }
      default: {
        const args = Array.from({ length: 1 + rng.below(5) }, () => randomArg(rng));
        parts.push(encodeCommand(args));
      }
    }
  }
  return concatBytes(parts);
}

/** Damages `input` in one to four places: the ways a buggy client or a bad network breaks frames. */
function mutate(rng: SeededRandom, input: Uint8Array): Uint8Array {
  let bytes = input;
  for (let n = 1 + rng.below(4); n > 0; n--) {
    const at = rng.below(bytes.length + 1);
    const before = bytes.subarray(0, at);
    const after = bytes.subarray(at);
    switch (rng.below(8)) {
      case 0: // flip one bit
        if (at < bytes.length) bytes = with1(bytes, at, bytes[at] ^ (1 << rng.below(8)));
        break;
      case 1: // insert a byte
        bytes = concatBytes([before, Uint8Array.of(randomByte(rng)), after]);
        break;
      case 2: // delete a few bytes
        bytes = concatBytes([before, after.subarray(1 + rng.below(3))]);
        break;
      case 3: // duplicate a slice, as a retransmission bug would
        bytes = concatBytes([before, after.subarray(0, 1 + rng.below(20)), after]);
        break;
      case 4:
      case 5: { // change a digit: lengths and counts are where parsers go wrong
        const digits: number[] = [];
        for (let i = 0; i < bytes.length && digits.length < 200; i++) {
          if (bytes[i] >= 0x30 && bytes[i] <= 0x39) digits.push(i);
        }
        if (digits.length > 0) {
          bytes = with1(bytes, rng.pick(digits), rng.pick([..."0123456789-"]).charCodeAt(0));
        }
        break;
      }
      case 6: // cut the stream short
        bytes = before;
        break;
      default: // overwrite a byte
        if (at < bytes.length) bytes = with1(bytes, at, randomByte(rng));
    }
  }
  return bytes;
}

/** A copy of `bytes` with one byte changed. */
function with1(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

/** Pure noise, mostly from the bytes RESP cares about. */
function noise(rng: SeededRandom): Uint8Array {
  return Uint8Array.from({ length: rng.below(200) }, () => randomByte(rng));
}

/** The same bytes cut into random pieces; sometimes one byte at a time. */
function chunkings(rng: SeededRandom, input: Uint8Array): Uint8Array[][] {
  const all: Uint8Array[][] = [];
  for (let k = 0; k < 2; k++) {
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < input.length;) {
      const size = 1 + rng.below(rng.chance(0.5) ? 8 : 2_000);
      chunks.push(input.subarray(i, i + size));
      i += size;
    }
    all.push(chunks);
  }
  if (input.length <= 400) all.push(Array.from(input, (_, i) => input.subarray(i, i + 1)));
  return all;
}

// ---------------------------------------------------------------------------------------------
// The request decoder

interface RequestOutcome {
  commands: string[][];
  error: string | null;
}

function decodeRequests(
  chunks: readonly Uint8Array[],
  limits: Partial<DecoderLimits>,
): RequestOutcome {
  const decoder = new RequestDecoder(limits);
  const commands: string[][] = [];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let calls = 0;
  try {
    for (const chunk of chunks) {
      decoder.push(chunk);
      for (;;) {
        // Every command takes at least two bytes, so more calls than bytes means a loop.
        assert.ok(++calls <= total + chunks.length + 1, "next() keeps returning commands");
        const command = decoder.next();
        if (command === null) break;
        assert.ok(Array.isArray(command) && command.length > 0, "a command has a name");
        assert.ok(command.every((arg) => typeof arg === "string"), "arguments are byte strings");
        commands.push(command);
      }
    }
  } catch (error) {
    if (error instanceof ProtocolError) return { commands, error: error.detail };
    throw error;
  }
  assert.ok(decoder.buffered <= total);
  return { commands, error: null };
}

const TOO_BIG = /^too big/;

fuzz(
  "RequestDecoder survives random and mutated pipelines in any chunking",
  REQUEST_INPUTS,
  (rng) => {
    const kind = rng.below(10);
    const input = kind === 0
      ? noise(rng)
      : kind < 9
      ? mutate(rng, validRequests(rng))
      : validRequests(rng);
    // Small limits sometimes, so that every limit is reached. The bulk limit stays small always:
    // a mutated length claiming hundreds of megabytes would only exercise the memory allocator.
    const limits: DecoderLimits = {
      maxBulkLength: rng.pick([16, 1_000, 1 << 20]),
      maxArrayLength: rng.pick([4, 1_000, 2 ** 31 - 1]),
      maxInlineLength: rng.chance(0.3) ? rng.pick([8, 64, 300]) : 64 * 1024,
    };
    const whole = decodeRequests([input], limits);
    for (const chunks of chunkings(rng, input)) {
      const split = decodeRequests(chunks, limits);
      if (TOO_BIG.test(whole.error ?? "") || TOO_BIG.test(split.error ?? "")) {
        // A line's length limit is checked against what has arrived so far, so it can trip in one
        // chunking and not another, as in Redis. Up to that point both must agree.
        const shorter = Math.min(whole.commands.length, split.commands.length);
        assert.deepEqual(split.commands.slice(0, shorter), whole.commands.slice(0, shorter));
      } else {
        assert.deepEqual(split, whole, `chunked into ${chunks.map((c) => c.length).join(",")}`);
      }
    }
    // An undamaged pipeline decodes without error when the limits are above what validRequests()
    // makes: arguments up to 20,000 bytes, five to a command, inline lines under 300 bytes.
    const roomy = limits.maxBulkLength === 1 << 20 && limits.maxArrayLength >= 1_000 &&
      limits.maxInlineLength >= 300;
    if (kind === 9 && roomy) assert.equal(whole.error, null, showBytes(input));
  },
);

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
