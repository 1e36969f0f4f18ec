/**
 * What a client that has not authenticated can make lab 3 spend, made against the real server
 * process by hostile clients: a record limit of one byte, a pipeline of refused commands, a big
 * reply. Each is refused or cut short, the log says why, and the server goes on serving.
 *
 * @module
 */

import assert from "node:assert/strict";
import { command } from "../01-single-client/suite.ts";
import { ByteReader } from "./channel/byte_reader.ts";
import { HandshakeError } from "./channel/errors.ts";
import { clientHandshake, MIN_RECORD_SIZE_LIMIT } from "./channel/handshake.ts";
import { connectSecure, SEAL_SLICE } from "./channel/mod.ts";
import { generateIdentity } from "./channel/identity.ts";
import { readExactly, startEchoServer } from "./channel/channel_testing.ts";
import { UNAUTHENTICATED_OUTPUT_LIMIT } from "./auth.ts";
import { type Lab3Server, startLab3, trustOnly, waitForLog } from "./test_support.ts";

const PASSWORD = "amplification-test-password";
const NOAUTH = "-NOAUTH Authentication required.\r\n";

async function assertStillServing(lab3: Lab3Server): Promise<void> {
  await using c = await lab3.connect();
  await c.send(command("AUTH", PASSWORD) + command("PING"));
  await c.expect("+OK\r\n+PONG\r\n");
}

Deno.test("a client announcing records of one byte is refused at the handshake, with a reason", async () => {
  await using lab3 = await startLab3(["--requirepass", PASSWORD]);
  const [hostname, port] = lab3.addr.split(":");
  for (const size of [1, MIN_RECORD_SIZE_LIMIT - 1]) {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    try {
      // The handshake itself, not connectSecure(), which would refuse the size before sending it.
      await assert.rejects(
        clientHandshake(conn, new ByteReader(conn), {
          ciphers: ["aes-256-gcm"],
          maxRecordSize: size,
          verifyServerKey: trustOnly(lab3.fingerprint),
        }),
        (error) => {
          assert.ok(error instanceof HandshakeError && error.reason === "peer-alert", `${error}`);
          assert.match(error.message, new RegExp(`record of ${size} bytes, outside 4096\\.\\.`));
          return true;
        },
      );
    } finally {
      conn.close();
    }
  }
  await waitForLog(lab3.server, /refused: The client announces a largest record of 1 bytes/);
  await assertStillServing(lab3);
});

Deno.test("before AUTH, a pipeline earning more than 16 KB of refusals is disconnected", async () => {
  await using lab3 = await startLab3(["--requirepass", PASSWORD]);
  const fits = Math.floor(UNAUTHENTICATED_OUTPUT_LIMIT / NOAUTH.length);
  // Just under the limit: every refusal arrives.
  await using under = await lab3.connect();
  await under.send("PING\r\n".repeat(fits));
  await under.expect(NOAUTH.repeat(fits));
  // Far over it, in one write: the connection is closed. The server reads a quiet client's bytes
  // in small pieces at first (the decoder's buffer starts at 1 KiB and doubles as reads fill it),
  // and the limit is per batch of replies, so the first batches are answered; once a read brings
  // enough refusals to pass 16 KB, the rest are dropped with the connection.
  await using over = await lab3.connect();
  await over.send("PING\r\n".repeat(fits * 16));
  const before = await over.expectClosed();
  assert.ok(before.length < fits * 16 * NOAUTH.length, `${before.length} bytes before the close`);
  await waitForLog(
    lab3.server,
    new RegExp(`closed for overcoming of output buffer limits: \\d+ bytes .*limit 16384`),
  );
  // Once authenticated, the same pipeline is answered in full.
  await using honest = await lab3.connect();
  await honest.send(command("AUTH", PASSWORD) + "PING\r\n".repeat(fits + 1));
  await honest.expect("+OK\r\n" + "+PONG\r\n".repeat(fits + 1));
  await assertStillServing(lab3);
});

Deno.test("a big write is sealed a slice at a time, and other tasks run between slices", async () => {
  const identity = generateIdentity();
  await using server = startEchoServer({ identity });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  // The real socket, with every write counted and stamped with how many timers had run by then.
  let timersRun = 0;
  const writes: { size: number; timersRun: number }[] = [];
  const counted = {
    read: (buffer: Uint8Array) => conn.read(buffer),
    write: (bytes: Uint8Array) => {
      writes.push({ size: bytes.length, timersRun });
      return conn.write(bytes);
    },
    close: () => conn.close(),
  };
  const channel = await connectSecure(counted, {
    verifyServerKey: trustOnly(identity.fingerprint),
  });
  try {
    const big = new Uint8Array(256 * SEAL_SLICE).fill(0x61);
    writes.length = 0;
    const tick = setInterval(() => timersRun++, 0);
    try {
      const [, echoed] = await Promise.all([
        channel.write(big),
        readExactly(channel, big.length),
      ]);
      assert.deepEqual(echoed, big);
    } finally {
      clearInterval(tick);
    }
    // Each slice is 4 records of 16 KiB, 24 bytes of header and tag each.
    const slice = SEAL_SLICE + 4 * 24;
    assert.ok(writes.length >= 256, `${writes.length} writes`);
    assert.ok(writes.every((w) => w.size <= slice), JSON.stringify(writes.map((w) => w.size)));
    assert.ok(
      writes[writes.length - 1].timersRun > writes[0].timersRun,
      "no timer ran while the write was under way: the event loop was blocked",
    );
  } finally {
    channel.close();
  }
});
