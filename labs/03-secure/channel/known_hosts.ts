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
 * The file is OpenSSH's, so it may hold what OpenSSH writes, and this client reads it as OpenSSH
 * does, because a line it misreads is a line that fails *open*: the server looks new, and the
 * client records whatever key it is shown.
 *
 * ```
 * |1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 AAAA…   ssh-keygen -H
 * *.example.org,[127.0.0.1]:*,!bad.example.org ssh-ed25519 AAAA…      patterns, ! excludes
 * @revoked [127.0.0.1]:6379 ssh-ed25519 AAAA…                         never trust this key
 * @cert-authority *.example.org ssh-ed25519 AAAA…                     certificates: unsupported
 * ```
 *
 * - A **hashed** host is `|1|salt|HMAC-SHA1(salt, host)`, both base64: the file no longer says
 *   which servers you visit, and a host matches if hashing its name with that salt gives the hash.
 * - **Patterns** use `*` and `?`; a host named by a `!pattern` never matches that line.
 * - **`@revoked`** keys are refused whoever presents them; **`@cert-authority`** lines trust keys
 *   signed by a CA, which this channel has no certificates for, so such a host is refused with a
 *   message that says so rather than silently treated as new.
 * - **Fail closed.** A line this client cannot read (a key missing a character, an unknown
 *   marker, a mangled hash) might be the very line about this server, so while it names the server
 *   (or cannot be told not to) nothing is trusted and nothing is added: the error names the file
 *   and line to fix.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { dirname } from "node:path";
import { ServerKeyRejectedError } from "./errors.ts";
import { fingerprintOf, parseSshPublicKey, sshPublicKeyLine } from "./identity.ts";

/** A function for `ClientChannelOptions.verifyServerKey`. */
export type VerifyServerKey = (publicKey: Uint8Array, fingerprint: string) => void | Promise<void>;

/** A line's marker: none, `@revoked` or `@cert-authority`. */
export type KnownHostMarker = "" | "@revoked" | "@cert-authority";

/** One key recorded for a host. */
export interface KnownHostEntry {
  /** The host field as written, such as `[127.0.0.1]:6379`, `*.example.org` or `|1|salt|hash`. */
  readonly host: string;
  /** The line's marker; `""` for an ordinary key. */
  readonly marker: KnownHostMarker;
  /** The key type, such as `ssh-ed25519` or `ssh-rsa`. */
  readonly keyType: string;
  /** The raw 32-byte Ed25519 key; `undefined` for the other types, which this client never uses. */
  readonly publicKey: Uint8Array | undefined;
  /** Its fingerprint, for an Ed25519 key. */
  readonly fingerprint: string | undefined;
  /** Its line in the file, counting from 1. */
  readonly line: number;
}

/** A line that is neither blank, a comment, nor a key this client can read. */
export interface UnreadableLine {
  /** Its line in the file, counting from 1. */
  readonly line: number;
  /** What is wrong with it. */
  readonly reason: string;
  /** Its host field, when that much could be read; `undefined` if it may concern any host. */
  readonly host: string | undefined;
}

