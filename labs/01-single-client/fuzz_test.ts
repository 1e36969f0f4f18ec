/**
 * Throws a few thousand random and mutated frames at a live lab 1 server, over many connections.
 *
 * The server may answer them any way Redis would, close the connection after a protocol error, or
 * wait for bytes that never come. What it must not do is crash, hang, or let one client's garbage
 * reach the next client: after every connection a fresh one must get `+PONG`, and at the end the
 * log must show no unexpected exception.
 *
 * The inputs come from a seeded generator; a failure names its seed, and
 * `CACHELAB_FUZZ_SEED=<seed>` replays the same bytes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeCommand } from "../../shared/resp/encoder.ts";
import { startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { SeededRandom } from "../../shared/testing/random.ts";

const CONNECTIONS = 150;
const FRAMES_PER_CONNECTION = 40;
/** One frame in this many is damaged: often enough to hit every error, rarely enough that a
 * connection usually gets through several good frames before a fatal one. */
const MUTATE_ONE_IN = 6;
/** Stop starting new connections after this long, so a slow machine still finishes in time. */
const TIME_BUDGET_MS = 12_000;

function chooseSeed(): number {
  const variable = "CACHELAB_FUZZ_SEED";
  const allowed = Deno.permissions.querySync({ name: "env", variable }).state === "granted";
  const fixed = allowed ? Deno.env.get(variable) : undefined;
  return fixed !== undefined ? Number(fixed) >>> 0 : crypto.getRandomValues(new Uint32Array(1))[0];
}

/** A seeded source of whole numbers below `n`, so that a failing input can be had again. */
function generator(seed: number): (n: number) => number {
  const rng = new SeededRandom(seed);
  return (n) => rng.below(n);
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const INTERESTING = ascii("*$:+-\r\n0123456789\"' \\x\t\0\xff");

/** One frame: a lab 1 command as an array or inline, an empty frame, or noise. */
function randomFrame(random: (n: number) => number): Uint8Array {
  const name = ["PING", "ECHO", "SET", "GET", "DEL", "DELETE", "EXISTS", "ping", "NOPE"][random(9)];
  const args = Array.from({ length: random(4) }, () => {
    const bytes = new Uint8Array(random(10) === 0 ? random(5_000) : random(12));
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = random(3) === 0 ? INTERESTING[random(INTERESTING.length)] : 0x61 + random(26);
    }
    return bytes;
  });
  switch (random(10)) {
    case 0:
      return ascii(["*0\r\n", "*-1\r\n", "\r\n", "\n"][random(4)]);
    case 1:
      return Uint8Array.from(
        { length: random(100) },
        () => INTERESTING[random(INTERESTING.length)],
      );
    case 2:
    case 3:
      // Inline; the arguments may hold quotes and NULs, which the server must cope with too.
      return ascii(
        [name, ...args.map((a) => String.fromCharCode(...a.subarray(0, 50)))].join(" ") + "\r\n",
      );
    default:
      return encodeCommand([name, ...args]);
  }
}

/** Damages a frame in one to three places: bit flips, inserted, deleted and changed bytes. */
function mutate(random: (n: number) => number, frame: Uint8Array): Uint8Array {
  const bytes = [...frame];
  for (let n = 1 + random(3); n > 0; n--) {
    const at = random(bytes.length + 1);
    switch (random(5)) {
      case 0:
        if (at < bytes.length) bytes[at] ^= 1 << random(8);
        break;
      case 1:
        bytes.splice(at, 0, INTERESTING[random(INTERESTING.length)]);
        break;
      case 2:
        bytes.splice(at, 1 + random(3));
        break;
      case 3: {
        const digit = bytes.findIndex((b, i) => i >= at && b >= 0x30 && b <= 0x39);
        if (digit >= 0) bytes[digit] = ascii("0123456789-")[random(11)];
        break;
      }
      default:
        if (at < bytes.length) bytes[at] = random(256);
    }
  }
  return Uint8Array.from(bytes);
}

/** Is this the error of writing to a connection the server has already closed? */
function isClosedByPeer(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.NotConnected;
}

Deno.test("lab 1 server survives thousands of random and mutated frames and keeps answering PING", async () => {
  const seed = chooseSeed();
  const random = generator(seed);
  const context = (what: string) => `${what} (CACHELAB_FUZZ_SEED=${seed})`;
  await using server = await startLabServer("labs/01-single-client/server.ts");
  const started = Date.now();
  let frames = 0;
  for (let c = 0; c < CONNECTIONS && Date.now() - started < TIME_BUDGET_MS; c++) {
    {
      await using client = await RawClient.connect(server.addr);
      try {
        // The frames go out in random pieces, so frame and write boundaries rarely agree.
        for (let f = 0; f < FRAMES_PER_CONNECTION; f++, frames++) {
          const frame = randomFrame(random);
          const bytes = random(MUTATE_ONE_IN) === 0 ? mutate(random, frame) : frame;
          const cut = random(bytes.length + 1);
          await client.send(bytes.subarray(0, cut));
          await client.send(bytes.subarray(cut));
        }
        await client.closeWrite();
      } catch (error) {
        // The server may close the connection after a protocol error while we are still sending.
        if (!isClosedByPeer(error)) throw error;
      }
      // Having read end of stream (or sent a protocol error), the server must close its side.
      await client.expectClosed(5_000).catch((error) => {
        throw new assert.AssertionError({ message: context(`connection ${c}: ${error.message}`) });
      });
    }
    // Lab 1 serves one client at a time, so this is answered only once the last one is gone.
    await using probe = await RawClient.connect(server.addr);
    await probe.send("*1\r\n$4\r\nPING\r\n");
    await probe.expect("+PONG\r\n").catch((error) => {
      throw new assert.AssertionError({
        message: context(`after connection ${c}: ${error.message}`),
      });
    });
  }
  assert.ok(frames >= 1_000, context(`only ${frames} frames were sent in the time budget`));
  // Protocol errors are logged, which is expected; a handler or connection that threw is not.
  const unexpected = server.log().split("\n").filter((line) => line.includes("failed: "));
  assert.deepEqual(unexpected, [], context("the server logged unexpected exceptions"));
  await using last = await RawClient.connect(server.addr);
  assert.deepEqual(await last.call("ECHO", "still here"), "still here");
});
