/**
 * The two AEAD libraries: each against published test vectors, each against the other, each
 * refusing a tampered text, and OpenSSL's C memory handled safely.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type AeadAlgorithm, type AeadLibrary, aeadLibrary } from "./aead.ts";
import { connectClient, readExactly, startEchoServer } from "./channel_testing.ts";
import { generateIdentity } from "./identity.ts";
import { pinnedFingerprint } from "./known_hosts.ts";
import { loadOpenSsl } from "./openssl.ts";

const hex = (text: string): Uint8Array =>
  new Uint8Array(Buffer.from(text.replace(/\s/g, ""), "hex"));

const node = aeadLibrary("node");
const openssl = loadOpenSsl();
/** Empty when OpenSSL loaded; else why its tests are skipped, shown after their names. */
const opensslMissing = openssl instanceof Error
  ? ` (skipped: ${openssl.message}; run with --allow-ffi on a system with OpenSSL)`
  : "";
const libraries: { library: () => AeadLibrary; ignore: boolean }[] = [
  { library: () => node, ignore: false },
  { library: () => aeadLibrary("openssl"), ignore: opensslMissing !== "" },
];
const ALGORITHMS: AeadAlgorithm[] = ["aes-256-gcm", "chacha20-poly1305"];

/** Published vectors: the GCM specification's test case 16, and RFC 8439 section 2.8.2. */
const VECTORS: Record<AeadAlgorithm, {
  key: Uint8Array;
  nonce: Uint8Array;
  aad: Uint8Array;
  plaintext: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}> = {
  "aes-256-gcm": {
    key: hex("feffe9928665731c6d6a8f9467308308 feffe9928665731c6d6a8f9467308308"),
    nonce: hex("cafebabefacedbaddecaf888"),
    aad: hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
    plaintext: hex(
      "d9313225f88406e5a55909c5aff5269a 86a7a9531534f7da2e4c303d8a318a72 " +
        "1c3c0c95956809532fcf0e2449a6b525 b16aedf5aa0de657ba637b39",
    ),
    ciphertext: hex(
      "522dc1f099567d07f47f37a32a84427d 643a8cdcbfe5c0c97598a2bd2555d1aa " +
        "8cb08e48590dbb3da7b08b1056828838 c5f61e6393ba7a0abcc9f662",
    ),
    tag: hex("76fc6ece0f4e1768cddf8853bb2d551b"),
  },
  "chacha20-poly1305": {
    key: Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i),
    nonce: hex("070000004041424344454647"),
    aad: hex("50515253c0c1c2c3c4c5c6c7"),
    plaintext: new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the " +
        "future, sunscreen would be it.",
    ),
    ciphertext: hex(
      "d31a8d34648e60db7b86afbc53ef7ec2 a4aded51296e08fea9e2b5a736ee62d6 " +
        "3dbea45e8ca9671282fafb69da92728b 1a71de0a9e060b2905d6a5b67ecd3b36 " +
        "92ddbd7f2d778b8c9803aee328091b58 fab324e4fad675945585808b4831d7bc " +
        "3ff4def08e4b7a9de576d26586cec64b 6116",
    ),
    tag: hex("1ae10b594f09e26a7e902ecbd0600691"),
  },
};

for (const { library, ignore } of libraries) {
  const name = ignore ? `openssl${opensslMissing}` : library().name;
  for (const algorithm of ALGORITHMS) {
    Deno.test({
      name: `${name}: ${algorithm} matches the published test vector`,
      ignore,
      fn() {
        const v = VECTORS[algorithm];
        using sealer = disposable(library().create(algorithm, v.key, "seal"));
        const out = new Uint8Array(v.plaintext.length + 16);
        sealer.aead.seal(v.nonce, v.aad, v.plaintext, out);
        assert.deepEqual(out.subarray(0, v.plaintext.length), v.ciphertext);
        assert.deepEqual(out.subarray(v.plaintext.length), v.tag);
        using opener = disposable(library().create(algorithm, v.key, "open"));
        assert.deepEqual(opener.aead.open(v.nonce, v.aad, v.ciphertext, v.tag), v.plaintext);
      },
    });

    Deno.test({
      name: `${name}: ${algorithm} refuses a flipped bit in the ciphertext, tag, data or nonce`,
      ignore,
      fn() {
        const v = VECTORS[algorithm];
        using opener = disposable(library().create(algorithm, v.key, "open"));
        const flipped = (bytes: Uint8Array, at: number) => {
          const copy = bytes.slice();
          copy[at] ^= 0x01;
          return copy;
        };
        const open = opener.aead.open.bind(opener.aead);
        assert.equal(open(v.nonce, v.aad, flipped(v.ciphertext, 3), v.tag), undefined);
        assert.equal(open(v.nonce, v.aad, v.ciphertext, flipped(v.tag, 15)), undefined);
        assert.equal(open(v.nonce, flipped(v.aad, 0), v.ciphertext, v.tag), undefined);
        assert.equal(open(flipped(v.nonce, 11), v.aad, v.ciphertext, v.tag), undefined);
        // A refusal leaves the context usable: the genuine text still opens.
        assert.deepEqual(open(v.nonce, v.aad, v.ciphertext, v.tag), v.plaintext);
      },
    });
  }
}