/** Everything {@link parseKnownHosts} found in a file. */
export interface ParsedKnownHosts {
  /** The keys, in file order. */
  readonly entries: KnownHostEntry[];
  /** The lines it could not read. */
  readonly unreadable: UnreadableLine[];
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
    super(entry.fingerprint ?? "", actual, changedKeyWarning(host, entry, actual, path));
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

/**
 * The names a server is looked up under: `[host]:port`, as OpenSSH writes a server on a port
 * other than 22, and on port 22 its bare name as well.
 */
function lookupNames(hostPort: string): string[] {
  const name = hostKeyName(hostPort);
  return name.endsWith("]:22") ? [name, name.slice(1, -4)] : [name];
}

/**
 * Whether a host field names a server, as OpenSSH's `match_hostname` decides: a hashed field
 * matches if the name hashes to it; otherwise the comma-separated patterns are tried, and a
 * matching `!pattern` rules the line out whatever else matches.
 *
 * @param field The host field of a line.
 * @param name The server's name as the file would hold it, such as `[127.0.0.1]:6379`.
 * @returns Whether the line is about that server.
 */
export function hostFieldMatches(field: string, name: string): boolean {
  const hashed = parseHashedHost(field);
  if (hashed !== undefined) {
    const digest = createHmac("sha1", hashed.salt).update(name).digest();
    return digest.equals(hashed.hash);
  }
  let matched = false;
  for (const pattern of field.toLowerCase().split(",")) {
    const negated = pattern.startsWith("!");
    if (!wildcardMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `|1|salt|hash`, both 20 bytes of base64: `ssh-keygen -H`'s HMAC-SHA1 of the host name. */
function parseHashedHost(field: string): { salt: Buffer; hash: Buffer } | undefined {
  const parts = field.split("|");
  if (parts.length !== 4 || parts[0] !== "" || parts[1] !== "1") return undefined;
  const salt = strictBase64(parts[2]);
  const hash = strictBase64(parts[3]);
  if (salt === undefined || hash === undefined || salt.length !== 20 || hash.length !== 20) {
    return undefined;
  }
  return { salt, hash };
}

/**
 * OpenSSH's `match_pattern`: `*` is any run of characters, `?` any one; nothing else is special
 * (so `[127.0.0.1]:*` is brackets and a star, not a character class as in Redis's glob).
 */
function wildcardMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  // Where the last `*` was, and the text position it is currently stretched to.
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      starText = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * Decodes base64 only if it is written exactly as an encoder writes it. Node's decoder skips
 * what it does not understand and ignores a missing character, so a damaged key would decode to
 * *something*; comparing with the re-encoding refuses every such variant.
 */
function strictBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

/** A known-hosts file: trust on first use, refuse a changed key. */
export class KnownHosts {
  /** The file. */
  readonly path: string;
  #entries: KnownHostEntry[] = [];
  #unreadable: UnreadableLine[] = [];

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
    const names = lookupNames(hostPort);
    return this.#entries.filter((entry) => names.some((n) => hostFieldMatches(entry.host, n)));
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
   * @throws {ServerKeyRejectedError} When the key is `@revoked`, the server is under a
   *   `@cert-authority`, it is known only by keys of another type, or a line that may be about it
   *   cannot be read.
   */
  async verify(
    hostPort: string,
    publicKey: Uint8Array,
    fingerprint: string,
  ): Promise<VerifyOutcome> {
    await this.#load();
    const host = hostKeyName(hostPort);
    const names = lookupNames(hostPort);
    const refuse = (why: string, line: number) =>
      new ServerKeyRejectedError(
        "",
        fingerprint,
        `${why} (${this.path}:${line}). Host key verification failed.`,
      );
    // A line that cannot be read may be this server's key, or its revocation: trust nothing.
    const unreadable = this.#unreadable.find((u) =>
      u.host === undefined || names.some((n) => hostFieldMatches(u.host as string, n))
    );
    if (unreadable !== undefined) {
      throw refuse(
        `Cannot read line ${unreadable.line} of ${this.path} (${unreadable.reason}), which ` +
          `${unreadable.host === undefined ? "may be" : "is"} about ${host}; fix or delete that ` +
          "line before connecting",
        unreadable.line,
      );
    }
    const entries = this.lookup(hostPort);
    const revoked = entries.find((e) => e.marker === "@revoked" && e.fingerprint === fingerprint);
    if (revoked !== undefined) {
      throw refuse(`The ED25519 key ${fingerprint} of ${host} is marked as revoked`, revoked.line);
    }
    const authority = entries.find((e) => e.marker === "@cert-authority");
    if (authority !== undefined) {
      throw refuse(
        `${host} is to be verified by a certificate authority, which this client does not ` +
          "support (the secure channel has no certificates); pin its fingerprint instead",
        authority.line,
      );
    }
    const keys = entries.filter((e) => e.marker === "");
    // exercise step 3: trust on first use: "known" if one of keys has this fingerprint; HostKeyChangedError if an Ed25519 key is recorded and this is not it; otherwise record it with this.#append() and return "added"
    if (keys.some((entry) => entry.fingerprint === fingerprint)) return "known";
    const ed25519 = keys.find((e) => e.fingerprint !== undefined);
    if (ed25519 !== undefined) throw new HostKeyChangedError(host, ed25519, fingerprint, this.path);
    if (keys.length > 0) {
      // OpenSSH asks the user in this case; a client with no one to ask must refuse.
      throw refuse(
        `${host} is known by a ${keys[0].keyType} key, but presented an ED25519 key ` +
          `${fingerprint}`,
        keys[0].line,
      );
    }
    await this.#append(host, publicKey);
    return "added";
    // exercise starter: throw new NotImplementedError(3, "trust on first use (known hosts)");
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
    ({ entries: this.#entries, unreadable: this.#unreadable } = parseKnownHosts(text));
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
 * Reads a known-hosts file as OpenSSH's `hostfile.c` does: an optional marker, a host field, a key
 * type and a base64 key; anything after that is a comment.
 *
 * @param text The file's contents.
 * @returns The keys, and the lines that could not be read, with their line numbers.
 */
export function parseKnownHosts(text: string): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const unreadable: UnreadableLine[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === "" || fields[0].startsWith("#")) return;
    let marker: KnownHostMarker = "";
    if (fields[0].startsWith("@")) {
      const word = fields.shift() as string;
      if (word !== "@revoked" && word !== "@cert-authority") {
        unreadable.push({ line, reason: `unknown marker "${word}"`, host: undefined });
        return;
      }
      marker = word;
    }
    const [host, keyType, key] = fields;
    if (host === undefined || keyType === undefined || key === undefined) {
      unreadable.push({ line, reason: "expected a host, a key type and a key", host });
      return;
    }
    if (host.startsWith("|") && parseHashedHost(host) === undefined) {
      unreadable.push({ line, reason: "malformed hashed host name", host: undefined });
      return;
    }
    const blob = strictBase64(key);
    if (blob === undefined) {
      unreadable.push({ line, reason: "the key is not valid base64", host });
      return;
    }
    if (keyType !== "ssh-ed25519") {
      entries.push({
        host,
        marker,
        keyType,
        publicKey: undefined,
        fingerprint: undefined,
        line,
      });
      return;
    }
    const publicKey = parseSshPublicKey(key);
    if (publicKey === undefined) {
      unreadable.push({ line, reason: "the key is not an Ed25519 public key", host });
      return;
    }
    entries.push({ host, marker, keyType, publicKey, fingerprint: fingerprintOf(publicKey), line });
  });
  return { entries, unreadable };
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
  return (_publicKey, fingerprint) => checkPinned(pinned, fingerprint);
}

/** Throws a {@link ServerKeyRejectedError} unless the server's key is the pinned one. */
function checkPinned(pinned: string, fingerprint: string): void {
  // exercise step 3: accept only the pinned fingerprint: for any other, throw a ServerKeyRejectedError that shows both
  if (fingerprint === pinned) return;
  throw new ServerKeyRejectedError(
    pinned,
    fingerprint,
    "The server's identity key does not match the pinned fingerprint\n" +
      `  expected ${pinned}\n  received ${fingerprint}\n` +
      "Someone may be intercepting the connection, or the server's key was replaced. " +
      "Host key verification failed.",
  );
  // exercise starter: throw new NotImplementedError(3, "pin the server's fingerprint");
}
