/**
 * Authenticated encryption with associated data (AEAD) for the record layer, from one of two
 * libraries that compute exactly the same bytes:
 *
 * | library   | where it comes from                   | needs         | speed                      |
 * | --------- | ------------------------------------- | ------------- | -------------------------- |
 * | `openssl` | the system's `libcrypto`, through FFI | `--allow-ffi` | uses the CPU's AES support |
 * | `node`    | Deno's built-in `node:crypto`         | nothing       | portable software, slower  |
 *
 * (`bench/README.md` gives the measured difference and the command that measures yours.)
 *
 * `auto`, the default, takes OpenSSL when the process may load it and falls back to
 * `node:crypto` otherwise, so the lab runs everywhere and runs fast where it can. Either side
 * of a connection may use either library: the wire cannot tell them apart, and the tests check
 * that each opens what the other sealed.
 *
 * `openssl.ts` explains why the difference is so large, and what FFI costs in safety.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { type AeadAlgorithm, loadOpenSsl } from "./openssl.ts";

export type { AeadAlgorithm } from "./openssl.ts";

/** Which library seals the records: a choice on the command line (`--crypto`). */
export type CryptoChoice = "auto" | "openssl" | "node";

/** The choices, for command lines and tests. */
export const CRYPTO_CHOICES: readonly CryptoChoice[] = ["auto", "openssl", "node"];

const TAG_SIZE = 16;

/** One key, one direction: seals or opens texts with nonces the caller never repeats. */
export interface Aead {
  /**
   * Seals `plaintext` into `out`: ciphertext, then the 16-byte tag.
   *
   * @param nonce 12 bytes, never used twice with this key.
   * @param aad Authenticated, not encrypted.
   * @param plaintext What to encrypt.
   * @param out Exactly `plaintext.length + 16` bytes.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  /**
   * Opens a sealed text.
   *
   * @returns The plaintext, or `undefined` when the tag does not match.
   */
  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array | undefined;
  /** Frees what lives outside JavaScript's heap. Safe to call more than once. */
  dispose(): void;
}

/** A library that makes {@link Aead}s. */
export interface AeadLibrary {
  /** `openssl` or `node`. */
  readonly name: Exclude<CryptoChoice, "auto">;
  /** What it is, for the server's log. */
  readonly description: string;
  /**
   * Makes one direction's cipher.
   *
   * @param algorithm Which AEAD.
   * @param key Its 32-byte key.
   * @param direction Whether it will seal or open.
   */
  create(algorithm: AeadAlgorithm, key: Uint8Array, direction: "seal" | "open"): Aead;
}

/** `node:crypto`: available everywhere Deno runs. */
const NODE_CRYPTO: AeadLibrary = {
  name: "node",
  description: "node:crypto",
  create: (algorithm, key) => new NodeAead(algorithm, key),
};

/**
 * Picks the library for a choice.
 *
 * @param choice `auto` (OpenSSL if it loads, else `node:crypto`), `openssl` or `node`.
 * @returns The library.
 * @throws {Error} When `openssl` was asked for and cannot be loaded; the message says why.
 */
export function aeadLibrary(choice: CryptoChoice = "auto"): AeadLibrary {
  if (choice === "node") return NODE_CRYPTO;
  const openssl = loadOpenSsl();
  if (!(openssl instanceof Error)) {
    return { name: "openssl", description: openssl.description, create: openssl.create };
  }
  if (choice === "openssl") throw openssl;
  return NODE_CRYPTO;
}

/**
 * Names a library for a server's log; for `node:crypto`, says why OpenSSL is not in use.
 *
 * @param library The library.
 * @returns A phrase such as `OpenSSL 3.0.19 (libcrypto.so.3)`.
 */
export function describeAeadLibrary(library: AeadLibrary): string {
  if (library.name === "openssl") return library.description;
  const openssl = loadOpenSsl();
  return openssl instanceof Error
    ? `${library.description} (${openssl.message}; it would be many times faster)`
    : `${library.description} (chosen over ${openssl.description})`;
}

/**
 * `node:crypto`'s AEADs. Its cipher objects cannot be given a new nonce, so each record makes a
 * fresh one; the keys are kept as Buffers so that costs no conversion.
 */
class NodeAead implements Aead {
  readonly #algorithm: AeadAlgorithm;
  readonly #key: Buffer;

  constructor(algorithm: AeadAlgorithm, key: Uint8Array) {
    this.#algorithm = algorithm;
    this.#key = Buffer.from(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    // Node needs the tag length spelled out for ChaCha20-Poly1305 (GCM's is 16 by default).
    const cipher = this.#algorithm === "aes-256-gcm"
      ? createCipheriv("aes-256-gcm", this.#key, nonce)
      : createCipheriv("chacha20-poly1305", this.#key, nonce, { authTagLength: TAG_SIZE });
    cipher.setAAD(aad);
    out.set(cipher.update(plaintext));
    cipher.final();
    out.set(cipher.getAuthTag(), plaintext.length);
  }

  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array | undefined {
    const decipher = this.#algorithm === "aes-256-gcm"
      ? createDecipheriv("aes-256-gcm", this.#key, nonce)
      : createDecipheriv("chacha20-poly1305", this.#key, nonce, { authTagLength: TAG_SIZE });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    try {
      // final() checks the tag. Nothing decrypted is returned unless it passes.
      decipher.final();
    } catch {
      return undefined;
    }
    // The same type as OpenSSL's answer: a plain Uint8Array over the Buffer's bytes.
    return new Uint8Array(plaintext.buffer, plaintext.byteOffset, plaintext.length);
  }

  dispose(): void {
    // Nothing outside the heap: node:crypto's objects are garbage-collected.
  }
}
