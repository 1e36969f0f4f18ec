/**
 * Memcached's text protocol: one command line in, one request (or an error reply) out.
 *
 * A memcached command is a line of words separated by spaces and ended by `\r\n`. The storage
 * commands are followed by a data block of exactly the announced length, and `\r\n`:
 *
 * ```
 * set <key> <flags> <exptime> <bytes> [noreply]\r\n<data>\r\n     set, add, replace, append, prepend
 * cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]\r\n<data>\r\n
 * get <key>*\r\n  gets <key>*\r\n  gat <exptime> <key>*\r\n  gats <exptime> <key>*\r\n
 * delete <key> [noreply]\r\n
 * incr <key> <value>\r\n  decr <key> <value>\r\n      (each also takes [noreply])
 * touch <key> <exptime> [noreply]\r\n
 * flush_all [delay] [noreply]\r\n  version\r\n  stats\r\n  verbosity <n>\r\n  quit\r\n
 * ```
 *
 * This module turns one line into a {@link Request}. It follows memcached 1.6's
 * `process_command_ascii()` decision by decision, because the details are visible to clients: which
 * mistakes answer `ERROR` and which `CLIENT_ERROR ...`, that `noreply` silences errors too, that a
 * wrong word count is checked before anything else. Reading the data block is the decoder's job
 * (`decoder.ts`); running a request is the store's (`store.ts`).
 *
 * One form is the course's own, not memcached's: memcached-lite's short
 * `set <key> <bytes>\r\n<data>\r\n`, flags and exptime omitted. Real memcached answers it `ERROR`.
 *
 * @module
 */

import { parseInt32, parseUint32, parseUint64 } from "./numbers.ts";

/** Memcached's `KEY_MAX_LENGTH`: longer keys are `CLIENT_ERROR bad command line format`. */
export const KEY_MAX_LENGTH = 250;

/**
 * Memcached tokenizes at most 24 tokens (`MAX_TOKENS`), the last one being an end marker, so it
 * sees at most 23 words; the rest of a long line only matters to `get`, which reads on.
 */
const MAX_WORDS = 23;

/** The storage commands: a command line, then a data block. */
export type StorageCommand = "set" | "add" | "replace" | "append" | "prepend" | "cas";

/** A storage command whose line has been read; `data` is filled in once the block has arrived. */
export interface StoreRequest {
  /** Tells this request from the others. */
  kind: "store";
  /** Which storage command. */
  command: StorageCommand;
  /** The item's key. */
  key: string;
  /** Opaque 32-bit flags stored with the item (ignored by append/prepend). */
  flags: number;
  /** As sent: 0 never, negative already expired, up to 30 days relative, beyond that absolute. */
  exptime: number;
  /** Length of the data block, without its `\r\n`. */
  bytes: number;
  /** The `cas` command's unique; 0 for the others. */
  cas: bigint;
  /** `noreply` was given: the client wants no answer. */
  noreply: boolean;
  /** The data block, once read. */
  data: string;
}

/** Every request a connection can make. */
export type Request =
  | StoreRequest
  | { kind: "get"; withCas: boolean; keys: string[] }
  /** `gat`/`gats <exptime> <key>*`: get and touch in one. */
  | { kind: "gat"; withCas: boolean; exptime: number; keys: string[] }
  | { kind: "delete"; key: string; noreply: boolean }
  | { kind: "incr" | "decr"; key: string; delta: bigint; noreply: boolean }
  | { kind: "touch"; key: string; exptime: number; noreply: boolean }
  | { kind: "flush_all"; delay: number; noreply: boolean }
  | { kind: "stats"; args: string[] }
  | { kind: "version" }
  | { kind: "verbosity"; noreply: boolean }
  | { kind: "quit" }
  /** An answer decided from the line alone, usually an error; `null` when `noreply` silences it. */
  | { kind: "reply"; text: string | null }
  /** A storage command whose data block was larger than an item may be, swallowed unread. */
  | { kind: "too_large"; request: StoreRequest }
  /** A data block not followed by `\r\n`. */
  | { kind: "bad_chunk"; noreply: boolean }
  /** Drop the connection without a word, as memcached does for an HTTP request line. */
  | { kind: "close" };

