/**
 * AES-256-GCM and ChaCha20-Poly1305 from the system's OpenSSL (`libcrypto`), called through
 * Deno's foreign function interface (`Deno.dlopen`).
 *
 * # Why call a C library from a TypeScript course
 *
 * Because the same algorithm costs far less there: the AES-GCM in Deno's `node:crypto` is a
 * portable software implementation, while OpenSSL uses the CPU's AES and carry-less-multiply
 * instructions. Production servers do exactly this; Node's own `crypto` module is OpenSSL. The
 * figures, and how to measure yours, are in `bench/README.md` ("Why the hot path looks the way it
 * does").
 *
 * # What it costs in safety
 *
 * - **`--allow-ffi` lifts Deno's sandbox:** native code can do anything the process can. A
 *   server that must not have that runs with `--crypto node` and no `--allow-ffi`; nothing else
 *   changes (see `aead.ts`).
 * - **Memory is ours to get right.** Every pointer passed below is a `Uint8Array` that JavaScript
 *   keeps alive for the whole (synchronous) call, and each is at least as long as OpenSSL will
 *   write: a GCM or ChaCha20 ciphertext is exactly as long as its plaintext, a tag 16 bytes. A
 *   cipher context is C memory: {@link OpenSslAead.dispose} frees it, and every use after that is
 *   refused in JavaScript before it could reach C.
 *
 * The calls are OpenSSL's documented EVP interface (`man EVP_EncryptInit`), unchanged since 1.1:
 *
 * ```
 * once:        ctx = EVP_CIPHER_CTX_new(); EVP_CipherInit_ex(ctx, cipher, NULL, key, NULL, enc)
 * per record:  EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, -1)      new nonce, same key
 *              EVP_CipherUpdate(ctx, NULL, &n, aad, aadLength)          associated data
 *              EVP_CipherUpdate(ctx, out, &n, in, length)               the text itself
 *   sealing:   EVP_CipherFinal_ex(ctx, out, &n); EVP_CIPHER_CTX_ctrl(ctx, GET_TAG, 16, tag)
 *   opening:   EVP_CIPHER_CTX_ctrl(ctx, SET_TAG, 16, tag); EVP_CipherFinal_ex → 1 only if it matches
 * ```
 *
 * Setting the key once and only the nonce per record keeps AES's key schedule: most of what a
 * small record would otherwise cost.
 *
 * @module
 */

/** The AEADs this module (and the record layer) uses: 32-byte keys, 12-byte nonces, 16-byte tags. */
export type AeadAlgorithm = "aes-256-gcm" | "chacha20-poly1305";

/** Names to try, in order: the dynamic loader finds them where the system installed them. */
const LIBRARY_NAMES = [
  "libcrypto.so.3", // Linux, OpenSSL 3
  "libcrypto.so.1.1", // Linux, OpenSSL 1.1
  "libcrypto.3.dylib", // macOS with OpenSSL 3 on the loader's path
  "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib", // Homebrew, Apple silicon
  "/usr/local/opt/openssl@3/lib/libcrypto.3.dylib", // Homebrew, Intel
  "libcrypto-3-x64.dll", // Windows
];

