/**
 * The attacks the secure channel must stop, each made against the real lab 3 server process by a
 * relay in the middle of the wire (`wiretap.ts`): read the traffic, flip a bit, replay a record,
 * reorder two, cut the stream, announce a giant record, impersonate the server, stall the
 * handshake, and talk plaintext. Each time: that connection ends, the server's log names the
 * reason, and the server goes on serving another client. The channel's own unit tests check the
 * same at the level of one function; these check the whole server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { hasProgram, startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { bulk, command } from "../01-single-client/suite.ts";
import {
  acceptSecure,
  type CipherName,
  connectSecure,
  generateIdentity,
  PLAINTEXT_CLIENT_REPLY,
  type SecureChannel,
} from "./channel/mod.ts";
import { writeAll } from "../../shared/transport.ts";
import {
  containsBytes,
  type Lab3Server,
  run,
  startLab3,
  trustOnly,
  waitForLog,
} from "./test_support.ts";
import { type Direction, type TamperResult, Wiretap } from "./wiretap.ts";

/** Reads a big-endian integer of `size` bytes at `offset`. */
function uint(bytes: Uint8Array, offset: number, size: number): number {
  let n = 0;
  for (let i = 0; i < size; i++) n = n * 256 + bytes[offset + i];
  return n;
}

/**
 * Cuts one direction of a secure-channel connection into its messages, from the layouts in
 * `channel/handshake.ts` and `channel/records.ts`: first the handshake messages (`type | length
 * (2) | body`; the client's first one after an 8-byte magic), then records (`length (4) | ...`,
 * plus a 4-byte sequence number in the header for AES-256-GCM).
 */
function channelFramer(cipher: CipherName) {
  return (direction: Direction) => {
    let handshakeMessages = 2; // client: magic + ClientHello, Finished; server: ServerHello, Finished
    let first = true;
    return (buffered: Uint8Array): number => {
      if (handshakeMessages > 0) {
        const skip = first && direction === "client->server" ? 8 : 0;
        if (buffered.length < skip + 3) return 0;
        const size = skip + 3 + uint(buffered, skip + 1, 2);
        if (buffered.length < size) return 0;
        first = false;
        handshakeMessages--;
        return size;
      }
      if (buffered.length < 4) return 0;
      const size = (cipher === "fernet" ? 4 : 8) + uint(buffered, 0, 4);
      return buffered.length >= size ? size : 0;
    };
  };
}

/** Frames from this index on, in one direction, are records; before it, handshake messages. */
const FIRST_RECORD = 2;

/** Connects through the tap to the lab 3 server behind it, trusting that server's key. */
async function connectVia(tap: Wiretap, lab3: Lab3Server): Promise<RawClient> {
  const [hostname, port] = tap.addr.split(":");
  const conn = await Deno.connect({ hostname, port: Number(port) });
  const channel = await connectSecure(conn, { verifyServerKey: trustOnly(lab3.fingerprint) });
  return RawClient.over(channel);
}

/** Another client, straight to the server: the server must still serve it. */
async function assertStillServing(lab3: Lab3Server): Promise<void> {
  await using other = await lab3.connect();
  await other.send(command("PING"));
  await other.expect("+PONG\r\n");
}

/** Starts lab 3 and a tap in front of it that tampers with the client's records. */
async function attack(
  tamper: (record: Uint8Array, index: number) => TamperResult,
  cipher: CipherName = "aes-256-gcm",
) {
  const lab3 = await startLab3(cipher === "fernet" ? ["--cipher", "fernet"] : []);
  const tap = await Wiretap.start(lab3.addr, {
    framer: channelFramer(cipher),
    tamper: (frame, { direction, index }) =>
      direction === "client->server" && index >= FIRST_RECORD
        ? tamper(frame, index - FIRST_RECORD)
        : frame,
  });
  return {
    lab3,
    tap,
    [Symbol.asyncDispose]: async () => {
      await tap.close();
      await lab3[Symbol.asyncDispose]();
    },
  };
}

