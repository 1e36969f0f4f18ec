/**
 * Deciding whether to trust a server's identity key, the way SSH does.
 *
 * The handshake proves that the server holds the private half of the identity key it presents.
 * It cannot prove that this is the *right* key: an impostor holds its own key just as well. The
 * client has to know which key to expect. Two ways, both from SSH:
 *
 * - **Trust on first use** ({@link KnownHosts}): the first time a client meets a server, it
 *   records the server's key in a known-hosts file; every later connection must present the same
 *   key. The very first connection is taken on faith; every later one is checked. A key that
 *   changes is refused loudly, with SSH's own warning, before any command is sent.
 * - **Pinning** ({@link pinnedFingerprint}, `--server-fingerprint`): the user got the fingerprint
 *   through another channel (the server prints it at start) and insists on it. No first-use leap.
 *
 * The file is OpenSSH's `known_hosts` format, one key per line:
 *
 * ```
 * # comments and blank lines are ignored
 * [127.0.0.1]:6379 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0sD1dR9k2fI0…
 * ```
 *
 * so `ssh-keygen -l -f FILE` lists its fingerprints and `ssh-keygen -R '[127.0.0.1]:6379' -f FILE`
 * removes an entry.
 *
 * @module
 */

import { dirname } from "node:path";
import { ServerKeyRejectedError } from "./errors.ts";
import { fingerprintOf, parseSshPublicKey, sshPublicKeyLine } from "./identity.ts";

/** A function for `ClientChannelOptions.verifyServerKey`. */
export type VerifyServerKey = (publicKey: Uint8Array, fingerprint: string) => void | Promise<void>;

/** One key recorded for a host. */
export interface KnownHostEntry {
  /** The host field as written, such as `[127.0.0.1]:6379`. */
  readonly host: string;
  /** The raw 32-byte Ed25519 key. */
  readonly publicKey: Uint8Array;
  /** Its fingerprint. */
  readonly fingerprint: string;
  /** Its line in the file, counting from 1. */
  readonly line: number;
}

/** What {@link KnownHosts.verify} found. */
export type VerifyOutcome = "known" | "added";

/** The server presented a key other than the one recorded for it. */
export class HostKeyChangedError extends ServerKeyRejectedError {
  /** The server, as named in the file. */
  readonly host: string;
  /** The known-hosts file. */
  readonly path: string;
  /** The line holding the expected key. */
  readonly line: number;

  /**
   * Makes the error, with SSH's warning as its message.
   *
   * @param host The server, as named in the file.
   * @param entry The recorded key.
   * @param actual The fingerprint the server presented.
   * @param path The known-hosts file.
   */
  constructor(host: string, entry: KnownHostEntry, actual: string, path: string) {
    super(entry.fingerprint, actual, changedKeyWarning(host, entry, actual, path));
    this.host = host;
    this.path = path;
    this.line = entry.line;
    this.name = "HostKeyChangedError";
  }
}

const BANNER = "@".repeat(59);

function changedKeyWarning(
  host: string,
  entry: KnownHostEntry,
  actual: string,
  path: string,
): string {
  return [
    BANNER,
    "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
    BANNER,
    "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
    "Someone could be eavesdropping on you right now (man-in-the-middle attack)!",
    "It is also possible that the server's identity key has just been changed.",
    `The fingerprint for the ED25519 key sent by the remote host ${host} is`,
    `  ${actual}`,
    `The key recorded for it in ${path}:${entry.line} is`,
    `  ${entry.fingerprint}`,
    "If you know the server's key was changed on purpose, remove the old one:",
    `  ssh-keygen -R '${host}' -f ${path}    (or delete line ${entry.line} of that file)`,
    "and connect again.",
    `Offending ED25519 key in ${path}:${entry.line}`,
    "Host key verification failed.",
  ].join("\n");
}

/**
 * The host field for a server: `[host]:port`, as OpenSSH writes hosts on a port other than 22.
 *
 * @param hostPort Such as `127.0.0.1:6379`, `localhost:6379` or `[::1]:6379`.
 * @returns Such as `[127.0.0.1]:6379`.
 * @throws {SyntaxError} When there is no port.
 */
export function hostKeyName(hostPort: string): string {
  const match = /^(?:\[([^\]]+)\]|([^[\]]+)):(\d{1,5})$/.exec(hostPort);
  if (match === null || Number(match[3]) > 65535) {
    throw new SyntaxError(`Cannot parse address "${hostPort}": expected HOST:PORT`);
  }
  const host = (match[1] ?? match[2]).toLowerCase();
  return `[${host}]:${Number(match[3])}`;
}

/** A known-hosts file: trust on first use, refuse a changed key. */
export class KnownHosts {
  /** The file. */
  readonly path: string;
  #entries: KnownHostEntry[] = [];

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Opens a known-hosts file; a missing one is an empty list, created on the first {@link verify}.
   *
   * @param path The file.
   * @returns The list.
   * @throws {Error} When others may write the file (they could plant a key there).
   */
  static async open(path: string): Promise<KnownHosts> {
    const hosts = new KnownHosts(path);
    await hosts.#load();
    return hosts;
  }

