/**
 * The secure channel over real sockets: round trips, what an eavesdropper sees, and every attack
 * the lab promises to catch — each must end that connection with the right reason while the
 * server goes on serving everyone else.
 */

import assert from "node:assert/strict";
import { writeAll } from "../../../shared/transport.ts";
import {
  connectClient,
  readExactly,
  startEchoServer,
  startRelay,
  TamperingTransport,
  type WriteTamper,
} from "./channel_testing.ts";
import { ChannelError, HandshakeError, RecordError, ServerKeyRejectedError } from "./errors.ts";
import { type CipherName, MAGIC, PLAINTEXT_CLIENT_REPLY } from "./handshake.ts";
import { generateIdentity } from "./identity.ts";
import { pinnedFingerprint } from "./known_hosts.ts";
import { acceptSecure, connectSecure, type SecureChannel } from "./channel.ts";
import { AES_GCM_RECORD_LIMIT, RECORD_LIMIT, recordLimitFor } from "./records.ts";

const identity = generateIdentity();
const trustServer = { verifyServerKey: pinnedFingerprint(identity.fingerprint) };
const CIPHERS: CipherName[] = ["aes-256-gcm", "chacha20-poly1305", "fernet"];
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Sends `text` and checks the echo comes back intact. */
async function roundTrip(channel: SecureChannel, text: string): Promise<void> {
  await writeAll(channel, encode(text));
  assert.equal(decode(await readExactly(channel, encode(text).length)), text);
}

/** Checks a connection ended with a given error class and reason. */
function assertEndedWith(outcome: unknown, type: typeof ChannelError, reason: string): void {
  assert.ok(outcome instanceof type, `expected a ${type.name} (${reason}), got ${outcome}`);
  assert.equal((outcome as ChannelError).reason, reason, String(outcome));
}

/** Reads until the channel fails or ends; returns what it threw, or "closed". */
async function readUntilEnd(channel: SecureChannel): Promise<unknown> {
  const buffer = new Uint8Array(1024);
  try {
    while ((await channel.read(buffer)) !== null) { /* keep reading */ }
    return "closed";
  } catch (error) {
    return error;
  }
}

for (const cipher of CIPHERS) {
  Deno.test(`${cipher}: a RESP command and its echo round-trip through the channel`, async () => {
    await using server = startEchoServer({ identity, cipher });
    const channel = await connectClient(server.port, trustServer);
    try {
      assert.equal(channel.cipher, cipher);
      assert.equal(channel.fingerprint, identity.fingerprint);
      assert.deepEqual(channel.serverPublicKey, identity.publicKey);
      await roundTrip(channel, "*3\r\n$3\r\nSET\r\n$4\r\nname\r\n$5\r\nAlice\r\n");
      await roundTrip(channel, "PING\r\n");
    } finally {
      channel.close();
    }
    assert.equal(await server.outcome(0), "closed");
  });

  Deno.test(`${cipher}: a write bigger than a record is split, and reads of any size reassemble it`, async () => {
    await using server = startEchoServer({ identity, cipher });
    const channel = await connectClient(server.port, { ...trustServer, maxRecordSize: 4096 });
    try {
      const big = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff);
      const [, echoed] = await Promise.all([
        writeAll(channel, big),
        readExactly(channel, big.length),
      ]);
      assert.deepEqual(echoed, big);
      // Tiny reads: a record's plaintext is handed out across many calls.
      await writeAll(channel, encode("0123456789"));
      const small = new Uint8Array(3);
      let text = "";
      while (text.length < 10) {
        const n = await channel.read(small);
        assert.ok(n !== null && n <= 3);
        text += decode(small.subarray(0, n));
      }
      assert.equal(text, "0123456789");
    } finally {
      channel.close();
    }
  });

  Deno.test(`${cipher}: a record bigger than the read buffer is reassembled`, async () => {
    await using server = startEchoServer({ identity, cipher, maxRecordSize: 1 << 20 });
    const channel = await connectClient(server.port, { ...trustServer, maxRecordSize: 1 << 20 });
    try {
      const big = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 13) & 0xff);
      const [, echoed] = await Promise.all([
        writeAll(channel, big),
        readExactly(channel, big.length),
      ]);
      assert.deepEqual(echoed, big);
      await roundTrip(channel, "PING\r\n");
    } finally {
      channel.close();
    }
  });

  Deno.test(`${cipher}: writes started together leave in order`, async () => {
    await using server = startEchoServer({ identity, cipher });
    const channel = await connectClient(server.port, trustServer);
    try {
      const parts = Array.from({ length: 50 }, (_, i) => `part ${i};`);
      const reading = readExactly(channel, encode(parts.join("")).length);
      await Promise.all(parts.map((part) => channel.write(encode(part))));
      assert.equal(decode(await reading), parts.join(""));
    } finally {
      channel.close();
    }
  });

  Deno.test(`${cipher}: an eavesdropper between client and server sees no key or value`, async () => {
    await using server = startEchoServer({ identity, cipher });
    await using relay = startRelay(server.port);
    const channel = await connectClient(relay.port, trustServer);
    const secretKey = "account:4711:password";
    const secretValue = "hunter2-correct-horse-battery-staple";
    try {
      await roundTrip(
        channel,
        `*3\r\n$3\r\nSET\r\n$21\r\n${secretKey}\r\n$36\r\n${secretValue}\r\n`,
      );
      await roundTrip(channel, `AUTH ${secretValue}\r\n`);
    } finally {
      channel.close();
    }
    await server.outcome(0);
    const upstream = relay.toServer();
    const downstream = relay.toClient();
    // The capture is real: it holds the handshake's magic, in the clear as designed.
    assert.deepEqual(upstream.subarray(0, MAGIC.length), MAGIC);
    for (
      const [name, bytes] of [["client to server", upstream], ["server to client", downstream]]
    ) {
      const seen = new TextDecoder("latin1").decode(bytes as Uint8Array);
      // Whole plaintext fragments, not bare words: Fernet's base64 text, or any random bytes,
      // may hold a short word such as "SET" by chance, but never a 10-byte run of RESP.
      for (const secret of [secretKey, secretValue, "$3\r\nSET\r\n", "AUTH hunter2"]) {
        assert.ok(!seen.includes(secret), `${name} carries "${secret}" in the clear`);
      }
    }
  });
}

