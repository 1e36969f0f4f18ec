/**
 * Lab 3's own black-box checks, one group per lesson step that has code to write: what
 * `deno task check lab3 --step K` runs before lab 2's suite comes back through the channel.
 *
 * Lab 2's checks through the channel say only that something broke ("the connection closed"). These
 * say which step broke and name the likely mistake, from the checker's own view of the channel: a
 * handshake that fails points at the session keys (step 2), a record the checker cannot open or a
 * reply that never comes at sealing (step 4), and an AUTH that lets a wrong password in at the
 * comparison (step 6).
 *
 * The connection they get from their context runs the secure handshake (`secureRawConnect`), so
 * `ctx.connect()` itself is the handshake.
 *
 * @module
 */

import { connectOptions, RawClient } from "../../shared/testing/raw_client.ts";
import type { StepContext, SuiteStep } from "../../shared/testing/suite.ts";
import { type Transport, writeAll } from "../../shared/transport.ts";
import { bulk, command } from "../01-single-client/suite.ts";
import { SUITE_PASSWORD } from "./auth_suite.ts";
import { connectSecure } from "./channel/mod.ts";

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs the handshake, and on failure says what most often makes it fail. */
async function handshake(ctx: StepContext): Promise<RawClient> {
  try {
    return await ctx.connect();
  } catch (error) {
    throw new Error(
      `The secure handshake did not complete: ${message(error)}\n` +
        `If your server's log says "Not implemented yet: lesson step 2", write deriveKeys() in ` +
        `channel/handshake.ts. Otherwise the likely mistake is in the keys: HKDF-SHA256 over the ` +
        `shared secret, salted with the transcript hash, with the labels exactly ` +
        `"cachelab v1 c2s key", "cachelab v1 s2c key", "cachelab v1 c2s finished" and ` +
        `"cachelab v1 s2c finished" (a wrong label or salt makes the Finished MACs disagree).`,
    );
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
      ? `The very first reply failed: likely the header (length, then sequence number, written ` +
        `first) or the AAD (the header, exactly as open() passes it) does not match.`
      : `Reply ${replyNumber} failed after earlier ones worked: likely the nonce is not built ` +
        `from each record's own sequence number (a nonce reused for two records).`;
    throw new Error(
      `${message(error)}\n` +
        `The handshake worked, so the keys are right; the records are not. If your server's log ` +
        `says "Not implemented yet: lesson step 4", write seal() in channel/records.ts. ${likely}`,
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
            "A copy of a record already received was accepted (or answered): the server must " +
              "refuse a record whose sequence number is not the next one expected, and close the " +
              "connection. Otherwise whoever is on the wire can run any command again, such as " +
              "this INCR.",
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
    },
  },
];