  /**
   * The keys recorded for a server.
   *
   * @param hostPort The server, `host:port`.
   * @returns Its entries, in file order; none if it is new.
   */
  lookup(hostPort: string): KnownHostEntry[] {
    const name = hostKeyName(hostPort);
    return this.#entries.filter((entry) =>
      entry.host.split(",").some((field) => field.toLowerCase() === name)
    );
  }

  /**
   * Checks a server's key: accepts a recorded one, records a new server's, refuses a changed one.
   * The file is read again first, so entries added by another client since {@link open} count.
   *
   * @param hostPort The server, `host:port`.
   * @param publicKey The raw key it presented (already proved by its signature).
   * @param fingerprint That key's fingerprint.
   * @returns `"known"` or `"added"`.
   * @throws {HostKeyChangedError} When the server has a recorded key and this is not it.
   */
  async verify(
    hostPort: string,
    publicKey: Uint8Array,
    fingerprint: string,
  ): Promise<VerifyOutcome> {
    await this.#load();
    const entries = this.lookup(hostPort);
    if (entries.some((entry) => entry.fingerprint === fingerprint)) return "known";
    if (entries.length > 0) {
      throw new HostKeyChangedError(hostKeyName(hostPort), entries[0], fingerprint, this.path);
    }
    await this.#append(hostKeyName(hostPort), publicKey);
    return "added";
  }

  /**
   * Makes the `verifyServerKey` callback for one server.
   *
   * @param hostPort The server, `host:port`, as the user typed it.
   * @param onAdded Called with SSH's "Permanently added" notice when a new server is recorded.
   * @returns The callback.
   * @example
   * ```ts
   * const knownHosts = await KnownHosts.open(`${Deno.env.get("HOME")}/.cachelab/known_hosts`);
   * const channel = await connectSecure(conn, {
   *   verifyServerKey: knownHosts.verifier("127.0.0.1:6379", (notice) => console.error(notice)),
   * });
   * ```
   */
  verifier(hostPort: string, onAdded?: (notice: string) => void): VerifyServerKey {
    return async (publicKey, fingerprint) => {
      if (await this.verify(hostPort, publicKey, fingerprint) === "added") {
        onAdded?.(
          `Warning: Permanently added '${hostKeyName(hostPort)}' (ED25519 ${fingerprint}) to ` +
            `the list of known hosts in ${this.path}.`,
        );
      }
    };
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      const { mode } = await Deno.stat(this.path);
      if (mode !== null && (mode & 0o022) !== 0) {
        const octal = (mode & 0o777).toString(8).padStart(4, "0");
        throw new Error(
          `Known hosts file ${this.path} is writable by others (mode ${octal}), who could plant ` +
            `a key in it. Run: chmod 600 ${this.path}`,
        );
      }
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      text = "";
    }
    this.#entries = parseKnownHosts(text);
  }

  async #append(host: string, publicKey: Uint8Array): Promise<void> {
    await Deno.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    let prefix = "";
    try {
      const text = await Deno.readTextFile(this.path);
      if (text.length > 0 && !text.endsWith("\n")) prefix = "\n";
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    // Append mode: one short write at the end of the file, which two clients adding hosts at the
    // same moment cannot interleave.
    const line = `${host} ${sshPublicKeyLine(publicKey, "").trimEnd()}\n`;
    await Deno.writeTextFile(this.path, prefix + line, { append: true, create: true, mode: 0o600 });
    await this.#load();
  }
}

/**
 * Reads the `ssh-ed25519` lines of a known-hosts file. Other key types, hashed host names and
 * `@` markers, which OpenSSH also writes, are skipped: this client only meets Ed25519 servers.
 *
 * @param text The file's contents.
 * @returns The entries, with their line numbers.
 */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("@") || line.startsWith("|")) return;
    const [host, type, key] = line.split(/\s+/);
    if (type !== "ssh-ed25519" || key === undefined) return;
    const publicKey = parseSshPublicKey(key);
    if (publicKey === undefined) return;
    entries.push({ host, publicKey, fingerprint: fingerprintOf(publicKey), line: index + 1 });
  });
  return entries;
}

const FINGERPRINT = /^(?:SHA256:)?([A-Za-z0-9+/]{43})=?$/;

/**
 * Checks and normalises a fingerprint as a user may type it (with or without `SHA256:`).
 *
 * @param text Such as `SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s`.
 * @returns The fingerprint with its `SHA256:` prefix.
 * @throws {TypeError} When it is not a SHA-256 fingerprint.
 */
export function parseFingerprint(text: string): string {
  const match = FINGERPRINT.exec(text.trim());
  if (match === null) {
    throw new TypeError(
      `Invalid fingerprint "${text}": expected SHA256: and 43 base64 characters, as the server ` +
        "prints when it starts",
    );
  }
  return `SHA256:${match[1]}`;
}

/**
 * Makes a `verifyServerKey` callback that accepts one key only (`--server-fingerprint`).
 *
 * @param expected The fingerprint the server printed at start.
 * @returns The callback; it throws {@link ServerKeyRejectedError} for any other key.
 * @throws {TypeError} At once, when `expected` is not a fingerprint.
 * @example
 * ```ts
 * const verifyServerKey = pinnedFingerprint("SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s");
 * ```
 */
export function pinnedFingerprint(expected: string): VerifyServerKey {
  const pinned = parseFingerprint(expected);
  return (_publicKey, fingerprint) => {
    if (fingerprint === pinned) return;
    throw new ServerKeyRejectedError(
      pinned,
      fingerprint,
      "The server's identity key does not match the pinned fingerprint\n" +
        `  expected ${pinned}\n  received ${fingerprint}\n` +
        "Someone may be intercepting the connection, or the server's key was replaced. " +
        "Host key verification failed.",
    );
  };
}