/** Flips one bit of a record's body: in the AEAD's ciphertext, or one base64 letter of a token. */
function corrupt(cipher: CipherName, record: Uint8Array): Uint8Array {
  if (cipher === "fernet") record[60] = record[60] === 0x41 ? 0x42 : 0x41;
  else record[10] ^= 0x01;
  return record;
}

/** Writes 0 and 1 are the client's handshake; its first record is write 2. */
const FIRST_RECORD = 2;

interface Attack {
  name: string;
  reason: string;
  /** Tampers with the client's writes. */
  tamper: (cipher: CipherName) => WriteTamper;
  /** What the client sends; the tampering applies to the wire bytes of these. */
  send: string[];
  /** Closes the client's side after sending, for attacks that end the stream. */
  closeAfter?: boolean;
}

const attacks: Attack[] = [
  {
    name: "a flipped bit in a record",
    reason: "bad-record-mac",
    tamper: (cipher) => (data, i) => [i === FIRST_RECORD ? corrupt(cipher, data) : data],
    send: ["GET balance\r\n"],
  },
  {
    name: "a record sent twice (replay)",
    reason: "replayed-record",
    tamper: () => (data, i) => i === FIRST_RECORD ? [data, data] : [data],
    send: ["INCRBY balance 100\r\n"],
  },
  {
    name: "two records swapped (reorder)",
    reason: "reordered-record",
    tamper: () => {
      let held: Uint8Array | undefined;
      return (data, i) => {
        if (i === FIRST_RECORD) {
          held = data;
          return [];
        }
        return i === FIRST_RECORD + 1 && held !== undefined ? [data, held] : [data];
      };
    },
    send: ["SET a 1\r\n", "SET b 2\r\n"],
  },
  {
    name: "a stream cut in the middle of a record (truncation)",
    reason: "truncated-record",
    tamper: () => (data, i) => [i === FIRST_RECORD ? data.subarray(0, data.length - 5) : data],
    send: ["SET a 1\r\n"],
    closeAfter: true,
  },
  {
    name: "a header announcing a 2 GB record",
    reason: "record-too-large",
    tamper: () => (data, i) =>
      i === FIRST_RECORD ? [new Uint8Array([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0])] : [data],
    send: ["PING\r\n"],
  },
];

