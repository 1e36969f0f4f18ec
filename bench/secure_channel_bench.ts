/**
 * What the secure channel costs, in isolation:
 *
 * ```sh
 * deno bench --allow-net --allow-ffi bench/secure_channel_bench.ts
 * ```
 *
 * - **round trips** through an echo server on 127.0.0.1, plain TCP against each record format. A
 *   1,100-byte write is what the load generator sends for a batch of 16 pipelined commands; one
 *   record goes each way. Records per second = 2 × iterations per second; MB/s = bytes × 2 ×
 *   iterations per second.
 * - **sealing and opening** one record with no socket at all: the cryptography's own price, from
 *   `node:crypto` and, with `--allow-ffi`, from OpenSSL (`labs/03-secure/channel/aead.ts`).
 * - **handshakes**: connect, full handshake, close, against connect and close alone.
 *
 * The client and the server run in this one process, so every number includes both ends' work.
 * `bench/secure_channel.ts` measures the end-to-end target (lab 3 against lab 2).
 *
 * @module
 */

import { writeAll } from "../shared/transport.ts";
import type { Transport } from "../shared/transport.ts";
import {
  connectClient,
  readExactly,
  startEchoServer,
} from "../labs/03-secure/channel/channel_testing.ts";
import {
  type AeadLibrary,
  aeadLibrary,
  type CipherName,
  connectSecure,
  generateIdentity,
  pinnedFingerprint,
} from "../labs/03-secure/channel/mod.ts";
import { recordFormat } from "../labs/03-secure/channel/records.ts";

const identity = generateIdentity();
const verifyServerKey = pinnedFingerprint(identity.fingerprint);
const CIPHERS: CipherName[] = ["aes-256-gcm", "chacha20-poly1305", "fernet"];

/** A plain TCP echo server, for the baseline. */
function startPlainEcho(): { port: number } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) break;
            await writeAll(conn, buffer.subarray(0, n));
          }
        } finally {
          conn.close();
        }
      })();
    }
  })();
  return { port: listener.addr.port };
}

const plainServer = startPlainEcho();
const plain = await Deno.connect({ hostname: "127.0.0.1", port: plainServer.port });
plain.setNoDelay(true);
const servers = new Map(CIPHERS.map((cipher) => [cipher, startEchoServer({ identity, cipher })]));
const channels = new Map<CipherName, Transport>();
for (const [cipher, server] of servers) {
  channels.set(cipher, await connectClient(server.port, { verifyServerKey }));
}

for (const size of [1100, 64 * 1024]) {
  const data = new Uint8Array(size).fill(0x61);
  const group = `round trip of ${size} bytes`;
  const roundTrip = (transport: Transport) => async () => {
    await Promise.all([writeAll(transport, data), readExactly(transport, size)]);
  };
  Deno.bench({ name: `plain TCP, ${size} B`, group, baseline: true }, roundTrip(plain));
  for (const [cipher, channel] of channels) {
    Deno.bench({ name: `${cipher}, ${size} B`, group }, roundTrip(channel));
  }
}

// Fernet's AES-CBC and HMAC always come from node:crypto; the AEADs from either library.
const formats: { cipher: CipherName; library: AeadLibrary }[] = [];
for (const choice of ["node", "openssl"] as const) {
  let library: AeadLibrary;
  try {
    library = aeadLibrary(choice);
  } catch {
    continue; // No OpenSSL (or no --allow-ffi): its rows are left out.
  }
  for (const cipher of CIPHERS) {
    if (cipher !== "fernet" || choice === "node") formats.push({ cipher, library });
  }
}
for (const { cipher, library } of formats) {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const other = crypto.getRandomValues(new Uint8Array(32));
  const sender = recordFormat(cipher, key, other, 16 * 1024, library);
  const receiver = recordFormat(cipher, other, key, 16 * 1024, library);
  const by = cipher === "fernet" ? "" : `, ${library.name}`;
  for (const size of [1100, 16 * 1024]) {
    const data = new Uint8Array(size);
    const wire = new Uint8Array(sender.wireSize(size));
    let sequence = 0;
    Deno.bench(
      { name: `seal + open, ${cipher}${by}, ${size} B`, group: `records of ${size} bytes` },
      () => {
        sender.seal(data, sequence++, wire, 0);
        receiver.open(wire);
      },
    );
  }
}

for (const cipher of CIPHERS) {
  const port = servers.get(cipher)?.port ?? 0;
  Deno.bench({ name: `handshake, ${cipher}`, group: "connections" }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    (await connectSecure(conn, { verifyServerKey })).close();
  });
}
Deno.bench(
  { name: "TCP connect and close only", group: "connections", baseline: true },
  async () => {
    (await Deno.connect({ hostname: "127.0.0.1", port: plainServer.port })).close();
  },
);