Deno.test({
  name: `each library opens what the other sealed, at any size and offset${opensslMissing}`,
  ignore: opensslMissing !== "",
  fn() {
    const both = [node, aeadLibrary("openssl")];
    for (const algorithm of ALGORITHMS) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      for (const [from, to] of [[both[0], both[1]], [both[1], both[0]]]) {
        using sealer = disposable(from.create(algorithm, key, "seal"));
        using opener = disposable(to.create(algorithm, key, "open"));
        for (const size of [0, 1, 15, 16, 17, 1100, 16 * 1024]) {
          // The views start at odd offsets inside larger buffers, as records do on the wire.
          const nonce = crypto.getRandomValues(new Uint8Array(15)).subarray(3);
          const aad = crypto.getRandomValues(new Uint8Array(13)).subarray(5);
          const plaintext = crypto.getRandomValues(new Uint8Array(size + 7)).subarray(7);
          const wire = new Uint8Array(size + 16 + 10);
          const out = wire.subarray(5, 5 + size + 16);
          sealer.aead.seal(nonce, aad, plaintext, out);
          assert.deepEqual(wire.subarray(0, 5), new Uint8Array(5), "wrote before its view");
          assert.deepEqual(wire.subarray(5 + size + 16), new Uint8Array(5), "wrote past it");
          const opened = opener.aead.open(nonce, aad, out.subarray(0, size), out.subarray(size));
          assert.deepEqual(opened, plaintext, `${from.name} → ${to.name}, ${size} bytes`);
        }
      }
    }
  },
});

Deno.test({
  name:
    `openssl: a freed context refuses every use, and sizes are checked before C sees them${opensslMissing}`,
  ignore: opensslMissing !== "",
  fn() {
    const v = VECTORS["aes-256-gcm"];
    const sealer = aeadLibrary("openssl").create("aes-256-gcm", v.key, "seal");
    assert.throws(
      () => sealer.seal(v.nonce, v.aad, v.plaintext, new Uint8Array(v.plaintext.length)),
      RangeError,
    );
    assert.throws(
      () => sealer.seal(v.nonce.subarray(1), v.aad, v.plaintext, new Uint8Array(76)),
      RangeError,
    );
    sealer.dispose();
    sealer.dispose();
    assert.throws(
      () => sealer.seal(v.nonce, v.aad, v.plaintext, new Uint8Array(v.plaintext.length + 16)),
      /already freed/,
    );
    assert.throws(() => aeadLibrary("openssl").create("aes-256-gcm", v.key.subarray(1), "seal"));
  },
});

Deno.test({
  name: `a client on node:crypto and a server on OpenSSL talk through the channel${opensslMissing}`,
  ignore: opensslMissing !== "",
  async fn() {
    const identity = generateIdentity();
    await using server = startEchoServer({ identity, crypto: aeadLibrary("openssl") });
    const client = await connectClient(server.port, {
      verifyServerKey: pinnedFingerprint(identity.fingerprint),
      crypto: node,
    });
    try {
      const message = crypto.getRandomValues(new Uint8Array(40_000));
      await client.write(message);
      assert.deepEqual(await readExactly(client, message.length), message);
    } finally {
      client.close();
    }
  },
});

Deno.test("asking for OpenSSL where it cannot load says why; auto falls back to node:crypto", async () => {
  // A child process without --allow-ffi; the program comes on its standard input.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "-"],
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(
    `import { aeadLibrary } from ${JSON.stringify(import.meta.resolve("./aead.ts"))};
     console.log(aeadLibrary("auto").name);
     try { aeadLibrary("openssl"); } catch (error) { console.log(error.message); }`,
  ));
  await writer.close();
  const { stdout } = await child.output();
  assert.equal(new TextDecoder().decode(stdout), "node\nOpenSSL needs --allow-ffi\n");
});

/** Makes an {@link Aead} disposable with `using`, so a failed assertion still frees it. */
function disposable<T extends { dispose(): void }>(aead: T): { aead: T } & Disposable {
  return { aead, [Symbol.dispose]: () => aead.dispose() };
}
