/**
 * What the fuzz tests share: a seeded test runner and the inputs — well-formed request pipelines,
 * the same damaged the ways buggy clients and networks damage them, noise, and random chunkings.
 *
 * What must hold for any bytes at all, whichever decoder reads them:
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
import { concatBytes } from "../resp/bytes.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { ProtocolError } from "../resp/errors.ts";
import type { DecoderLimits } from "../resp/limits.ts";
import { SeededRandom } from "./random.ts";
import { showBytes } from "./raw_client.ts";

/**
 * The seed: from CACHELAB_FUZZ_SEED if set, so that a failure can be replayed, else random.
 *
 * @returns A 32-bit seed for {@link SeededRandom}.
 */
export function chooseSeed(): number {
  const variable = "CACHELAB_FUZZ_SEED";
  const allowed = Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  const fixed = allowed ? Deno.env.get(variable) : undefined;
  return fixed !== undefined ? Number(fixed) >>> 0 : crypto.getRandomValues(new Uint32Array(1))[0];
}

/** Registers a test that runs `body` `count` times; a failure names the seed and the input's number. */
export function fuzz(name: string, count: number, body: (rng: SeededRandom) => void): void {
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
export function randomArg(rng: SeededRandom): Uint8Array {
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
export function byteString(bytes: Uint8Array): string {
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
export function validRequests(rng: SeededRandom): Uint8Array {
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
export function mutate(rng: SeededRandom, input: Uint8Array): Uint8Array {
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
export function noise(rng: SeededRandom): Uint8Array {
  return Uint8Array.from({ length: rng.below(200) }, () => randomByte(rng));
}

/** The same bytes cut into random pieces; sometimes one byte at a time. */
export function chunkings(rng: SeededRandom, input: Uint8Array): Uint8Array[][] {
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
// Request decoders

/** What every request decoder offers, lab 1's and lab 2's alike. */
export interface RequestDecoderLike {
  /** Appends received bytes. */
  push(chunk: Uint8Array): void;
  /** The next whole command, or `null`; throws `ProtocolError` for bytes that break the protocol. */
  next(): string[] | null;
  /** How many received bytes are not decoded yet. */
  readonly buffered: number;
}

/** What a decoder made of some bytes: the commands, then the protocol error that stopped it. */
export interface RequestOutcome {
  /** Every command, in order. */
  commands: string[][];
  /** The protocol error's detail, or `null`. */
  error: string | null;
}

/**
 * Feeds `chunks` to a fresh decoder one push at a time, taking every command after each push as a
 * server does, and checks what must hold for any input.
 *
 * @param decoder A new decoder.
 * @param chunks The bytes, as the reads would bring them.
 * @returns The commands, and the error that stopped decoding.
 */
export function decodeRequests<D extends RequestDecoderLike>(
  decoder: D,
  chunks: readonly Uint8Array[],
): RequestOutcome {
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

/**
 * Asserts that two outcomes of the same bytes agree. A line's length limit is checked against what
 * has arrived so far, so it can trip in one chunking and not another, as in Redis: when either
 * outcome hit one, they must agree up to there.
 *
 * @param actual One outcome.
 * @param expected The other.
 * @param message Says which chunking, or which decoders.
 */
export function assertSameOutcome(
  actual: RequestOutcome,
  expected: RequestOutcome,
  message: string,
): void {
  if (TOO_BIG.test(actual.error ?? "") || TOO_BIG.test(expected.error ?? "")) {
    const shorter = Math.min(actual.commands.length, expected.commands.length);
    assert.deepEqual(
      actual.commands.slice(0, shorter),
      expected.commands.slice(0, shorter),
      message,
    );
  } else {
    assert.deepEqual(actual, expected, message);
  }
}

/** One fuzz input for a request decoder: bytes, limits, and whether the bytes are undamaged. */
export interface RequestInput {
  /** The bytes a client sent. */
  input: Uint8Array;
  /** The decoder's limits: small sometimes, so that every limit is reached. */
  limits: DecoderLimits;
  /** Whether `input` is an undamaged pipeline that fits `limits`, so must decode without error. */
  valid: boolean;
}

/**
 * Draws one input: noise, a damaged pipeline, or a well-formed one, and limits for it.
 *
 * @param rng The seeded generator.
 * @returns The input.
 */
export function randomRequestInput(rng: SeededRandom): RequestInput {
  const kind = rng.below(10);
  const input = kind === 0
    ? noise(rng)
    : kind < 9
    ? mutate(rng, validRequests(rng))
    : validRequests(rng);
  // The bulk limit stays small always: a mutated length claiming hundreds of megabytes would only
  // exercise the memory allocator.
  const limits: DecoderLimits = {
    maxBulkLength: rng.pick([16, 1_000, 1 << 20]),
    maxArrayLength: rng.pick([4, 1_000, 2 ** 31 - 1]),
    maxInlineLength: rng.chance(0.3) ? rng.pick([8, 64, 300]) : 64 * 1024,
  };
  // validRequests() makes arguments up to 20,000 bytes, five to a command, inline lines under 300
  // bytes: an undamaged pipeline decodes without error when the limits are above that.
  const roomy = limits.maxBulkLength === 1 << 20 && limits.maxArrayLength >= 1_000 &&
    limits.maxInlineLength >= 300;
  return { input, limits, valid: kind === 9 && roomy };
}

/**
 * Registers the fuzz test every request decoder must pass: random and mutated pipelines, decoded
 * whole and in random chunkings, with the same outcome.
 *
 * @param name The test's name.
 * @param count How many inputs.
 * @param make Makes a fresh decoder with the given limits.
 */
export function fuzzRequestDecoder<D extends RequestDecoderLike>(
  name: string,
  count: number,
  make: (limits: DecoderLimits) => D,
): void {
  fuzz(name, count, (rng) => {
    const { input, limits, valid } = randomRequestInput(rng);
    const whole = decodeRequests(make(limits), [input]);
    for (const chunks of chunkings(rng, input)) {
      const split = decodeRequests(make(limits), chunks);
      assertSameOutcome(split, whole, `chunked into ${chunks.map((c) => c.length).join(",")}`);
    }
    if (valid) assert.equal(whole.error, null, showBytes(input));
  });
}