const ERROR: Request = { kind: "reply", text: "ERROR" };
const BAD_FORMAT = "CLIENT_ERROR bad command line format";

/** An answer that `noreply` silences, as memcached's `out_string()` does once noreply is set. */
function reply(text: string, noreply: boolean): Request {
  return { kind: "reply", text: noreply ? null : text };
}

/**
 * Splits a command line into words at spaces, as memcached's `tokenize_command()` does: runs of
 * spaces count as one, and nothing else (not even a tab) separates words.
 *
 * @param line The line without its `\r\n`, as a byte string.
 * @returns The words.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let start = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line.charCodeAt(i) === 0x20) {
      if (i > start) words.push(line.slice(start, i));
      start = i + 1;
    }
  }
  return words;
}

/** What limits a command line is checked against. */
export interface ItemLimits {
  /** Memcached's `-I` (`item_size_max`): the largest item, header included (1 MiB). */
  maxItemSize: number;
}

/**
 * How many bytes memcached's slab allocator needs for an item: a 48-byte header, the key and a NUL,
 * the data and its `\r\n`, 8 bytes of cas, and 4 of flags when they are not 0. Comparing this (not
 * the data length) with the limit makes the boundary land on exactly the same byte as memcached's.
 *
 * @param keyLength Bytes of key.
 * @param flags The item's flags.
 * @param bytes Bytes of data.
 * @returns The item's size in memcached.
 */
export function itemSize(keyLength: number, flags: number, bytes: number): number {
  return 48 + keyLength + 1 + bytes + 2 + 8 + (flags === 0 ? 0 : 4);
}

/**
 * Turns one command line into a request.
 *
 * @param line The line, without `\r\n`, as a byte string.
 * @param limits The item size limit.
 * @returns What to do.
 */
export function parseCommandLine(line: string, limits: ItemLimits): Request {
  // The C code sees the line as a C string: a NUL byte ends it.
  const nul = line.indexOf("\0");
  const words = splitWords(nul < 0 ? line : line.slice(0, nul));
  // ntokens in memcached counts the words it tokenized plus an end marker.
  const ntokens = Math.min(words.length, MAX_WORDS) + 1;
  // exercise memcache step 2: an empty line, or a one-letter command, is ERROR; noreply is whatever word comes last
  if (words.length === 0 || words[0].length < 2) return ERROR;
  // set_noreply_maybe(): "noreply" is whatever word comes last.
  const noreply = words[ntokens - 2] === "noreply";
  // exercise starter: const noreply = false;
  const name = words[0];

  switch (name) {
    case "get":
    case "gets":
      if (ntokens < 3) return ERROR;
      return { kind: "get", withCas: name === "gets", keys: words.slice(1) };
    case "gat":
    case "gats": {
      if (ntokens < 3) return ERROR;
      const exptime = parseInt32(words[1]);
      if (exptime === null) return { kind: "reply", text: "CLIENT_ERROR invalid exptime argument" };
      return { kind: "gat", withCas: name === "gats", exptime, keys: words.slice(2) };
    }
    case "set":
      // memcached-lite's short form: `set <key> <bytes>`.
      if (ntokens === 4) {
        return parseStorage("set", [name, words[1], "0", "0", words[2]], false, limits);
      }
      if (ntokens !== 6 && ntokens !== 7) return ERROR;
      return parseStorage(name, words, noreply, limits);
    case "add":
    case "append":
    case "replace":
    case "prepend":
      if (ntokens !== 6 && ntokens !== 7) return ERROR;
      return parseStorage(name, words, noreply, limits);
    case "cas":
      if (ntokens !== 7 && ntokens !== 8) return ERROR;
      return parseStorage(name, words, noreply, limits);
    case "incr":
    case "decr": {
      if (ntokens !== 4 && ntokens !== 5) return ERROR;
      if (words[1].length > KEY_MAX_LENGTH) return reply(BAD_FORMAT, noreply);
      const delta = parseUint64(words[2]);
      if (delta === null) return reply("CLIENT_ERROR invalid numeric delta argument", noreply);
      return { kind: name, key: words[1], delta, noreply };
    }
    case "delete":
      return parseDelete(words, ntokens, noreply);
    case "touch": {
      if (ntokens !== 4 && ntokens !== 5) return ERROR;
      if (words[1].length > KEY_MAX_LENGTH) return reply(BAD_FORMAT, noreply);
      const exptime = parseInt32(words[2]);
      if (exptime === null) return reply("CLIENT_ERROR invalid exptime argument", noreply);
      return { kind: "touch", key: words[1], exptime, noreply };
    }
    case "flush_all": {
      if (ntokens > 4) return ERROR;
      let delay = 0;
      // A word that is not the optional "noreply" must be the delay.
      if (ntokens !== (noreply ? 3 : 2)) {
        const parsed = parseInt32(words[1]);
        if (parsed === null) return reply("CLIENT_ERROR invalid exptime argument", noreply);
        delay = parsed;
      }
      return { kind: "flush_all", delay, noreply };
    }
    case "stats":
      return { kind: "stats", args: words.slice(1, ntokens - 1) };
    case "version":
      return { kind: "version" };
    case "quit":
      return { kind: "quit" };
    case "verbosity":
      if (ntokens !== 3 && ntokens !== 4) return ERROR;
      // The level is accepted and ignored: this server's log has one level.
      if (parseUint32(words[1]) === null) return reply(BAD_FORMAT, noreply);
      return { kind: "verbosity", noreply };
  }
  // Memcached hangs up on a browser or an HTTP client that found its port.
  if (words[ntokens - 2].startsWith("HTTP/")) return { kind: "close" };
  return ERROR;
}

