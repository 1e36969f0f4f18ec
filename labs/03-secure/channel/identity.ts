/**
 * The server's long-lived identity: an Ed25519 key pair kept in its data directory, like an SSH
 * server's host key.
 *
 * Every connection gets fresh X25519 keys (see `handshake.ts`), which makes the traffic secret but
 * says nothing about *who* is on the other end: a man in the middle can run its own fresh keys
 * with each side. The identity key is what the client can recognise from one connection to the
 * next, so the server signs each handshake with it and the client pins it.
 *
 * Files in the data directory:
 *
 * ```
 * identity_ed25519       the private key, PKCS#8 PEM, mode 0600 (readable by the owner only)
 * identity_ed25519.pub   the public key in OpenSSH's format, so `ssh-keygen -l -f` shows the
 *                        same fingerprint the server prints
 * ```
 *
 * Both are ordinary formats: `openssl pkey -in identity_ed25519 -text -noout` shows the key.
 *
 * Who else could have touched the key matters as much as who can read it. Like sshd with
 * `StrictModes`, the server refuses a key file that another user owns (a key planted in a shared
 * directory would let its planter impersonate the server) or that anyone else may read or write,
 * and a data directory that another user owns or that others may write (they could swap the key
 * between two starts). Unlike sshd, it checks only that directory, not every parent up to `/`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { join } from "node:path";

/** The server's long-lived Ed25519 identity. */
export interface Identity {
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** `SHA256:` and the base64 of the public key's SHA-256, as `ssh-keygen -l` prints. */
  readonly fingerprint: string;
  /** Signs a message. */
  sign(message: Uint8Array): Uint8Array;
  /** The private key's file, when the identity was loaded from or saved to one. */
  readonly keyFile?: string;
  /** `true` when {@link loadOrCreateIdentity} made a new key rather than loading one. */
  readonly created?: boolean;
}

/** The private key's file name in the data directory. */
export const IDENTITY_FILE = "identity_ed25519";

/** OpenSSH's name for the key type, which its public key format and fingerprints include. */
const SSH_KEY_TYPE = "ssh-ed25519";

/**
 * Computes a key's fingerprint the way OpenSSH does: SHA-256 over the key in SSH's wire format
 * (the string `ssh-ed25519`, then the 32 key bytes, each prefixed with its length), in base64
 * without padding. So a student can check the server's key with `ssh-keygen -l -f`.
 *
 * @param publicKey The raw 32-byte Ed25519 public key.
 * @returns Such as `SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s`.
 */
export function fingerprintOf(publicKey: Uint8Array): string {
  const digest = createHash("sha256").update(sshPublicKeyBlob(publicKey)).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

/**
 * Encodes a public key as OpenSSH's wire-format blob: `string "ssh-ed25519"`, `string key`.
 *
 * @param publicKey The raw 32-byte key.
 * @returns The blob, whose base64 is what `.pub` files and known-hosts lines hold.
 */
export function sshPublicKeyBlob(publicKey: Uint8Array): Uint8Array {
  const type = new TextEncoder().encode(SSH_KEY_TYPE);
  const blob = new Uint8Array(4 + type.length + 4 + publicKey.length);
  const view = new DataView(blob.buffer);
  view.setUint32(0, type.length);
  blob.set(type, 4);
  view.setUint32(4 + type.length, publicKey.length);
  blob.set(publicKey, 8 + type.length);
  return blob;
}

/**
 * Formats a public key as one line of OpenSSH's public key format.
 *
 * @param publicKey The raw 32-byte key.
 * @param comment What follows the key (a name).
 * @returns `ssh-ed25519 AAAA… comment`.
 */
export function sshPublicKeyLine(publicKey: Uint8Array, comment: string): string {
  return `${SSH_KEY_TYPE} ${
    Buffer.from(sshPublicKeyBlob(publicKey)).toString("base64")
  } ${comment}`;
}

/**
 * Reads the raw key back from OpenSSH's public key format (the base64 field of a line).
 *
 * @param base64 The blob's base64.
 * @returns The 32-byte key, or `undefined` if it is not an `ssh-ed25519` key.
 */
export function parseSshPublicKey(base64: string): Uint8Array | undefined {
  const blob = Buffer.from(base64, "base64");
  const expected = sshPublicKeyBlob(new Uint8Array(32));
  if (blob.length !== expected.length) return undefined;
  // Everything before the key bytes is fixed: the type and the two lengths.
  if (!blob.subarray(0, expected.length - 32).equals(expected.subarray(0, expected.length - 32))) {
    return undefined;
  }
  return new Uint8Array(blob.subarray(expected.length - 32));
}

/**
 * Exports the raw 32 bytes of an Ed25519 or X25519 public key object.
 *
 * @param key The key object.
 * @returns Its 32 bytes, as they travel in the handshake.
 */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new TypeError("Expected an OKP public key");
  return new Uint8Array(Buffer.from(jwk.x, "base64url"));
}

/**
 * Checks an Ed25519 signature made by a raw public key.
 *
 * @param publicKey The raw 32-byte key.
 * @param message What was signed.
 * @param signature The 64-byte signature.
 * @returns Whether it verifies.
 */
export function verifySignature(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
    format: "jwk",
  });
  return verify(null, message, key, signature);
}

