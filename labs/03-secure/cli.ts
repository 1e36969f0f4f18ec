/**
 * Lab 3's command line: lab 2's flags (`--host`, `--port`, `--maxclients`, `--timeout`,
 * `--max-output-buffer`), plus the channel's: where the identity key lives, which record format,
 * the password, TLS instead of the channel, the handshake's time limit, and tracing.
 *
 * @module
 */

import { utf8ToByteString } from "../../shared/resp/bytes.ts";
import { usageError } from "../../shared/cli.ts";
import {
  type ExtraArgValues,
  type Lab2Options,
  parseLab2ArgsWith,
  type ServerArgsSpec,
} from "../02-threaded/cli.ts";
import {
  type CipherName,
  CRYPTO_CHOICES,
  type CryptoChoice,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
} from "./channel/mod.ts";

/** Lab 3's server options. */
export interface Lab3Options extends Lab2Options {
  /** Where the server's identity key is kept (and, in lab 4, its data). */
  dir: string;
  /** The record format of the secure channel. */
  cipher: CipherName;
  /** Which library computes AES-GCM and ChaCha20-Poly1305 records. */
  crypto: CryptoChoice;
  /** The password clients must give with `AUTH`, as a byte string; `undefined` for none. */
  requirepass: string | undefined;
  /** Serve standard TLS with this certificate and key instead of the hand-built channel. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** Drop a connection whose handshake has not finished after this many milliseconds. */
  handshakeTimeoutMs: number;
  /** Show every frame on the wire, before and after encryption. */
  trace: boolean;
  /**
   * Serve through the secure channel. Always in lab 3; lab 4 turns it on with `--secure`. With
   * `tls`, connections speak TLS whatever this says.
   */
  secure: boolean;
}

/** The task that runs lab 3's server. */
export const USAGE = "deno task lab3";

const CIPHERS: readonly CipherName[] = ["aes-256-gcm", "chacha20-poly1305", "fernet"];

const HELP =
  `  --dir DIR                 data directory: the server's identity key, created on first
                            start (and in lab 4 the snapshot and the log) (default ./data)
  --cipher NAME             record format of the secure channel: aes-256-gcm,
                            chacha20-poly1305 or fernet (default aes-256-gcm)
  --crypto LIBRARY          who computes AES-GCM and ChaCha20-Poly1305: openssl (the
                            system's libcrypto, needs deno run --allow-ffi), node (Deno's
                            node:crypto) or auto (openssl if it loads; the default)
  --requirepass PASSWORD    clients must send AUTH PASSWORD before any other command
                            (visible to every user of the machine in ps: prefer one of
                            the next two)
  --requirepass-file FILE   the password is this file's first line; the file must be
                            readable by its owner only
                            (or set CACHELAB_REQUIREPASS in the server's environment)
  --tls-cert FILE           serve standard TLS with this certificate (PEM) instead of the
                            secure channel; needs --tls-key
  --tls-key FILE            the certificate's private key (PEM)
  --handshake-timeout MS    drop a connection whose handshake has not finished after this
                            many milliseconds (default ${DEFAULT_HANDSHAKE_TIMEOUT_MS})
  --trace                   print every frame on the wire to stderr, before and after
                            encryption, in hex and ASCII
`;

/**
 * Parses lab 3's arguments. Prints help and exits 0 for `--help`; prints the problem and exits 2
 * for an unknown flag or a bad value.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @returns The options.
 */
export function parseLab3Args(argv: string[]): Lab3Options {
  return parseLab3ArgsWith(argv, {
    usage: USAGE,
    description:
      "Lab 3: lab 2's cache server behind an encrypted, authenticated channel (or standard TLS).\n" +
      "Clients connect with deno task lab3:client; a plaintext client is refused.",
  }).options;
}

/**
 * Parses lab 3's arguments plus a later lab's own flags, with one `--help` listing them all, as
 * lab 2's {@link parseLab2ArgsWith} does for lab 3.
 *
 * @param argv The arguments, usually `Deno.args`.
 * @param spec The lab's usage line, description, extra flags and their help.
 * @returns Lab 3's options (`secure` true), and the raw values of the extra flags.
 */
