import assert from "node:assert/strict";
import { REPO_ROOT } from "../../../shared/testing/processes.ts";
import { decodeBase64url, encodeBase64url, Fernet, FernetError } from "./fernet.ts";

/** The specification's vectors live beside the repository, not in it. */
const VECTORS = `${REPO_ROOT}../shared/testdata/fernet`;

interface Vector {
  desc?: string;
  token: string;
  now: string;
  iv?: number[];
  src?: string;
  ttl_sec?: number;
  secret: string;
}

function loadVectors(name: string): Vector[] | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${VECTORS}/${name}`));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const generate = loadVectors("generate.json");
const verify = loadVectors("verify.json");
const invalid = loadVectors("invalid.json");
const missing = generate === undefined || verify === undefined || invalid === undefined;
if (missing) console.warn(`Skipping the Fernet vector tests: ${VECTORS} is absent`);

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test({
  name: "Fernet.generate() reproduces every token in generate.json from its IV and time",
  ignore: generate === undefined,
  fn: () => {
    assert.ok(generate !== undefined && generate.length > 0);
    for (const v of generate) {
      assert.ok(v.iv !== undefined && v.src !== undefined);
      const token = new Fernet(v.secret).generate(new TextEncoder().encode(v.src), {
        now: new Date(v.now),
        iv: Uint8Array.from(v.iv),
      });
      assert.equal(token, v.token);
    }
  },
});

Deno.test({
  name: "Fernet.verify() decrypts every token in verify.json with its TTL and clock",
  ignore: verify === undefined,
  fn: () => {
    assert.ok(verify !== undefined && verify.length > 0);
    for (const v of verify) {
      const plaintext = new Fernet(v.secret).verify(v.token, {
        ttlSeconds: v.ttl_sec,
        now: new Date(v.now),
      });
      assert.equal(text(plaintext), v.src);
    }
  },
});

/** Which check each invalid vector must trip, so a token is refused for the right reason. */
const EXPECTED_REASON: Record<string, string> = {
  "incorrect mac": "bad-mac",
  "too short": "too-short",
  "invalid base64": "bad-base64",
  "payload size not multiple of block size": "bad-length",
  "payload padding error": "bad-padding",
  "far-future TS (unacceptable clock skew)": "from-the-future",
  "expired TTL": "expired",
  "incorrect IV (causes padding error)": "bad-padding",
};

Deno.test({
  name: "Fernet.verify() rejects every token in invalid.json, each for its own reason",
  ignore: invalid === undefined,
  fn: () => {
    assert.ok(invalid !== undefined && invalid.length > 0);
    for (const v of invalid) {
      const desc = v.desc ?? v.token;
      assert.throws(
        () => new Fernet(v.secret).verify(v.token, { ttlSeconds: v.ttl_sec, now: new Date(v.now) }),
        (error: unknown) => {
          assert.ok(error instanceof FernetError, `${desc}: ${error}`);
          const expected = EXPECTED_REASON[desc];
          // A vector added to the file later still has to be rejected, whatever the reason.
          if (expected !== undefined) assert.equal(error.reason, expected, desc);
          return true;
        },
        desc,
      );
    }
  },
});

Deno.test("Fernet round-trips any bytes, including an empty plaintext and whole blocks", () => {
  const f = new Fernet(Fernet.generateKey());
  for (const size of [0, 1, 15, 16, 17, 1000]) {
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
    assert.deepEqual(f.verify(f.generate(data)), data);
  }
});

Deno.test("Fernet.verify() refuses a token made with another key", () => {
  const token = new Fernet(Fernet.generateKey()).generate(new Uint8Array([1, 2, 3]));
  assert.throws(() => new Fernet(Fernet.generateKey()).verify(token), { reason: "bad-mac" });
});

Deno.test("Fernet.verify() checks age only when given a TTL", () => {
  const f = new Fernet(Fernet.generateKey());
  const token = f.generate(new Uint8Array([7]), { now: 1_000 });
  assert.deepEqual(f.verify(token, { now: 1_000_000 }), new Uint8Array([7]));
  assert.throws(() => f.verify(token, { ttlSeconds: 60, now: 1_061 }), { reason: "expired" });
  assert.deepEqual(f.verify(token, { ttlSeconds: 60, now: 1_060 }), new Uint8Array([7]));
});

Deno.test("new Fernet() refuses a key that is not 32 bytes of base64url", () => {
  assert.throws(() => new Fernet("c2hvcnQ="), TypeError);
  assert.throws(() => new Fernet("%%%%"), TypeError);
  assert.throws(() => new Fernet(new Uint8Array(16)), TypeError);
});

Deno.test("decodeBase64url() accepts only the canonical padded text, where Node's is lenient", () => {
  assert.deepEqual(decodeBase64url("_-8="), new Uint8Array([0xff, 0xef]));
  assert.equal(encodeBase64url(new Uint8Array([0xff, 0xef])), "_-8=");
  for (const text of ["ab%d", "abc==", "a", "_-8", "_-9=", "_-8==", "_-8=\n", "AA=="]) {
    const canonical = text === "AA==";
    assert.equal(decodeBase64url(text) !== undefined, canonical, JSON.stringify(text));
  }
  // The unused bits of a last character: "AB==" is the same byte as "AA==" to a lenient decoder.
  assert.equal(decodeBase64url("AB=="), undefined);
});

Deno.test({
  name: "Fernet.verify() refuses a spec token rewritten to decode to the same bytes",
  ignore: verify === undefined,
  fn: () => {
    const v = verify![0];
    const f = new Fernet(v.secret);
    const now = new Date(v.now);
    assert.ok(f.verify(v.token, { now }).length >= 0, "the vector itself passes");
    const stem = v.token.replace(/=+$/, "");
    const last = stem.at(-1)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Same high bits, different unused low bits: a lenient decoder gives the same bytes.
    const twin = alphabet[alphabet.indexOf(last) ^ 1];
    const variants = [
      stem, // padding dropped
      v.token + "=", // padding added
      stem.slice(0, -1) + twin + v.token.slice(stem.length),
    ];
    for (const token of variants) {
      assert.throws(() => f.verify(token, { now }), (error: unknown) => {
        assert.ok(error instanceof FernetError && error.reason === "bad-base64", `${token}`);
        return true;
      });
    }
  },
});