/** `process_update_command()`: the line of set/add/replace/append/prepend/cas. */
function parseStorage(
  command: StorageCommand,
  words: string[],
  noreply: boolean,
  limits: ItemLimits,
): Request {
  const key = words[1];
  // exercise memcache step 2: a key over 250 bytes, or a flags, exptime, bytes or cas unique memcached cannot read as a number (or bytes out of range), is BAD_FORMAT
  if (key.length > KEY_MAX_LENGTH) return reply(BAD_FORMAT, noreply);
  const flags = parseUint32(words[2]);
  const exptime = parseInt32(words[3]);
  const bytes = parseInt32(words[4]);
  if (flags === null || exptime === null || bytes === null) return reply(BAD_FORMAT, noreply);
  let cas = 0n;
  if (command === "cas") {
    const parsed = parseUint64(words[5]);
    if (parsed === null) return reply(BAD_FORMAT, noreply);
    cas = parsed;
  }
  if (bytes < 0 || bytes > 2 ** 31 - 3) return reply(BAD_FORMAT, noreply);
  // exercise starter: const [flags, exptime, bytes] = [2, 3, 4].map((i) => Number(words[i]));
  // exercise starter: const cas = command === "cas" ? BigInt(words[5]) : 0n;
  const request: StoreRequest = {
    kind: "store",
    command,
    key,
    flags,
    exptime,
    bytes,
    cas,
    noreply,
    data: "",
  };
  // Too big to store: the decoder still has to skip the data block, so it is a request too.
  if (itemSize(key.length, flags, bytes) > limits.maxItemSize) {
    return { kind: "too_large", request };
  }
  return request;
}

/**
 * `delete <key> [0] [noreply]`: the `0` is a relic of a removed "hold time" argument.
 *
 * memcached looks for `noreply` only when there is a word after the key, so `delete noreply`
 * deletes the key named "noreply" and answers; `delete noreply noreply` deletes it silently.
 */
function parseDelete(words: string[], ntokens: number, lastIsNoreply: boolean): Request {
  if (ntokens < 3 || ntokens > 5) return ERROR;
  const noreply = ntokens > 3 && lastIsNoreply;
  if (ntokens > 3) {
    const holdIsZero = words[2] === "0";
    const valid = (ntokens === 4 && (holdIsZero || noreply)) ||
      (ntokens === 5 && holdIsZero && noreply);
    if (!valid) {
      return reply(
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
        noreply,
      );
    }
  }
  if (words[1].length > KEY_MAX_LENGTH) return reply(BAD_FORMAT, noreply);
  return { kind: "delete", key: words[1], noreply };
}