const SYMBOLS = {
  OpenSSL_version: { parameters: ["i32"], result: "pointer" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_chacha20_poly1305: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  // (ctx, cipher, engine, key, iv, enc): enc is 1 to seal, 0 to open, -1 to keep the direction.
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // (ctx, out, &outLength, in, inLength); out NULL means `in` is associated data.
  EVP_CipherUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

/** `EVP_CTRL_AEAD_GET_TAG` and `EVP_CTRL_AEAD_SET_TAG` from OpenSSL's `evp.h`. */
const GET_TAG = 0x10;
const SET_TAG = 0x11;
const TAG_SIZE = 16;
const NONCE_SIZE = 12;
const KEY_SIZE = 32;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The library, once loaded. */
export interface OpenSsl {
  /** What was loaded, for the log: OpenSSL's version and the file's name. */
  readonly description: string;
  /**
   * Makes a cipher for one key and one direction.
   *
   * @param algorithm Which AEAD.
   * @param key Its 32-byte key.
   * @param direction Whether this context seals or opens.
   */
  create(algorithm: AeadAlgorithm, key: Uint8Array, direction: "seal" | "open"): OpenSslAead;
}

/**
 * The `libcrypto` this process loaded when this module was first imported.
 *
 * @returns The library, or an error that says why it cannot be used (no `--allow-ffi`, or no
 *   OpenSSL found); the caller decides whether that is fatal.
 */
export function loadOpenSsl(): OpenSsl | Error {
  return loaded;
}

function tryLoad(): OpenSsl | Error {
  // Asking first matters: without the permission, dlopen() would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return new Error("OpenSSL needs --allow-ffi");
  }
  const failures: string[] = [];
  for (const name of LIBRARY_NAMES) {
    let library: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      library = Deno.dlopen(name, SYMBOLS);
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : error}`);
      continue;
    }
    const symbols = library.symbols;
    const versionText = symbols.OpenSSL_version(0);
    const version = versionText === null
      ? "OpenSSL"
      : Deno.UnsafePointerView.getCString(versionText).split(" ").slice(0, 2).join(" ");
    return {
      description: `${version} (${name.split("/").pop()})`,
      create: (algorithm, key, direction) => new OpenSslAead(symbols, algorithm, key, direction),
    };
  }
  return new Error(`OpenSSL's libcrypto was not found (${failures.join("; ")})`);
}

// Loaded when this module is, and kept for the life of the process: one dlopen() in all, before
// any connection needs it (and before any test starts, so Deno's sanitizer sees no library
// opened by a test and left open).
const loaded = tryLoad();

/** Frees contexts whose owner was dropped without {@link OpenSslAead.dispose}. */
const orphans = new FinalizationRegistry<{ free: () => void }>((held) => held.free());

/** Scratch for the output lengths OpenSSL reports; calls are synchronous, so one is enough. */
const outLength = new Uint8Array(4);

/** One direction of one connection: a cipher context holding the key, reused for every record. */
export class OpenSslAead {
  readonly #symbols: Symbols;
  #context: Deno.PointerObject | null;
  readonly #release: { free: () => void };

  /**
   * Allocates a cipher context and sets its algorithm and key, once for the connection.
   *
   * @param symbols The loaded library.
   * @param algorithm Which AEAD.
   * @param key The direction's key.
   * @param direction Whether this context seals or opens.
   */
  constructor(
    symbols: Symbols,
    algorithm: AeadAlgorithm,
    key: Uint8Array,
    direction: "seal" | "open",
  ) {
    if (key.length !== KEY_SIZE) throw new RangeError(`${algorithm} needs a ${KEY_SIZE}-byte key`);
    this.#symbols = symbols;
    const context = symbols.EVP_CIPHER_CTX_new();
    if (context === null) throw new Error("OpenSSL could not allocate a cipher context");
    this.#context = context;
    this.#release = { free: () => symbols.EVP_CIPHER_CTX_free(context) };
    orphans.register(this, this.#release, this);
    const cipher = algorithm === "aes-256-gcm"
      ? symbols.EVP_aes_256_gcm()
      : symbols.EVP_chacha20_poly1305();
    const enc = direction === "seal" ? 1 : 0;
    if (symbols.EVP_CipherInit_ex(context, cipher, null, key, null, enc) !== 1) {
      this.dispose();
      throw new Error(`OpenSSL refused to set up ${algorithm}`);
    }
  }

  /**
   * Seals `plaintext`: its ciphertext goes to `out`, then the 16-byte tag.
   *
   * @param nonce 12 bytes, never used twice with this key.
   * @param aad Associated data: authenticated, not encrypted.
   * @param plaintext What to encrypt.
   * @param out Exactly `plaintext.length + 16` bytes.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    const context = this.#start(nonce, aad, out.length - TAG_SIZE === plaintext.length);
    const s = this.#symbols;
    if (
      (plaintext.length > 0 &&
        s.EVP_CipherUpdate(context, out, outLength, plaintext, plaintext.length) !== 1) ||
      s.EVP_CipherFinal_ex(context, out, outLength) !== 1 ||
      s.EVP_CIPHER_CTX_ctrl(context, GET_TAG, TAG_SIZE, out.subarray(plaintext.length)) !== 1
    ) {
      throw new Error("OpenSSL failed to seal a record");
    }
  }

  /**
   * Opens a sealed text.
   *
   * @param nonce The nonce it was sealed with.
   * @param aad The associated data it was sealed with.
   * @param ciphertext The ciphertext, without its tag.
   * @param tag Its 16-byte tag.
   * @returns The plaintext, or `undefined` when the tag does not match: then nothing decrypted
   *   leaves this function.
   */
  open(
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
  ): Uint8Array | undefined {
    const context = this.#start(nonce, aad, tag.length === TAG_SIZE);
    const s = this.#symbols;
    const plaintext = new Uint8Array(ciphertext.length);
    if (
      (ciphertext.length > 0 &&
        s.EVP_CipherUpdate(context, plaintext, outLength, ciphertext, ciphertext.length) !== 1) ||
      s.EVP_CIPHER_CTX_ctrl(context, SET_TAG, TAG_SIZE, tag) !== 1
    ) {
      throw new Error("OpenSSL failed to open a record");
    }
    return s.EVP_CipherFinal_ex(context, plaintext, outLength) === 1 ? plaintext : undefined;
  }

  /** Frees the context (and the key inside it). Safe to call more than once. */
  dispose(): void {
    if (this.#context === null) return;
    this.#context = null;
    orphans.unregister(this);
    this.#release.free();
  }

  /** Checks what C cannot, then sets the nonce and feeds the associated data. */
  #start(nonce: Uint8Array, aad: Uint8Array, sizesFit: boolean): Deno.PointerObject {
    const context = this.#context;
    if (context === null) throw new Error("This cipher context was already freed");
    if (nonce.length !== NONCE_SIZE || !sizesFit) {
      throw new RangeError("Nonce, text and tag sizes do not match the AEAD's");
    }
    const s = this.#symbols;
    if (
      s.EVP_CipherInit_ex(context, null, null, null, nonce, -1) !== 1 ||
      (aad.length > 0 && s.EVP_CipherUpdate(context, null, outLength, aad, aad.length) !== 1)
    ) {
      throw new Error("OpenSSL refused a nonce or associated data");
    }
    return context;
  }
}