for (const cipher of CIPHERS) {
  for (const attack of attacks) {
    Deno.test(`${cipher}: ${attack.name} ends that connection (${attack.reason}); others carry on`, async () => {
      await using server = startEchoServer({ identity, cipher });
      // A bystander connected before the attack, and used after it.
      const bystander = await connectClient(server.port, trustServer);
      const victim = await connectClient(
        server.port,
        trustServer,
        (conn) => new TamperingTransport(conn, attack.tamper(cipher)),
      );
      try {
        for (const text of attack.send) await victim.write(encode(text));
        if (attack.closeAfter) victim.close();
        assertEndedWith(await server.outcome(1), RecordError, attack.reason);
        // The server dropped the connection: the victim's next read ends, not hangs.
        if (!attack.closeAfter) {
          const end = await readUntilEnd(victim);
          assert.ok(end === "closed" || end instanceof Error, String(end));
        }
        await roundTrip(bystander, "PING\r\n");
      } finally {
        bystander.close();
        victim.close();
      }
    });
  }

  Deno.test(`${cipher}: the client refuses a record from the server with a flipped bit`, async () => {
    await using server = startEchoServer({
      identity,
      cipher,
      // The server's write 0 is its handshake; write 1 is its first record.
      wrap: (conn) =>
        new TamperingTransport(conn, (data, i) => [i === 1 ? corrupt(cipher, data) : data]),
    });
    const channel = await connectClient(server.port, trustServer);
    try {
      await channel.write(encode("GET balance\r\n"));
      const error = await readUntilEnd(channel);
      assertEndedWith(error, RecordError, "bad-record-mac");
      // The channel stays failed: later calls throw the same error.
      await assert.rejects(channel.read(new Uint8Array(10)), (e) => e === error);
      await assert.rejects(channel.write(encode("PING\r\n")), (e) => e === error);
    } finally {
      channel.close();
    }
  });
}

Deno.test("a record tampered in its header (the sequence number) fails authentication", async () => {
  await using server = startEchoServer({ identity });
  const channel = await connectClient(
    server.port,
    trustServer,
    (conn) =>
      new TamperingTransport(conn, (data, i) => {
        if (i === FIRST_RECORD) data[7] ^= 0x01;
        return [data];
      }),
  );
  try {
    await channel.write(encode("PING\r\n"));
    assertEndedWith(await server.outcome(0), RecordError, "bad-record-mac");
  } finally {
    channel.close();
  }
});

Deno.test("a direction that reaches its record limit refuses to send rather than wrap", async () => {
  await using server = startEchoServer({ identity });
  const channel = await connectClient(server.port, { ...trustServer, recordLimit: 2 });
  try {
    await roundTrip(channel, "one\r\n");
    await roundTrip(channel, "two\r\n");
    await assert.rejects(channel.write(encode("three\r\n")), (error) => {
      assertEndedWith(error, RecordError, "sequence-exhausted");
      return true;
    });
  } finally {
    channel.close();
  }
});

Deno.test("a server that reaches its record limit closes, and says why, rather than seal one more", async () => {
  await using server = startEchoServer({ identity, recordLimit: 2 });
  // Small records towards the client: the echo of one bigger record needs more than the limit.
  const channel = await connectClient(server.port, { ...trustServer, maxRecordSize: 4096 });
  try {
    await writeAll(channel, new Uint8Array(10_000));
    assert.equal(await readUntilEnd(channel), "closed");
    const outcome = await server.outcome(0);
    assertEndedWith(outcome, RecordError, "sequence-exhausted");
    assert.match(
      String(outcome),
      /has sent 0 records and may send at most 2 under one aes-256-gcm key; closing/,
    );
  } finally {
    channel.close();
  }
});

Deno.test("a record past the receiver's limit is refused before it is opened", async () => {
  // The client would send any number; the server accepts two records under the client's key.
  await using server = startEchoServer({ identity, recordLimit: 2 });
  const channel = await connectClient(server.port, trustServer);
  try {
    await writeAll(channel, encode("one\r\n"));
    await writeAll(channel, encode("two\r\n"));
    await writeAll(channel, encode("three\r\n"));
    const outcome = await server.outcome(0);
    assertEndedWith(outcome, RecordError, "sequence-exhausted");
    assert.match(String(outcome), /The peer sent a record past the 2 records/);
  } finally {
    channel.close();
  }
});