Deno.test("the wire: lab 2's carries the key, value and password in the clear; lab 3's none", async () => {
  const key = `key-${crypto.randomUUID()}`;
  const value = `value-${crypto.randomUUID()}`;
  const password = `pw-${crypto.randomUUID()}`;
  {
    await using lab2 = await startLabServer("labs/02-threaded/server.ts");
    await using tap = await Wiretap.start(lab2.addr);
    await using c = await RawClient.connect(tap.addr);
    // Lab 2 has no AUTH; what matters is what the wire shows.
    await c.send(command("AUTH", password) + command("SET", key, value) + command("GET", key));
    await c.readReply();
    await c.expect("+OK\r\n" + bulk(value));
    const wire = tap.captured();
    for (const secret of [key, value, password]) {
      assert.ok(containsBytes(wire, secret), `lab 2's wire shows "${secret}"`);
    }
  }
  for (const cipher of ["aes-256-gcm", "fernet"] as const) {
    await using lab3 = await startLab3(["--requirepass", password, "--cipher", cipher]);
    await using tap = await Wiretap.start(lab3.addr);
    await using c = await connectVia(tap, lab3);
    await c.send(command("AUTH", password) + command("SET", key, value) + command("GET", key));
    await c.expect("+OK\r\n+OK\r\n" + bulk(value));
    const wire = tap.captured();
    assert.ok(wire.length > 0, "the tap saw the traffic");
    for (const secret of [key, value, password, "AUTH", "SET"]) {
      assert.ok(!containsBytes(wire, secret), `${cipher}: "${secret}" is readable on the wire`);
    }
  }
});

Deno.test("a flipped bit in a record ends that connection; the log says the record failed authentication", async () => {
  for (const cipher of ["aes-256-gcm", "fernet"] as const) {
    await using a = await attack((record, index) => {
      if (index !== 0) return record;
      const changed = record.slice();
      const at = changed.length - 20; // in the ciphertext (or the token's HMAC), not the header
      if (cipher === "fernet") {
        // A Fernet record is base64url text, and a flipped bit there can leave the alphabet (the
        // token would then be refused as malformed, before its HMAC is checked). Swap the
        // character for another of the alphabet instead: the token decodes, with other bits.
        changed[at] = changed[at] === 0x41 ? 0x42 : 0x41; // "A" or "B"
      } else {
        changed[at] ^= 0x01;
      }
      return changed;
    }, cipher);
    await using c = await connectVia(a.tap, a.lab3);
    await c.send(command("SET", "flipped", "1"));
    assert.equal((await c.expectClosed()).length, 0, "no reply to a tampered record");
    await waitForLog(a.lab3.server, /failed: .*failed authentication/);
    await assertStillServing(a.lab3);
    // The tampered command never ran.
    await using check = await a.lab3.connect();
    await check.send(command("EXISTS", "flipped"));
    await check.expect(":0\r\n");
  }
});

Deno.test("a replayed record ends that connection; the log names the replay", async () => {
  // The attacker keeps a copy of the first record and sends it again in place of the second: a
  // genuine record, at the wrong time. Were it accepted, INCR would run twice.
  let first: Uint8Array | undefined;
  await using a = await attack((record, index) => {
    if (index === 0) first = record;
    return index === 1 && first !== undefined ? first : record;
  });
  await using c = await connectVia(a.tap, a.lab3);
  await c.send(command("INCR", "replayed"));
  await c.expect(":1\r\n");
  await c.send(command("PING"));
  assert.equal((await c.expectClosed()).length, 0, "no reply to a replayed record");
  await waitForLog(a.lab3.server, /failed: .*Record 0 arrived again .*a replay/);
  await assertStillServing(a.lab3);
  await using check = await a.lab3.connect();
  await check.send(command("GET", "replayed"));
  await check.expect(bulk("1"));
});

Deno.test("records swapped in transit end that connection; the log names the reordering", async () => {
  let held: Uint8Array | undefined;
  await using a = await attack((record, index) => {
    if (index === 0) {
      held = record;
      return [];
    }
    return index === 1 && held !== undefined ? [record, held] : record;
  });
  await using c = await connectVia(a.tap, a.lab3);
  await c.send(command("SET", "first", "1"));
  await c.send(command("SET", "second", "2"));
  assert.equal((await c.expectClosed()).length, 0, "no reply to records out of order");
  await waitForLog(a.lab3.server, /failed: .*Record 1 arrived when record 0 was next/);
  await assertStillServing(a.lab3);
});

Deno.test("a stream cut in the middle of a record ends that connection; the log names the truncation", async () => {
  await using a = await attack((record, index) =>
    index === 0 ? { end: [record.subarray(0, record.length - 5)] } : record
  );
  await using c = await connectVia(a.tap, a.lab3);
  await c.send(command("SET", "cut", "1"));
  await c.expectClosed();
  await waitForLog(a.lab3.server, /failed: .*(truncat|middle of a record)/i);
  await assertStillServing(a.lab3);
});

Deno.test("a record header announcing more than the limit is refused before its body arrives", async () => {
  await using a = await attack((record, index) => {
    if (index !== 0) return record;
    const header = record.slice(0, 8);
    new DataView(header.buffer).setUint32(0, 0x7fff_ffff); // 2 GiB, and no body follows
    return header;
  });
  await using c = await connectVia(a.tap, a.lab3);
  await c.send(command("PING"));
  await c.expectClosed();
  await waitForLog(a.lab3.server, /failed: .*announces .* bytes; the most this side accepts/);
  await assertStillServing(a.lab3);
});

