/**
 * Lab 3's own black-box checks, one group per lesson step that has code to write: what
 * `deno task check lab3 --step K` runs before lab 2's suite comes back through the channel.
 *
 * Lab 2's checks through the channel say only that something broke ("the connection closed"). These
 * say which step broke and name the likely mistake, from the checker's own view of the channel: a
 * handshake that fails points at the session keys or the Finished MAC (step 2), as does a server
 * that answers a malformed ClientHello or trusts a wrong ClientFinished; a record the checker
 * cannot open, or one of its own the server cannot, points at sealing and opening, and a replayed
 * record that runs again at the sequence check (step 4); an AUTH that lets a wrong password in
 * points at the comparison (step 6).
 *
 * The connection they get from their context runs the secure handshake (`secureRawConnect`), so
 * `ctx.connect()` itself is the handshake.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { generateKeyPairSync } from "node:crypto";
import { connectOptions, RawClient } from "../../shared/testing/raw_client.ts";
import type { StepContext, SuiteStep } from "../../shared/testing/suite.ts";
import { type Transport, writeAll } from "../../shared/transport.ts";
import { bulk, command } from "../01-single-client/suite.ts";
import { SUITE_PASSWORD } from "./auth_suite.ts";
import { connectSecure, HandshakeError, MAGIC } from "./channel/mod.ts";

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs the handshake, and on failure says what most often makes it fail. */
async function handshake(ctx: StepContext): Promise<RawClient> {
  try {
    return await ctx.connect();
  } catch (error) {
    const likely = error instanceof HandshakeError && error.reason === "bad-finished"
      ? `The server's Finished MAC is not the one the checker computed, so the two sides did ` +
        `not derive the same keys, or the server MACs the wrong bytes. Likely a wrong HKDF ` +
        `label or salt in deriveKeys() (the labels are exactly "cachelab v1 c2s key", ` +
        `"cachelab v1 s2c key", "cachelab v1 c2s finished" and "cachelab v1 s2c finished"; ` +
        `the salt is the transcript hash), or finishedMessage() MACing something other than ` +
        `SHA-256(ClientHello | ServerHello) with the s2c finished key.`
      : `If your server's log says "Not implemented yet: lesson step 2", write what it names ` +
        `in channel/handshake.ts: deriveKeys() (HKDF-SHA256 over the shared secret, salted ` +
        `with the transcript hash) and finishedMessage() (type 0x03, length 32, the HMAC).`;
    throw new Error(`The secure handshake did not complete: ${message(error)}\n${likely}`);
  }
}

/**
 * Sends a command through the channel and expects `expected`, explaining a failure by step 4.
 * Which reply fails tells the likely mistake apart: a header or AAD that does not match fails the
 * very first record, a nonce not built from the sequence number only the second and later ones
 * (the first record's sequence number is 0, the same as a constant nonce's).
 */
async function exchange(
  c: RawClient,
  args: string[],
  expected: string,
  replyNumber: number,
): Promise<void> {
  await c.send(command(...args));
  try {
    await c.expect(expected);
  } catch (error) {
    const likely = replyNumber === 1
      ? `The very first reply failed: likely an AAD mismatch: the header (length, then sequence ` +
        `number) is not written first, or seal() and open() do not both pass exactly those 8 ` +
        `header bytes as the associated data.`
      : `Reply ${replyNumber} failed after earlier ones worked: likely nonce reuse: the nonce ` +
        `is not built from each record's own sequence number, in seal() or in open() (the ` +
        `first record's number is 0, the same as a constant nonce's).`;
    throw new Error(
      `${message(error)}\n` +
        `The handshake worked, so the keys are right; the records are not. If your server's log ` +
        `says "Not implemented yet: lesson step 4", write seal() and open() in ` +
        `channel/records.ts. A server that cannot open the checker's records closes the ` +
        `connection and logs why. ${likely}`,
    );
  }
}

/**
 * A connection that keeps a copy of what the checker's side of the channel writes, once asked to:
 * the sealed records, as an attacker on the wire would see them, ready to be sent again.
 */
class RecordingTransport implements Transport {
  readonly conn: Deno.Conn;
  recording = false;
  written: Uint8Array[] = [];

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.conn.read(buffer);
  }

  async write(data: Uint8Array): Promise<number> {
    const n = await this.conn.write(data);
    if (this.recording) this.written.push(data.slice(0, n));
    return n;
  }

  close(): void {
    this.conn.close();
  }
}

