/**
 * Connection commands that real clients send before any work: `HELLO`, `QUIT`, `CLIENT ...`.
 *
 * They are not the point of any lab, but without them `redis-cli`, ioredis or node-redis would
 * stop at the door: a client library names itself with `CLIENT SETINFO`, asks for a protocol
 * version with `HELLO`, and says goodbye with `QUIT`.
 *
 * @module
 */

import {
  cString,
  err,
  ErrorReply,
  MapReply,
  OK,
  type Protocol,
  type Reply,
  SimpleString,
  VerbatimString,
} from "../resp/reply.ts";
import type { CommandSpec } from "../server/command_table.ts";
import { REDIS_COMPAT_VERSION } from "../server/server_state.ts";
import type { ClientState, Session } from "../server/session.ts";

/** Redis's reply to a user name it does not know, or a wrong password. */
const WRONGPASS = new ErrorReply("WRONGPASS invalid username-password pair or user is disabled.");

/** The 64-bit range Redis's `long long` holds. */
const LONG_LONG_MIN = -(2n ** 63n);
const LONG_LONG_MAX = 2n ** 63n - 1n;

/**
 * Parses an integer as Redis's `string2ll` does: an optional `-`, digits, no leading zero, no `+`
 * and no `-0`, within 64 bits. `HELLO 02` is not `HELLO 2` to Redis, so it must not be here.
 * A `bigint`, because a double cannot tell 2^63 - 1 (accepted) from 2^63 (refused).
 */
function parseLongLong(text: string): bigint | undefined {
  if (!/^(0|-?[1-9][0-9]{0,18})$/.test(text)) return undefined;
  const value = BigInt(text);
  return value >= LONG_LONG_MIN && value <= LONG_LONG_MAX ? value : undefined;
}