/**
 * A man in the middle: answers the handshake with its own identity key, and, if the client goes
 * along, relays the decrypted traffic to the real server, reading every command.
 */
function startImpostor(lab3: Lab3Server) {
  const identity = generateIdentity();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const failures: string[] = [];
  const tasks: Promise<void>[] = [];
  const accepting = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      tasks.push((async () => {
        let victim: SecureChannel | undefined;
        try {
          victim = await acceptSecure(conn, { identity, handshakeTimeoutMs: 2000 });
          const buffer = new Uint8Array(4096);
          const n = await victim.read(buffer);
          if (n !== null) seen.push(new TextDecoder().decode(buffer.subarray(0, n)));
          await writeAll(victim, new TextEncoder().encode("+OK\r\n"));
        } catch (error) {
          failures.push(error instanceof Error ? error.message : String(error));
        } finally {
          try {
            (victim ?? conn).close();
          } catch {
            // closed already
          }
        }
      })());
    }
  })();
  const { port } = listener.addr as Deno.NetAddr;
  let closed = false;
  return {
    addr: `127.0.0.1:${port}`,
    fingerprint: identity.fingerprint,
    seen,
    failures,
    real: lab3.fingerprint,
    [Symbol.asyncDispose]: async () => {
      if (!closed) listener.close();
      closed = true;
      await accepting;
      await Promise.allSettled(tasks);
    },
  };
}

Deno.test("a man in the middle with another key is refused before the client sends anything", async () => {
  await using lab3 = await startLab3();
  await using impostor = startImpostor(lab3);
  const [hostname, port] = impostor.addr.split(":");
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await assert.rejects(
    connectSecure(conn, { verifyServerKey: trustOnly(lab3.fingerprint) }),
    /Untrusted server key/,
  );
  await impostor[Symbol.asyncDispose]();
  assert.deepEqual(impostor.seen, [], "the impostor read nothing");
  assert.equal(impostor.failures.length, 1);
  assert.match(impostor.failures[0], /client ended the handshake|does not trust/);
});

Deno.test("a client that trusts any key hands its commands to the man in the middle", async () => {
  // Why the first connection of trust-on-first-use matters, and why a key that changed is fatal.
  await using lab3 = await startLab3();
  await using impostor = startImpostor(lab3);
  const [hostname, port] = impostor.addr.split(":");
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await using c = RawClient.over(await connectSecure(conn, { verifyServerKey: () => {} }));
  await c.send(command("AUTH", "hunter2"));
  await c.expect("+OK\r\n");
  await c.close();
  await impostor[Symbol.asyncDispose]();
  assert.deepEqual(impostor.seen, [command("AUTH", "hunter2")], "the impostor read the password");
});

Deno.test("a handshake that never finishes is dropped after --handshake-timeout", async () => {
  await using lab3 = await startLab3(["--handshake-timeout", "300", "--maxclients", "2"]);
  await using silent = await RawClient.connect(lab3.addr);
  await using half = await RawClient.connect(lab3.addr);
  await half.send("CLAB/1\r\n\x01"); // the magic and one byte of a ClientHello, then nothing
  // A client whose handshake is pending holds a slot: with both taken, a third is turned away.
  await using third = await RawClient.connect(lab3.addr);
  await third.expect("-ERR max number of clients reached\r\n");
  await silent.expectClosed(3000);
  await half.expectClosed(3000);
  await waitForLog(lab3.server, /refused: .*300 ms/);
  await assertStillServing(lab3);
});

Deno.test("a plaintext client gets a clear RESP error and is never served", async () => {
  await using lab3 = await startLab3();
  for (const request of [command("SET", "plain", "1"), "SET plain 1\r\n"]) {
    await using c = await RawClient.connect(lab3.addr);
    await c.send(request);
    const received = await c.expectClosed();
    assert.deepEqual(received, PLAINTEXT_CLIENT_REPLY);
  }
  await waitForLog(lab3.server, /refused: .*plaintext client/);
  await using check = await lab3.connect();
  await check.send(command("EXISTS", "plain"));
  await check.expect(":0\r\n");
});

Deno.test({
  name: "redis-cli is told the server speaks the secure channel" +
    (hasProgram("redis-cli") ? "" : " (skipped: redis-cli is not installed)"),
  ignore: !hasProgram("redis-cli"),
  async fn() {
    await using lab3 = await startLab3();
    const { stdout, stderr } = await run("redis-cli", ["-p", String(lab3.server.port), "PING"]);
    assert.match(stdout + stderr, /only speaks the Cache Lab secure channel/);
  },
});