/** How long a server that checks the client's Finished may take to say it is wrong. */
const VERDICT_WAIT_MS = 2000;

/**
 * A connection whose client side sends its Finished message with one bit flipped, as a client that
 * derived other keys, or an attacker who wants in without them, would.
 */
class WrongFinishedTransport implements Transport {
  readonly conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  read(buffer: Uint8Array): Promise<number | null> {
    return this.conn.read(buffer);
  }

  write(data: Uint8Array): Promise<number> {
    // The client's Finished is the one 35-byte message of type 0x03 it sends.
    if (data.length === 35 && data[0] === 0x03) {
      const wrong = data.slice();
      wrong[34] ^= 1;
      return this.conn.write(wrong);
    }
    return this.conn.write(data);
  }

  close(): void {
    this.conn.close();
  }
}

/**
 * A ClientHello whose count byte announces 3 record formats while 5 bytes follow it: a body the
 * server must refuse, as it cannot tell where the message ends. Everything else in it is genuine
 * (a real X25519 key), so a server that does not check the body answers it.
 */
function malformedClientHello(): Uint8Array {
  const jwk = generateKeyPairSync("x25519").publicKey.export({ format: "jwk" });
  const key = Buffer.from(jwk.x ?? "", "base64url");
  const body = new Uint8Array(69 + 5);
  body.set(key, 0);
  crypto.getRandomValues(body.subarray(32, 64));
  new DataView(body.buffer).setUint32(64, 16 * 1024);
  body.set([3, 0x01, 0x02, 0x03, 0x01, 0x02], 68);
  const hello = new Uint8Array(MAGIC.length + 3 + body.length);
  hello.set(MAGIC, 0);
  hello[MAGIC.length] = 0x01;
  new DataView(hello.buffer).setUint16(MAGIC.length + 1, body.length);
  hello.set(body, MAGIC.length + 3);
  return hello;
}

