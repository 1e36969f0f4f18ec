import assert from "node:assert/strict";
import { hasProgram } from "../../../shared/testing/processes.ts";
import {
  fingerprintOf,
  generateIdentity,
  IDENTITY_FILE,
  loadOrCreateIdentity,
  parseSshPublicKey,
  sshPublicKeyBlob,
  verifySignature,
} from "./identity.ts";

const modeOf = async (path: string) => ((await Deno.stat(path)).mode ?? 0) & 0o777;

Deno.test("loadOrCreateIdentity() creates a key only its owner can read, then loads the same one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = `${dir}/data`;
    const first = await loadOrCreateIdentity(data);
    assert.equal(first.created, true);
    assert.equal(first.keyFile, `${data}/${IDENTITY_FILE}`);
    assert.equal(await modeOf(`${data}/${IDENTITY_FILE}`), 0o600);
    assert.equal(await modeOf(data), 0o700);
    assert.match(
      await Deno.readTextFile(`${data}/${IDENTITY_FILE}`),
      /^-----BEGIN PRIVATE KEY-----\n/,
    );

    const second = await loadOrCreateIdentity(data);
    assert.equal(second.created, false);
    assert.deepEqual(second.publicKey, first.publicKey);
    assert.equal(second.fingerprint, first.fingerprint);
    // Nothing in the identity object is the private key.
    assert.deepEqual(Object.keys(second).sort(), [
      "created",
      "fingerprint",
      "keyFile",
      "publicKey",
      "sign",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentity() refuses a key file others can read, as ssh does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await loadOrCreateIdentity(dir);
    await Deno.chmod(`${dir}/${IDENTITY_FILE}`, 0o644);
    await assert.rejects(
      loadOrCreateIdentity(dir),
      /Permissions 0644 for .* are too open.*chmod 600/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether this process may give a file to another user: only root may (tests run as root in CI). */
async function canChown(): Promise<boolean> {
  const file = await Deno.makeTempFile();
  try {
    await Deno.chown(file, NOBODY, NOBODY);
    return true;
  } catch {
    return false;
  } finally {
    await Deno.remove(file);
  }
}

/** The `nobody` user's id on Linux: any uid other than the test's own will do. */
const NOBODY = 65534;
const chownSkip = (await canChown()) ? "" : " (skipped: only root can give a file to another user)";

Deno.test({
  name: "loadOrCreateIdentity() refuses a 0600 key file another user owns, as sshd does" +
    chownSkip,
  ignore: chownSkip !== "",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      // Another user "plants" a key with the right mode in a directory the server will use.
      await loadOrCreateIdentity(dir);
      await Deno.chown(`${dir}/${IDENTITY_FILE}`, NOBODY, NOBODY);
      assert.equal(await modeOf(`${dir}/${IDENTITY_FILE}`), 0o600);
      await assert.rejects(
        loadOrCreateIdentity(dir),
        /Bad ownership for .*identity_ed25519: it belongs to uid 65534, and this server runs as uid \d+/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "loadOrCreateIdentity() refuses a directory another user owns" + chownSkip,
  ignore: chownSkip !== "",
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.chown(dir, NOBODY, NOBODY);
      await assert.rejects(
        loadOrCreateIdentity(dir),
        /Bad owner for directory .*: it belongs to uid 65534/,
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], "no key was made there");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("loadOrCreateIdentity() refuses a directory others can write, before reading the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await loadOrCreateIdentity(dir);
    for (const mode of [0o777, 0o770, 0o1777]) {
      await Deno.chmod(dir, mode);
      await assert.rejects(
        loadOrCreateIdentity(dir),
        /Permissions 0(777|770) for directory .* are too open: .*chmod go-w/,
      );
    }
    // Readable by others is fine, as sshd finds it: only writing lets them swap the key.
    await Deno.chmod(dir, 0o755);
    await loadOrCreateIdentity(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentity() refuses a key file others can write", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await loadOrCreateIdentity(dir);
    await Deno.chmod(`${dir}/${IDENTITY_FILE}`, 0o622);
    await assert.rejects(loadOrCreateIdentity(dir), /Permissions 0622 for .* are too open/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOrCreateIdentity() started twice at once ends with one key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [a, b] = await Promise.all([loadOrCreateIdentity(dir), loadOrCreateIdentity(dir)]);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      IDENTITY_FILE,
      `${IDENTITY_FILE}.pub`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an identity's signatures verify with its public key, and only for what was signed", () => {
  const identity = generateIdentity();
  const message = new TextEncoder().encode("transcript");
  const signature = identity.sign(message);
  assert.equal(signature.length, 64);
  assert.ok(verifySignature(identity.publicKey, message, signature));
  assert.ok(
    !verifySignature(identity.publicKey, new TextEncoder().encode("transcripT"), signature),
  );
  assert.ok(!verifySignature(generateIdentity().publicKey, message, signature));
});

Deno.test("the SSH public key blob round-trips, and fingerprints have ssh-keygen's form", () => {
  const identity = generateIdentity();
  const blob = sshPublicKeyBlob(identity.publicKey);
  assert.deepEqual(parseSshPublicKey(btoa(String.fromCharCode(...blob))), identity.publicKey);
  assert.match(fingerprintOf(identity.publicKey), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.equal(identity.fingerprint, fingerprintOf(identity.publicKey));
});

Deno.test({
  name: "the fingerprint the server prints is the one ssh-keygen -l shows for its .pub file",
  ignore: !hasProgram("ssh-keygen"),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const identity = await loadOrCreateIdentity(dir);
      const { stdout, success } = await new Deno.Command("ssh-keygen", {
        args: ["-l", "-f", `${dir}/${IDENTITY_FILE}.pub`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(success);
      // "256 SHA256:… cachelab-server (ED25519)"
      assert.equal(new TextDecoder().decode(stdout).split(" ")[1], identity.fingerprint);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