Deno.test("each cipher's record limit: TLS 1.3's bound for AES-GCM, the counter's for the others", async () => {
  assert.equal(AES_GCM_RECORD_LIMIT, 23_726_566);
  const expected: Record<CipherName, number> = {
    "aes-256-gcm": AES_GCM_RECORD_LIMIT,
    "chacha20-poly1305": RECORD_LIMIT,
    fernet: RECORD_LIMIT,
  };
  for (const cipher of CIPHERS) {
    assert.equal(recordLimitFor(cipher), expected[cipher]);
    await using server = startEchoServer({ identity, cipher });
    // Asking for more than the cipher allows gets the cipher's limit; asking for fewer is kept.
    for (
      const [asked, limit] of [[2 ** 40, expected[cipher]], [5, 5], [undefined, expected[cipher]]]
    ) {
      const channel = await connectClient(server.port, { ...trustServer, recordLimit: asked });
      assert.equal(channel.recordLimit, limit, `${cipher}, asked for ${asked}`);
      channel.close();
    }
  }
});

Deno.test("a plaintext RESP client gets a readable error, then the connection closes", async () => {
  await using server = startEchoServer({ identity });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await writeAll(conn, encode("*1\r\n$4\r\nPING\r\n"));
    assert.equal(
      decode(await readExactly(conn, PLAINTEXT_CLIENT_REPLY.length)),
      "-ERR this server only speaks the Cache Lab secure channel; " +
        "connect with deno task lab3:client\r\n",
    );
    assert.equal(await conn.read(new Uint8Array(16)), null);
  } finally {
    conn.close();
  }
  const outcome = await server.outcome(0);
  assertEndedWith(outcome, HandshakeError, "plaintext-client");
  assert.match(String(outcome), /sent "\*1\\r\\n"/);
});

Deno.test("an inline plaintext command is refused the same way, and never logged in full", async () => {
  await using server = startEchoServer({ identity });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await writeAll(conn, encode("AUTH hunter2\r\n"));
    assert.deepEqual(
      await readExactly(conn, PLAINTEXT_CLIENT_REPLY.length),
      PLAINTEXT_CLIENT_REPLY,
    );
  } finally {
    conn.close();
  }
  const outcome = await server.outcome(0);
  assertEndedWith(outcome, HandshakeError, "plaintext-client");
  assert.ok(!String(outcome).includes("hunter2"), String(outcome));
});

Deno.test("a handshake that stalls times out on the server, which goes on serving others", async () => {
  await using server = startEchoServer({ identity, handshakeTimeoutMs: 200 });
  const staller = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    // The magic and half a ClientHello, then silence.
    await writeAll(staller, new Uint8Array([...MAGIC, 0x01, 0x00]));
    const healthy = await connectClient(server.port, trustServer);
    try {
      assertEndedWith(await server.outcome(0), HandshakeError, "handshake-timeout");
      await roundTrip(healthy, "PING\r\n");
    } finally {
      healthy.close();
    }
    // The server closed the stalled connection.
    assert.equal(await staller.read(new Uint8Array(16)), null);
  } finally {
    staller.close();
  }
});

Deno.test("a client times out on a server that never answers the handshake", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const silent = listener.accept();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  try {
    await assert.rejects(
      connectSecure(conn, { ...trustServer, handshakeTimeoutMs: 200 }),
      (error) => {
        assertEndedWith(error, HandshakeError, "handshake-timeout");
        return true;
      },
    );
  } finally {
    (await silent).close();
  }
});