function identityFrom(
  privateKey: KeyObject,
  extra: { keyFile?: string; created?: boolean },
): Identity {
  const publicKey = rawPublicKey(createPublicKey(privateKey));
  return {
    publicKey,
    fingerprint: fingerprintOf(publicKey),
    // The private key stays in this closure: no property exposes it, so no log line can print it.
    sign: (message) => new Uint8Array(sign(null, message, privateKey)),
    ...extra,
  };
}

/**
 * Makes a fresh identity that lives only in memory: for tests, and for a test's impostor.
 *
 * @returns A new identity.
 */
export function generateIdentity(): Identity {
  return identityFrom(generateKeyPairSync("ed25519").privateKey, {});
}

/**
 * Loads the identity from `dir`, or creates it (readable only by its owner) on first start.
 *
 * Like `ssh`, it refuses a private key file that others can read: a key that may have been copied
 * proves nothing. Like sshd's `StrictModes`, it also refuses a key file another user owns, and a
 * directory another user owns or others can write. Two servers starting at once in one directory
 * end up with the same key.
 *
 * @param dir The data directory; created (mode 0700) if missing.
 * @returns The identity.
 * @throws {Error} When the key file is owned by another user or open to others, the directory is
 *   owned by another user or writable by others, or the key is not an Ed25519 key.
 * @example
 * ```ts
 * const identity = await loadOrCreateIdentity("data");
 * console.log(`identity key ${identity.fingerprint}`);
 * ```
 */
export async function loadOrCreateIdentity(dir: string): Promise<Identity> {
  const keyFile = join(dir, IDENTITY_FILE);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const uid = await processUid(dir);
  // Checked before the key is read: in a directory others can write, the key proves nothing.
  await checkDirectory(dir, uid);
  let created = false;
  let pem: string;
  try {
    pem = await Deno.readTextFile(keyFile);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    pem = await createKeyFile(keyFile);
    created = true;
  }
  await checkPrivate(keyFile, uid);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new Error(`Cannot read the identity key in ${keyFile}: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new Error(
      `The identity key in ${keyFile} is ${privateKey.asymmetricKeyType}, not ed25519`,
    );
  }
  const identity = identityFrom(privateKey, { keyFile, created });
  // The public half is derived data: (re)write it whenever it is missing.
  const pubFile = `${keyFile}.pub`;
  try {
    await Deno.writeTextFile(
      pubFile,
      sshPublicKeyLine(identity.publicKey, "cachelab-server") + "\n",
      {
        createNew: true,
        mode: 0o644,
      },
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  return identity;
}

/**
 * Writes a new private key so that no one ever sees a half-written or world-readable file: write
 * a temporary file with mode 0600, then hard-link it into place, which fails (rather than
 * overwriting) if another process got there first; in that case, use its key.
 */
async function createKeyFile(keyFile: string): Promise<string> {
  const pem = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();
  const temp = `${keyFile}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temp, pem, { createNew: true, mode: 0o600 });
  try {
    // writeTextFile's mode is filtered by the umask; make sure of 0600 regardless (Windows has no
    // such modes: there, the user profile's permissions protect the file).
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o600);
    await Deno.link(temp, keyFile);
    return pem;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return await Deno.readTextFile(keyFile);
    throw error;
  } finally {
    await Deno.remove(temp);
  }
}

/**
 * The user this process runs as, or `null` where files have no owners (Windows).
 *
 * `Deno.uid()` needs `--allow-sys`, which `deno task lab3` does not grant (and asking for it at a
 * prompt would stall a server started by a script). Without it, a file the process creates tells
 * the same thing: its owner is the process's effective user, which is the one that matters for
 * files it creates.
 */
async function processUid(dir: string): Promise<number | null> {
  if (Deno.build.os === "windows") return null;
  const sys = await Deno.permissions.query({ name: "sys", kind: "uid" });
  if (sys.state === "granted") return Deno.uid();
  const probe = await Deno.makeTempFile({ dir, prefix: ".uid-probe-" });
  try {
    return (await Deno.stat(probe)).uid;
  } finally {
    await Deno.remove(probe);
  }
}

/**
 * Refuses a data directory that another user owns (root excepted, as sshd excepts it: root can
 * replace any file anyway) or that group or others may write.
 */
async function checkDirectory(dir: string, uid: number | null): Promise<void> {
  const { mode, uid: owner } = await Deno.stat(dir);
  if (uid !== null && owner !== null && owner !== uid && owner !== 0) {
    throw new Error(
      `Bad owner for directory ${dir}: it belongs to uid ${owner}, and this server runs as uid ` +
        `${uid}. Another user could replace the identity key; use a --dir of your own`,
    );
  }
  if (mode !== null && (mode & 0o022) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new Error(
      `Permissions ${octal} for directory ${dir} are too open: others could replace the identity ` +
        `key. Run: chmod go-w ${dir}`,
    );
  }
}

async function checkPrivate(keyFile: string, uid: number | null): Promise<void> {
  const { mode, uid: owner } = await Deno.stat(keyFile);
  // A key someone else wrote is theirs: they can sign as this server. ssh says "bad ownership".
  if (uid !== null && owner !== null && owner !== uid) {
    throw new Error(
      `Bad ownership for ${keyFile}: it belongs to uid ${owner}, and this server runs as uid ` +
        `${uid}. Remove it (a new key is made on start) or use a --dir of your own`,
    );
  }
  // `mode` is null on Windows, which has no such bits to check.
  if (mode !== null && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new Error(
      `Permissions ${octal} for ${keyFile} are too open: the identity key must be readable ` +
        `only by its owner. Run: chmod 600 ${keyFile}`,
    );
  }
}