export function parseLab3ArgsWith(
  argv: string[],
  spec: ServerArgsSpec,
): { options: Lab3Options; extra: ExtraArgValues } {
  const usage = spec.usage;
  const { options, extra } = parseLab2ArgsWith(argv, {
    ...spec,
    options: {
      ...spec.options,
      dir: { type: "string" },
      cipher: { type: "string" },
      crypto: { type: "string" },
      requirepass: { type: "string" },
      "requirepass-file": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "handshake-timeout": { type: "string" },
      trace: { type: "boolean" },
    },
    help: HELP + (spec.help ?? ""),
  });
  const text = (name: string): string | undefined => {
    const value = extra[name];
    return typeof value === "string" ? value : undefined;
  };

  const cipherText = text("cipher");
  const cipher = cipherText === undefined ? "aes-256-gcm" : CIPHERS.find((c) => c === cipherText);
  if (cipher === undefined) {
    usageError(
      `Invalid cipher: "${cipherText}" is not aes-256-gcm, chacha20-poly1305 or fernet`,
      usage,
    );
  }

  const cryptoText = text("crypto") ?? "auto";
  const crypto = CRYPTO_CHOICES.find((c) => c === cryptoText);
  if (crypto === undefined) {
    usageError(`Invalid crypto: "${cryptoText}" is not openssl, node or auto`, usage);
  }

  const certFile = text("tls-cert");
  const keyFile = text("tls-key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    usageError("TLS needs both --tls-cert and --tls-key", usage);
  }
  const tls = certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined;
  if (tls !== undefined && cipherText !== undefined) {
    usageError("--cipher chooses the secure channel's records; TLS chooses its own", usage);
  }

  const timeoutText = text("handshake-timeout") ?? String(DEFAULT_HANDSHAKE_TIMEOUT_MS);
  const handshakeTimeoutMs = Number(timeoutText);
  if (!/^\d+$/.test(timeoutText) || handshakeTimeoutMs < 1 || handshakeTimeoutMs > 3_600_000) {
    usageError(
      `Invalid handshake-timeout: "${timeoutText}" is not a number of milliseconds from 1 ` +
        "to 3600000",
      usage,
    );
  }

  const requirepass = readPassword(text("requirepass"), text("requirepass-file"), usage);

  const lab3: Lab3Options = {
    ...options,
    dir: text("dir") ?? "./data",
    cipher,
    crypto,
    // A password typed in a shell is text; clients send its UTF-8 bytes, so compare those.
    requirepass: requirepass === undefined ? undefined : utf8ToByteString(requirepass),
    tls,
    handshakeTimeoutMs,
    trace: extra.trace === true,
    secure: true,
  };
  return { options: lab3, extra };
}

/** The environment variable that may hold the server's password, as `REDISCLI_AUTH` holds redis-cli's. */
export const REQUIREPASS_ENV = "CACHELAB_REQUIREPASS";

/**
 * The password from `--requirepass`, `--requirepass-file` or {@link REQUIREPASS_ENV}, whichever
 * one is given (two at once is an error: which should win is a guess).
 *
 * A command line is public: every user of the machine sees it in `ps` and `/proc/PID/cmdline`.
 * A file only its owner can read, or the environment (readable by the same user and root only),
 * keeps the password to the people who already have the server's privileges.
 */
function readPassword(
  flag: string | undefined,
  file: string | undefined,
  usage: string,
): string | undefined {
  const env = Deno.env.get(REQUIREPASS_ENV);
  const given = [flag, file, env].filter((v) => v !== undefined).length;
  if (given > 1) {
    usageError(
      `Give the password one way: --requirepass, --requirepass-file or ${REQUIREPASS_ENV}`,
      usage,
    );
  }
  let password = flag ?? env;
  if (file !== undefined) {
    let mode: number | null;
    try {
      mode = Deno.statSync(file).mode;
      // One line: the trailing newline an editor adds is not part of the password.
      password = Deno.readTextFileSync(file).split(/\r?\n/)[0];
    } catch (error) {
      usageError(`Cannot read requirepass-file ${file}: ${(error as Error).message}`, usage);
    }
    if (mode !== null && (mode & 0o077) !== 0) {
      const octal = (mode & 0o777).toString(8).padStart(4, "0");
      usageError(
        `requirepass-file ${file} may be read by others (mode ${octal}). Run: chmod 600 ${file}`,
        usage,
      );
    }
  }
  if (password === "") {
    usageError("Invalid requirepass: the password is empty (leave the flag out for none)", usage);
  }
  return password;
}