Deno.test("a client pointed at a plaintext server says what answered", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // What lab 2 or redis-server answer to the magic's first line, `CLAB/1`.
  const plaintextServer = (async () => {
    const conn = await listener.accept();
    await readExactly(conn, MAGIC.length);
    await writeAll(conn, encode("-ERR unknown command 'CLAB/1', with args beginning with: \r\n"));
    return conn;
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  try {
    await assert.rejects(connectSecure(conn, trustServer), (error) => {
      assertEndedWith(error, HandshakeError, "not-secure-server");
      assert.match(String(error), /replied "-ERR unknown command 'CLAB\/1'/);
      return true;
    });
  } finally {
    (await plaintextServer).close();
  }
});

Deno.test("a client asking for another protocol version gets an alert it can read", async () => {
  await using server = startEchoServer({ identity });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await writeAll(conn, encode("CLAB/2\r\n"));
    const header = await readExactly(conn, 3);
    assert.equal(header[0], 0x04, "an Alert message");
    const text = decode(await readExactly(conn, header[2]));
    assert.match(text, /^unsupported version "2\\r\\n": this server speaks CLAB\/1$/);
  } finally {
    conn.close();
  }
  assertEndedWith(await server.outcome(0), HandshakeError, "unsupported-version");
});

Deno.test("a client that offers no format the server uses is told so by an alert", async () => {
  await using server = startEchoServer({ identity, cipher: "aes-256-gcm" });
  await assert.rejects(
    connectClient(server.port, { ...trustServer, ciphers: ["fernet"] }),
    (error) => {
      assertEndedWith(error, HandshakeError, "peer-alert");
      assert.match(String(error), /no common record format: the client offers fernet/);
      return true;
    },
  );
  assertEndedWith(await server.outcome(0), HandshakeError, "no-common-cipher");
});

Deno.test("the server's format is the one used, whatever the client prefers", async () => {
  await using server = startEchoServer({ identity, cipher: "fernet" });
  const channel = await connectClient(server.port, {
    ...trustServer,
    ciphers: ["aes-256-gcm", "fernet"],
  });
  try {
    assert.equal(channel.cipher, "fernet");
    await roundTrip(channel, "PING\r\n");
  } finally {
    channel.close();
  }
});

/**
 * A man in the middle: it accepts the client as if it were the server (with its own identity),
 * and connects to the real server as a client. Each side's handshake completes; only the
 * identity key can give it away.
 */
function startImpostor(realPort: number): {
  port: number;
  outcome: Promise<unknown>;
  close: () => void;
} {
  const impostorIdentity = generateIdentity();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const outcome = (async () => {
    const fromClient = await listener.accept();
    const toServer = await Deno.connect({ hostname: "127.0.0.1", port: realPort });
    try {
      // The impostor trusts anything; it is the client who must not.
      const upstream = await connectSecure(toServer, { verifyServerKey: () => {} });
      upstream.close();
      await acceptSecure(fromClient, { identity: impostorIdentity });
      return "the client accepted the impostor";
    } catch (error) {
      return error;
    } finally {
      try {
        fromClient.close();
      } catch {
        // closed by the failed handshake
      }
    }
  })();
  return { port: listener.addr.port, outcome, close: () => listener.close() };
}

Deno.test("a man in the middle with its own identity key is refused by a pinned fingerprint", async () => {
  await using server = startEchoServer({ identity });
  const impostor = startImpostor(server.port);
  try {
    await assert.rejects(connectClient(impostor.port, trustServer), (error) => {
      assert.ok(error instanceof ServerKeyRejectedError, String(error));
      assert.equal(error.reason, "server-key-rejected");
      assert.equal(error.expected, identity.fingerprint);
      assert.notEqual(error.actual, identity.fingerprint);
      return true;
    });
    // The client told the impostor why it hung up, before sending anything else.
    const seen = await impostor.outcome;
    assertEndedWith(seen, HandshakeError, "peer-alert");
    assert.match(String(seen), /does not trust this server's identity key/);
  } finally {
    impostor.close();
  }
});

Deno.test("a man in the middle that strips a format from the offer breaks the signature", async () => {
  await using server = startEchoServer({ identity, cipher: "fernet" });
  // Rewrites the ClientHello to offer fernet only: a downgrade attempt. Everything else passes.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relay = (async () => {
    const client = await listener.accept();
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const hello = await readExactly(client, 83);
    assert.deepEqual([...hello.subarray(79, 83)], [3, 0x01, 0x03, 0x02], "gcm, chacha, fernet");
    // Offer fernet only (three times over, so the message keeps its length and stays well-formed).
    hello[80] = hello[81] = 0x02;
    await writeAll(upstream, hello);
    const buffer = new Uint8Array(4096);
    const n = await upstream.read(buffer);
    if (n !== null) await writeAll(client, buffer.subarray(0, n));
    return { client, upstream };
  })();
  try {
    await assert.rejects(connectClient(listener.addr.port, trustServer), (error) => {
      assertEndedWith(error, HandshakeError, "bad-signature");
      return true;
    });
  } finally {
    const { client, upstream } = await relay;
    client.close();
    upstream.close();
  }
  // The server never got a valid Finished: its handshake failed too.
  assert.ok(await server.outcome(0) instanceof HandshakeError);
});