/** Lab 3's steps, in lesson order. */
export const lab3Steps: readonly SuiteStep[] = [
  {
    name: "the secure handshake completes: both sides derive the same session keys",
    redis: false,
    async run(ctx) {
      await handshake(ctx);
    },
  },
  {
    name: "a malformed ClientHello is refused: the server answers no ServerHello",
    redis: false,
    async run(ctx) {
      const conn = await Deno.connect(connectOptions(ctx.addr));
      const c = RawClient.over(conn);
      try {
        await c.send(malformedClientHello());
        // A server that refuses it closes (an alert would do too); one that does not answers.
        const first = await c.readExactly(1).catch(() => undefined);
        if (first?.[0] === 0x02) {
          throw new Error(
            "The server answered a ClientHello whose count byte announces 3 record formats " +
              "while 5 bytes follow with a ServerHello. Refuse a ClientHello whose body is not " +
              "exactly 69 bytes plus the 1 to 8 formats its count byte announces " +
              "(parseClientHello() in channel/handshake.ts): a server that guesses where a " +
              "message ends reads the rest of the stream wrong.",
          );
        }
      } finally {
        await c.close();
      }
    },
  },
  {
    name: "a client whose Finished MAC is wrong is refused before any command runs",
    redis: false,
    async run(ctx) {
      const conn = await Deno.connect(connectOptions(ctx.addr));
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        // The client does not wait for the server's verdict on its Finished. The verdict comes
        // next, outside any record, so it is read from the socket itself: a server that checks
        // sends an alert and closes at once; one that does not waits, silent, for records.
        await connectSecure(new WrongFinishedTransport(conn), { verifyServerKey: () => {} });
        const silent = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), VERDICT_WAIT_MS);
        });
        const answer = conn.read(new Uint8Array(512)).then(() => false, () => false);
        if (await Promise.race([answer, silent])) {
          throw new Error(
            `The server still waits for records ${VERDICT_WAIT_MS} ms after a client sent a ` +
              "Finished MAC that is wrong: it took the client on trust. Before reading any " +
              "record, check the client's Finished: HMAC-SHA256 with the c2s finished key over " +
              "SHA-256(ClientHello | ServerHello | ServerFinished), compared in constant time " +
              "(serverHandshake() in channel/handshake.ts); on a mismatch, send an alert and " +
              "end the handshake. Without it, nothing proves the client holds the keys.",
          );
        }
      } finally {
        clearTimeout(timer);
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
    },
  },
  {
    name: "records: commands and replies cross the channel, each record under its own nonce",
    redis: false,
    async run(ctx) {
      const c = await handshake(ctx);
      const key = ctx.key();
      // Several records each way: a nonce reused for a second record fails from the second on.
      await exchange(c, ["PING"], "+PONG\r\n", 1);
      await exchange(c, ["SET", key, "sealed"], "+OK\r\n", 2);
      await exchange(c, ["GET", key], bulk("sealed"), 3);
      await exchange(c, ["ECHO", "x".repeat(40_000)], bulk("x".repeat(40_000)), 4);
      await exchange(c, ["PING"], "+PONG\r\n", 5);
    },
  },
  {
    name: "a replayed record ends the connection: the command does not run twice",
    redis: false,
    async run(ctx) {
      const key = ctx.key();
      const transport = new RecordingTransport(await Deno.connect(connectOptions(ctx.addr)));
      let client: RawClient | undefined;
      try {
        // Which key the server shows does not matter here: the check is about its records.
        client = RawClient.over(await connectSecure(transport, { verifyServerKey: () => {} }));
        transport.recording = true;
        await client.send(command("INCR", key));
        await client.expect(":1\r\n");
        transport.recording = false;
        // The very bytes of the INCR record, sent again as a man in the middle would.
        for (const bytes of transport.written) await writeAll(transport, bytes);
        const after = await client.expectClosed().catch(() => undefined);
        if (after === undefined || after.length > 0) {
          throw new Error(
            "No replay refusal: a copy of a record already received was accepted (or answered). " +
              "After opening a record, the server must check that its sequence number is the " +
              "next one expected (channel/channel.ts), and end the connection if not. " +
              "Otherwise whoever is on the wire can run any command again, such as this INCR.",
          );
        }
      } finally {
        await client?.close();
        try {
          transport.close();
        } catch {
          // closed with the client already
        }
      }
      const check = await handshake(ctx);
      await exchange(check, ["GET", key], bulk("1"), 1);
    },
  },
  {
    name: "AUTH with --requirepass: nothing runs before it, a wrong password is refused",
    redis: false,
    flags: ["--requirepass", SUITE_PASSWORD],
    async run(ctx) {
      const c = await handshake(ctx);
      await c.send(command("PING"));
      try {
        await c.expect("-NOAUTH Authentication required.\r\n");
      } catch (error) {
        throw new Error(
          `${message(error)}\nStarted with --requirepass, the server must refuse every command ` +
            `before AUTH with NOAUTH.`,
        );
      }
      for (const wrong of ["wrong", SUITE_PASSWORD.slice(0, -1), `${SUITE_PASSWORD}x`, ""]) {
        await c.send(command("AUTH", wrong));
        try {
          await c.expect("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
        } catch (error) {
          throw new Error(
            `${message(error)}\nAUTH ${JSON.stringify(wrong)} must be refused: the password is ` +
              `${JSON.stringify(SUITE_PASSWORD)}. If your server's log says "Not implemented ` +
              `yet: lesson step 6", write the comparison in auth.ts; if AUTH accepted it, the ` +
              `comparison lets a wrong password in (compare the SHA-256 digests of both with ` +
              `timingSafeEqual, all 32 bytes).`,
          );
        }
      }
      await c.send(command("PING"));
      await c.expect("-NOAUTH Authentication required.\r\n");
      await c.send(command("AUTH", SUITE_PASSWORD));
      await c.expect("+OK\r\n");
      await c.send(command("PING"));
      await c.expect("+PONG\r\n");
      // Past the 16 KiB a client may send before AUTH: the limits must be lifted with it.
      const key = ctx.key();
      const big = "v".repeat(20_000);
      await c.send(command("SET", key, big));
      try {
        await c.expect("+OK\r\n");
      } catch (error) {
        throw new Error(
          `${message(error)}\nAfter AUTH, a 20,000-byte value must be accepted: the limits of a ` +
            `client that has not authenticated (16 KiB an argument) end with a successful AUTH ` +
            `(login() in auth.ts: session.requestLimits.unauthenticated = false).`,
        );
      }
    },
  },
];