/** Redis refuses names with spaces or control characters: they would break `CLIENT LIST`. */
function isPrintableWord(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function setName(client: ClientState, name: string): ErrorReply | undefined {
  if (!isPrintableWord(name)) {
    return err("Client names cannot contain spaces, newlines or special characters.");
  }
  client.name = name;
  return undefined;
}

/**
 * Reads `HELLO`'s protocol version as Redis 7.0 does: a strict 64-bit decimal (no `+`, no leading
 * zero, so `02` and `-0` are not integers), then 2 or 3.
 *
 * @param text The argument.
 * @returns The version, or the error to send.
 */
export function helloVersion(text: string): Protocol | ErrorReply {
  const integer = parseLongLong(text);
  if (integer === undefined) return err("Protocol version is not an integer or out of range");
  if (integer !== 2n && integer !== 3n) {
    return new ErrorReply("NOPROTO unsupported protocol version");
  }
  return Number(integer) as Protocol;
}

/**
 * `HELLO [protover [AUTH user pass] [SETNAME name]]`: the handshake of RESP3-aware clients.
 *
 * `HELLO 3` switches the connection to RESP3 (node-redis asks for it by default), `HELLO 2` back;
 * `HELLO` alone says hello in the protocol already in use. The answer is a map, which RESP2 sends
 * as a flat array of names and values, and its own reply is already in the new protocol.
 */
function hello({ client }: Session, args: string[]): Reply {
  let version: Protocol | undefined;
  if (args.length >= 2) {
    const parsed = helloVersion(args[1]);
    if (parsed instanceof ErrorReply) return parsed;
    version = parsed;
  }
  for (let i = 2; i < args.length; i++) {
    const option = args[i].toLowerCase();
    const left = args.length - i - 1;
    if (option === "auth" && left >= 2) {
      // No password is configured here, so any password is right for the one user Redis has,
      // "default"; any other name is a user that does not exist.
      if (args[i + 1] !== "default") return WRONGPASS;
      i += 2;
    } else if (option === "setname" && left >= 1) {
      const failed = setName(client, args[++i]);
      if (failed) return failed;
    } else {
      return err(`Syntax error in HELLO option '${cString(args[i])}'`);
    }
  }
  if (version !== undefined) client.protocol = version;
  return new MapReply([
    ["server", "redis"],
    ["version", REDIS_COMPAT_VERSION],
    ["proto", client.protocol],
    ["id", client.id],
    ["mode", "standalone"],
    ["role", "master"],
    ["modules", []],
  ]);
}

/** The client types `CLIENT LIST TYPE` knows, as Redis's `getClientTypeByName()`. */
const CLIENT_TYPES = new Set(["normal", "slave", "replica", "pubsub", "master"]);

/**
 * `CLIENT LIST [TYPE type | ID id [id ...]]`, with Redis 7.0's checks: an unknown type, an ID that
 * is not an integer, or any other argument is an error rather than a list of everyone.
 */
function clientList({ server }: Session, args: string[]): Reply {
  let clients: Iterable<ClientState> = server.clients.values();
  const filter = args[2]?.toLowerCase();
  if (args.length === 4 && filter === "type") {
    const type = args[3].toLowerCase();
    if (!CLIENT_TYPES.has(type)) return err(`Unknown client type '${cString(args[3])}'`);
    // Every client of this server is a normal one: no replicas, no pub/sub.
    if (type !== "normal") return "";
  } else if (args.length > 3 && filter === "id") {
    // In the order asked, as Redis lists them.
    const chosen: ClientState[] = [];
    for (const text of args.slice(3)) {
      const id = parseLongLong(text);
      if (id === undefined) return err("Invalid client ID");
      const client = server.clients.get(Number(id));
      if (client !== undefined) chosen.push(client);
    }
    clients = chosen;
  } else if (args.length !== 2) {
    return err("syntax error");
  }
  const now = Date.now();
  let text = "";
  for (const c of clients) text += clientLine(c, now);
  return new VerbatimString(text);
}

/**
 * One client as a line of `CLIENT LIST` (and the whole of `CLIENT INFO`), with Redis 7's fields in
 * Redis's order, because tools split the line by position as well as by name. The fields this
 * server has no counterpart for say so the way Redis does for a client without one: no file
 * descriptor it can name (`fd=-1`), no subscriptions, no transaction shown, empty buffers. What it
 * does know is real: addresses, name, ages, flags, the last command, the protocol, the library.
 */
function clientLine(c: ClientState, now: number): string {
  // flags: N for a normal client with nothing special, e once CLIENT NO-EVICT is on.
  return `id=${c.id} addr=${c.addr} laddr=${c.localAddr} fd=-1 name=${c.name} ` +
    `age=${Math.floor((now - c.connectedAt) / 1000)} ` +
    `idle=${Math.floor((now - c.lastInteraction) / 1000)} flags=${
      c.noEvict ? "e" : "N"
    } db=${c.database} ` +
    "sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 " +
    `oll=0 omem=0 tot-mem=0 events=r cmd=${c.lastCommand} user=default redir=-1 ` +
    `resp=${c.protocol} lib-name=${c.libName} lib-ver=${c.libVersion}\n`;
}

/**
 * `CLIENT KILL addr` (the old form: `+OK`, or an error if nobody matched; may kill the caller) and
 * `CLIENT KILL <filter> <value> ...` (ID, ADDR, LADDR, TYPE, SKIPME; replies with how many were
 * killed, never the caller unless `SKIPME no`), after Redis's `clientCommand()`.
 */
function clientKill({ client: self, server }: Session, args: string[]): Reply {
  let addr: string | null = null;
  let laddr: string | null = null;
  let id = 0;
  let normal = true;
  let skipMe = true;
  if (args.length === 3) {
    addr = args[2];
    skipMe = false;
  } else {
    for (let i = 2; i < args.length; i += 2) {
      const option = args[i].toLowerCase();
      const value = args[i + 1];
      if (value === undefined) return err("syntax error");
      if (option === "id") {
        const n = parseLongLong(value);
        if (n === undefined || n < 1n) return err("client-id should be greater than 0");
        id = Number(n);
      } else if (option === "type") {
        const type = value.toLowerCase();
        if (!CLIENT_TYPES.has(type)) return err(`Unknown client type '${cString(value)}'`);
        normal = type === "normal";
      } else if (option === "addr") addr = value;
      else if (option === "laddr") laddr = value;
      else if (option === "skipme") {
        const answer = value.toLowerCase();
        if (answer !== "yes" && answer !== "no") return err("syntax error");
        skipMe = answer === "yes";
      } else return err("syntax error");
    }
  }
  let killed = 0;
  for (const c of [...server.clients.values()]) {
    if (
      !normal || (addr !== null && c.addr !== addr) || (laddr !== null && c.localAddr !== laddr)
    ) {
      continue;
    }
    if ((id !== 0 && c.id !== id) || (c === self && skipMe)) continue;
    // The caller goes after its reply, as Redis's CLIENT_CLOSE_AFTER_REPLY.
    if (c === self) c.closeAfterReply = true;
    else server.killClient(c.id);
    killed++;
  }
  if (args.length > 3) return killed;
  return killed === 0 ? err("No such client") : OK;
}

function clientSetinfo({ client }: Session, args: string[]): Reply {
  const attribute = args[2].toLowerCase();
  if (attribute !== "lib-name" && attribute !== "lib-ver") {
    return err(`Unrecognized option '${cString(args[2])}'`);
  }
  if (!isPrintableWord(args[3]) && args[3] !== "") {
    return err(`${attribute} cannot contain spaces, newlines or special characters.`);
  }
  if (attribute === "lib-name") client.libName = args[3];
  else client.libVersion = args[3];
  return OK;
}

const CLIENT_HELP = [
  "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "INFO",
  "    Return information about the current client connection.",
  "KILL <ip:port>",
  "    Kill connection made from <ip:port>.",
  "KILL <option> <value> [<option> <value> [...]]",
  "    Kill connections. Options are:",
  "    * ADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made from the specified address",
  "    * LADDR (<ip:port>|<unixsocket>:0)",
  "      Kill connections made to specified local address",
  "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
  "      Kill connections by type.",
  "    * ID <client-id>",
  "      Kill connections by client id.",
  "    * SKIPME (YES|NO)",
  "      Skip killing current connection (default: yes).",
  "LIST",
  "    Return information about client connections.",
  "REPLY (ON|OFF|SKIP)",
  "    Control the replies sent to the current connection.",
  "SETINFO <option> <value>",
  "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  "NO-EVICT (ON|OFF)",
  "    Protect current client connection from eviction.",
  "HELP",
  "    Prints this help.",
].map((line) => new SimpleString(line));

/** `HELLO`, `QUIT` and `CLIENT`, as every lab's server registers them. */
export const connectionCommands: readonly CommandSpec[] = [
  {
    name: "hello",
    arity: -1,
    flags: ["noauth", "fast", "loading"],
    group: "connection",
    summary: "Handshakes with the server, choosing the protocol version",
    handler: hello,
  },
  {
    name: "quit",
    arity: -1,
    flags: ["noauth", "fast", "loading"],
    group: "connection",
    summary: "Closes the connection",
    handler: ({ client }) => {
      client.closeAfterReply = true;
      return OK;
    },
  },
  {
    name: "client",
    arity: -2,
    flags: [],
    group: "connection",
    summary: "A container for client connection commands",
    subcommands: [
      {
        name: "client|getname",
        arity: 2,
        flags: ["fast", "loading"],
        group: "connection",
        summary: "Returns the name of the connection",
        handler: ({ client }) => client.name === "" ? null : client.name,
      },
      {
        name: "client|help",
        arity: 2,
        flags: [],
        group: "connection",
        summary: "Shows helpful text about the different subcommands",
        handler: () => CLIENT_HELP,
      },
      {
        name: "client|id",
        arity: 2,
        flags: ["loading"],
        group: "connection",
        summary: "Returns the unique client ID of the connection",
        handler: ({ client }) => client.id,
      },
      {
        name: "client|info",
        arity: 2,
        flags: ["loading"],
        group: "connection",
        summary: "Returns information about the connection",
        handler: ({ client }) => new VerbatimString(clientLine(client, Date.now())),
      },
      {
        name: "client|kill",
        arity: -3,
        flags: ["admin", "loading"],
        group: "connection",
        summary: "Terminates open connections",
        handler: clientKill,
      },
      {
        name: "client|no-evict",
        arity: 3,
        flags: ["admin", "loading"],
        group: "connection",
        summary: "Sets the client eviction mode of the connection",
        // Redis may evict clients to stay under maxmemory-clients; no lab does, so this is a
        // flag CLIENT LIST shows (e) and nothing else.
        handler: ({ client }, args) => {
          const mode = args[2].toLowerCase();
          if (mode !== "on" && mode !== "off") return err("syntax error");
          client.noEvict = mode === "on";
          return OK;
        },
      },
      {
        name: "client|list",
        arity: -2,
        flags: ["admin", "loading"],
        group: "connection",
        summary: "Lists open connections",
        handler: clientList,
      },
      {
        name: "client|reply",
        arity: 3,
        flags: ["noscript", "loading", "stale"],
        group: "connection",
        summary: "Instructs the server whether to reply to commands",
        // Fire-and-forget writes: a loader sends OFF, thousands of SETs, then ON, and reads one
        // reply instead of thousands. The connection loop drops the replies (dropReply() in lab
        // 1's connection.ts); this only says how many. Redis sends no reply to OFF or SKIP
        // themselves, which the count includes.
        handler: ({ client }, args) => {
          const mode = args[2].toLowerCase();
          if (mode === "on") client.repliesToDrop = 0;
          else if (mode === "off") client.repliesToDrop = Infinity;
          // SKIP while OFF changes nothing, as in Redis.
          else if (mode === "skip") client.repliesToDrop = Math.max(client.repliesToDrop, 2);
          else return err("syntax error");
          return OK;
        },
      },
      {
        name: "client|setinfo",
        arity: 4,
        flags: ["loading"],
        group: "connection",
        summary: "Sets information specific to the client or connection",
        handler: clientSetinfo,
      },
      {
        name: "client|setname",
        arity: 3,
        flags: ["loading"],
        group: "connection",
        summary: "Sets the connection name",
        handler: ({ client }, args) => setName(client, args[2]) ?? OK,
      },
    ],
  },
];