Deno.test("--trace shows each frame in hex before and after encryption", async () => {
  await using server = startEchoServer({ identity });
  const lines: string[] = [];
  const channel = await connectClient(server.port, {
    ...trustServer,
    trace: (line) => lines.push(line),
  });
  try {
    await roundTrip(channel, "AUTH hunter2\r\n");
  } finally {
    channel.close();
  }
  const text = lines.join("\n");
  assert.match(text, /^send handshake: the 8-byte magic and ClientHello, 83 bytes in all$/m);
  assert.match(text, /^ {2}00000000 {2}43 4c 41 42 2f 31 0d 0a {2}01 00 48 .*\|CLAB\/1\.\.\.\.H/m);
  assert.match(text, /^recv handshake: ServerHello, 169 bytes in all$/m);
  assert.match(text, /^server identity key SHA256:\S+, record format aes-256-gcm$/m);
  assert.match(text, /^send record 0: 14 bytes of plaintext$/m);
  assert.match(text, /\|AUTH hunter2\.\.\|/);
  assert.match(
    text,
    /^send record 0 sealed, 38 bytes on the wire \(8 header \+ 14 ciphertext \+ 16 tag\)$/m,
  );
  assert.match(text, /^recv record 0 decrypted: 14 bytes of plaintext$/m);
  // The sealed record's dump is the line after its title: ciphertext, not the password.
  const sealed = lines.findIndex((line) => line.startsWith("send record 0 sealed"));
  assert.ok(!lines[sealed + 1].includes("AUTH") && !lines[sealed + 2].includes("hunter"));
});

/** An alert whose text tries to clear the terminal and to start a line of its own in a log. */
const HOSTILE_ALERT =
  "\x1b[2J\x1b[Hbye\r\n2026-12-02T12:00:00.000Z Client id=1 authenticated as admin";

function alertMessage(text: string): Uint8Array {
  const body = encode(text);
  return Uint8Array.of(0x04, 0, body.length, ...body);
}

function assertEscaped(error: unknown): void {
  assertEndedWith(error, HandshakeError, "peer-alert");
  const message = (error as Error).message;
  const control = [...message].find((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  assert.equal(control, undefined, `control bytes reach the reader: ${message}`);
  assert.ok(message.includes('"\\x1b[2J\\x1b[Hbye\\r\\n2026-12-02T12:00:00.000Z Client'), message);
}

Deno.test("a fake server's alert is shown escaped: it cannot drive the user's terminal", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fake = (async () => {
    const conn = await listener.accept();
    try {
      await readExactly(conn, MAGIC.length + 3);
      await writeAll(conn, alertMessage(HOSTILE_ALERT));
    } finally {
      conn.close();
    }
  })();
  await assert.rejects(connectClient(listener.addr.port, trustServer), (error) => {
    assertEscaped(error);
    return true;
  });
  await fake;
});

Deno.test("a client's alert reaches the server's log escaped: it cannot forge a log line", async () => {
  await using server = startEchoServer({ identity });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await writeAll(conn, MAGIC);
    await writeAll(conn, alertMessage(HOSTILE_ALERT));
    assertEscaped(await server.outcome(0));
  } finally {
    conn.close();
  }
});

/** A Fernet record's token rewritten to a form a lenient decoder reads as the same bytes. */
function rewriteFernetRecord(record: Uint8Array, how: "unpad" | "low-bits"): Uint8Array {
  const token = decode(record.subarray(4));
  const stem = token.replace(/=+$/, "");
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const twin = alphabet[alphabet.indexOf(stem.at(-1) ?? "A") ^ 1];
  const forged = how === "unpad" ? stem : stem.slice(0, -1) + twin + token.slice(stem.length);
  const out = new Uint8Array(4 + forged.length);
  // The length prefix is rewritten to match: it is not authenticated, the token's text must be.
  new DataView(out.buffer).setUint32(0, forged.length);
  out.set(encode(forged), 4);
  return out;
}

for (const how of ["unpad", "low-bits"] as const) {
  Deno.test(`fernet: a token rewritten to decode to the same bytes (${how}) is refused`, async () => {
    await using server = startEchoServer({ identity, cipher: "fernet" });
    const victim = await connectClient(
      server.port,
      trustServer,
      (conn) =>
        new TamperingTransport(conn, (data, i) => [
          i === FIRST_RECORD ? rewriteFernetRecord(data, how) : data,
        ]),
    );
    try {
      // "PING\r\n" and a sequence number: 73 bytes of token, so its text ends in "==".
      await victim.write(encode("PING\r\n"));
      // A server that accepts the forgery would keep the connection open: wait two seconds at most.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const accepted = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("the server accepted the rewritten token"), 2_000);
      });
      const outcome = await Promise.race([server.outcome(0), accepted]);
      clearTimeout(timer);
      assertEndedWith(outcome, RecordError, "malformed-record");
    } finally {
      victim.close();
    }
  });
}
