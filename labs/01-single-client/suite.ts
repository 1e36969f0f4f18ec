/**
 * Lab 1's black-box suite: what a lab 1 server must do, checked over TCP with exact bytes.
 *
 * Every step marked `redis: true` passes against a real `redis-server` too (see
 * `redis_conformance_test.ts`), which is how we know these expectations are Redis's and not merely
 * ours. The others check the course's own behaviour: the socket-programming assignment's `DELETE`
 * alias, and serving one client at a time.
 *
 * @module
 */

import assert from "node:assert/strict";
import { bigKeyspaceSteps } from "../../shared/testing/big_keyspace.ts";
import { replyArray, replyText, showValue } from "../../shared/testing/raw_client.ts";
import type { SuiteStep } from "../../shared/testing/suite.ts";

/** `$<len>\r\n<data>\r\n` for a byte string. */
export function bulk(data: string): string {
  return `$${data.length}\r\n${data}\r\n`;
}

/** A command as an array of bulk strings, the way client libraries send it. */
export function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map(bulk).join("")}`;
}

/**
 * 5,000 keys written in step 4 and read again at the very end: a server that keeps only its last
 * few keys passes every other check (they hold one to three keys each), but not these.
 */
const keyspace = bigKeyspaceSteps({ label: "lab1-keyspace", keys: 5000, oneClientAtATime: true });

/** The steps of lab 1, in the order the lesson introduces them. */
export const lab1Steps: readonly SuiteStep[] = [
  {
    name: "PING replies +PONG",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("PING"));
      await c.expect("+PONG\r\n");
    },
  },
  {
    name: "PING with a message replies with the message as a bulk string",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("PING", "hello world"));
      await c.expect(bulk("hello world"));
    },
  },
  {
    name: "PING with two arguments is a wrong-arity error",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("PING", "a", "b"));
      await c.expect("-ERR wrong number of arguments for 'ping' command\r\n");
    },
  },
  {
    name: "ECHO replies with its argument",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const value = ctx.value();
      await c.send(command("ECHO", value));
      await c.expect(bulk(value));
    },
  },
  {
    name: "SET replies +OK and GET returns the value",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      const value = ctx.value();
      await c.send(command("SET", key, value));
      await c.expect("+OK\r\n");
      await c.send(command("GET", key));
      await c.expect(bulk(value));
    },
  },
  {
    name: "GET of a missing key replies with the null bulk string",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("GET", ctx.key("missing")));
      await c.expect("$-1\r\n");
    },
  },
  {
    name: "SET replaces the old value",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(command("SET", key, "first") + command("SET", key, "second"));
      await c.expect("+OK\r\n+OK\r\n");
      await c.send(command("GET", key));
      await c.expect(bulk("second"));
    },
  },
  {
    name: "keys and values are binary-safe: CR, LF, NUL and invalid UTF-8 round trip",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key("bin\r\n\0\xff");
      const value = "line one\r\nline two\0\xc3\x28\xff\xfe";
      await c.send(command("SET", key, value));
      await c.expect("+OK\r\n");
      await c.send(command("GET", key));
      await c.expect(bulk(value));
    },
  },
  {
    name: "an empty value is stored and returned as $0",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(command("SET", key, ""));
      await c.expect("+OK\r\n");
      await c.send(command("GET", key));
      await c.expect("$0\r\n\r\n");
    },
  },
  {
    name: "a 1 MiB value sent in one frame round trips intact",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key("big");
      const value = ctx.value(1024).repeat(1024);
      await c.send(command("SET", key, value));
      await c.expect("+OK\r\n");
      await c.send(command("GET", key));
      await c.expect(bulk(value));
    },
  },
  {
    name: "DEL removes keys and counts only those that existed",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const [a, b] = [ctx.key("a"), ctx.key("b")];
      await c.send(command("SET", a, "1") + command("SET", b, "2"));
      await c.expect("+OK\r\n+OK\r\n");
      await c.send(command("DEL", a, b, ctx.key("never")));
      await c.expect(":2\r\n");
      await c.send(command("GET", a));
      await c.expect("$-1\r\n");
      await c.send(command("DEL", a));
      await c.expect(":0\r\n");
    },
  },
  {
    name: "DELETE is the socket-programming assignment's name for DEL",
    redis: false,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(command("SET", key, "v"));
      await c.expect("+OK\r\n");
      await c.send(command("DELETE", key));
      await c.expect(":1\r\n");
      await c.send(command("EXISTS", key));
      await c.expect(":0\r\n");
    },
  },
  {
    name: "EXISTS counts existing keys, a repeated key once per mention",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(command("SET", key, "v"));
      await c.expect("+OK\r\n");
      await c.send(command("EXISTS", key, key, ctx.key("missing")));
      await c.expect(":2\r\n");
    },
  },
  keyspace.write,
  {
    name: "a wrong number of arguments gets Redis's error, naming the command in lower case",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const cases: [string[], string][] = [
        [["GET"], "get"],
        [["get", "a", "b"], "get"],
        [["SET", "k"], "set"],
        [["DEL"], "del"],
        [["EXISTS"], "exists"],
        [["Echo"], "echo"],
      ];
      for (const [args, name] of cases) {
        await c.send(command(...args));
        await c.expect(`-ERR wrong number of arguments for '${name}' command\r\n`);
      }
    },
  },
  {
    name: "an unknown command gets Redis's error quoting its arguments",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("FOO", "a", "b c"));
      await c.expect("-ERR unknown command 'FOO', with args beginning with: 'a' 'b c' \r\n");
      await c.send(command("nosuchcommand"));
      await c.expect("-ERR unknown command 'nosuchcommand', with args beginning with: \r\n");
    },
  },
  {
    name: "SET with options lab 1 does not know is a syntax error in lab 1",
    redis: false,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("SET", ctx.key(), "v", "BOGUS"));
      await c.expect("-ERR syntax error\r\n");
    },
  },
  {
    name: "command names are case-insensitive",
    redis: true,
    // ECHO and PING, not SET and GET: this is step 3's check, and the keyspace is step 4's.
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("echo", "v") + command("eCHo", "w") + command("Ping"));
      await c.expect(bulk("v") + bulk("w") + "+PONG\r\n");
    },
  },
  {
    name: "inline commands work as nc and telnet send them, quotes included",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(`SET ${key} "hello world"\r\nGET ${key}\r\nPING\n`);
      await c.expect("+OK\r\n" + bulk("hello world") + "+PONG\r\n");
    },
  },
  {
    name: "inline quotes understand escapes: \\x41, \\n and single quotes",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(`SET ${key} "\\x41\\n"'it\\'s'\r\nGET ${key}\r\n`);
      // `"\x41\n"'it\'s'` is an error: a closing quote must be followed by a space.
      await c.expect("-ERR Protocol error: unbalanced quotes in request\r\n");
      await c.expectClosed();
      const d = await ctx.connect();
      await d.send(`SET ${key} "\\x41\\n" 'it\\'s'\r\nGET ${key}\r\n`);
      await d.expect("-ERR syntax error\r\n$-1\r\n");
    },
  },
  {
    name: "empty lines and empty arrays are ignored",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("\r\n\r\n*0\r\n*-1\r\nPING\r\n");
      await c.expect("+PONG\r\n");
    },
  },
  {
    name: "a pipelined batch gets one reply per command, in order",
    redis: true,
    // Only PING, which step 1 wrote: this is step 2's check, and the keyspace is step 4's.
    async run(ctx) {
      const c = await ctx.connect();
      let batch = "";
      let expected = "";
      for (let i = 0; i < 200; i++) {
        batch += command("PING", `reply ${i}`) + command("PING");
        expected += bulk(`reply ${i}`) + "+PONG\r\n";
      }
      await c.send(batch);
      await c.expect(expected);
    },
  },
  {
    name: "a command split across many small writes is answered once it is whole",
    redis: true,
    // PING with a message, not SET and GET: step 2 comes before the keyspace (step 4).
    async run(ctx) {
      const c = await ctx.connect();
      const frame = command("PING", "split value") + command("PING");
      // One pause in the middle of the value, so the server surely reads half of it on its own:
      // small writes in a row may reach it as one read on a busy machine.
      const middle = frame.indexOf("split value") + 5;
      for (let i = 0; i < frame.length; i += 3) {
        await c.send(frame.slice(i, i + 3));
        if (i < middle && middle <= i + 3) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await c.expect(bulk("split value") + "+PONG\r\n");
    },
  },
  {
    name: "a bad multibulk length gets a protocol error and the connection is closed",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("*x\r\n");
      await c.expect("-ERR Protocol error: invalid multibulk length\r\n");
      await c.expectClosed();
    },
  },
  {
    name: "a bad bulk length gets a protocol error and the connection is closed",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("*1\r\n$-3\r\n");
      await c.expect("-ERR Protocol error: invalid bulk length\r\n");
      await c.expectClosed();
    },
  },
  {
    name: "an array element that is not a bulk string is a protocol error",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("*1\r\n:1\r\n");
      await c.expect("-ERR Protocol error: expected '$', got ':'\r\n");
      await c.expectClosed();
    },
  },
  {
    name: "commands before a protocol error in the same batch are answered first",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("PING") + command("ECHO", "x") + "*1\r\n$bad\r\n");
      await c.expect("+PONG\r\n" + bulk("x") + "-ERR Protocol error: invalid bulk length\r\n");
      await c.expectClosed();
    },
  },
  {
    name: "a protocol error from one client does not disturb the data or other clients",
    redis: true,
    async run(ctx) {
      const key = ctx.key();
      const writer = await ctx.connect();
      await writer.send(command("SET", key, "kept"));
      await writer.expect("+OK\r\n");
      await writer.close();
      const vandal = await ctx.connect();
      await vandal.send("*1\r\n$99999999999\r\n");
      await vandal.expect("-ERR Protocol error: invalid bulk length\r\n");
      await vandal.expectClosed();
      const reader = await ctx.connect();
      await reader.send(command("GET", key));
      await reader.expect(bulk("kept"));
    },
  },
  {
    name: "QUIT replies +OK and closes; later commands in the same batch are not run",
    redis: true,
    async run(ctx) {
      const key = ctx.key();
      const c = await ctx.connect();
      await c.send(command("QUIT") + command("SET", key, "too late"));
      await c.expect("+OK\r\n");
      await c.expectClosed();
      const d = await ctx.connect();
      await d.send(command("EXISTS", key));
      await d.expect(":0\r\n");
    },
  },
  {
    name: "HELLO 2 describes the server as a flat array with proto 2",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const reply = replyArray(await c.call("HELLO", "2"), "HELLO 2");
      const fields = new Map<unknown, unknown>();
      for (let i = 0; i + 1 < reply.length; i += 2) fields.set(reply[i], reply[i + 1]);
      assert.deepEqual(
        [...fields.keys()],
        ["server", "version", "proto", "id", "mode", "role", "modules"],
      );
      assert.equal(fields.get("proto"), 2);
      assert.equal(fields.get("role"), "master");
    },
  },
  {
    name: "HELLO 3 switches the connection to RESP3: a map, _ for null; HELLO 2 switches back",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("HELLO", "3"));
      // The map's header, in RESP3 already: seven fields, `server` first.
      await c.expect("%7\r\n" + bulk("server") + bulk("redis") + bulk("version"));
      const rest = await c.readReply(); // the version
      assert.equal(typeof rest, "string");
      await c.expect(bulk("proto") + ":3\r\n" + bulk("id"));
      await c.readReply();
      await c.expect(
        bulk("mode") + bulk("standalone") + bulk("role") + bulk("master") + bulk("modules") +
          "*0\r\n",
      );
      const key = ctx.key();
      await c.send(command("GET", key));
      await c.expect("_\r\n");
      await c.send(command("CONFIG", "GET", "appendonly"));
      await c.expect("%1\r\n" + bulk("appendonly") + bulk("no"));
      await c.send(command("CONFIG", "GET", "no-such-parameter"));
      await c.expect("%0\r\n");
      await c.send(command("HELLO", "2"));
      await c.readReply();
      await c.send(command("GET", key));
      await c.expect("$-1\r\n");
      await c.send(command("HELLO", "4"));
      await c.expect("-NOPROTO unsupported protocol version\r\n");
      for (const version of ["02", "-0", "3.0", "x"]) {
        await c.send(command("HELLO", version));
        await c.expect("-ERR Protocol version is not an integer or out of range\r\n");
      }
    },
  },
  {
    name: "CLIENT SETNAME names the connection and CLIENT GETNAME reads it back",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("CLIENT", "GETNAME"));
      await c.expect("$-1\r\n");
      await c.send(command("CLIENT", "SETNAME", "grader"));
      await c.expect("+OK\r\n");
      await c.send(command("CLIENT", "GETNAME"));
      await c.expect(bulk("grader"));
      await c.send(command("CLIENT", "SETNAME", "has space"));
      await c.expect(
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
      );
    },
  },
  {
    name: "CLIENT SETINFO records the client library, as Redis 7.2 clients send it",
    redis: false,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("CLIENT", "SETINFO", "LIB-NAME", "suite"));
      await c.expect("+OK\r\n");
      await c.send(command("CLIENT", "SETINFO", "LIB-VER", "1.0"));
      await c.expect("+OK\r\n");
    },
  },
  {
    name: "an unknown subcommand gets Redis's error naming the container",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("CLIENT", "bogus"));
      await c.expect("-ERR unknown subcommand 'bogus'. Try CLIENT HELP.\r\n");
      await c.send(command("CLIENT"));
      await c.expect("-ERR wrong number of arguments for 'client' command\r\n");
    },
  },
  {
    name: "CLIENT LIST filters by TYPE or ID and refuses any other argument",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const id = await c.call("CLIENT", "ID");
      assert.equal(typeof id, "number", `CLIENT ID replies with an integer, got ${showValue(id)}`);
      const list = replyText(await c.call("CLIENT", "LIST", "ID", String(id)), "CLIENT LIST ID");
      assert.match(list, new RegExp(`^id=${id} [^\n]*\n$`));
      await c.send(command("CLIENT", "LIST", "ID", "999999"));
      await c.expect("$0\r\n\r\n");
      await c.send(command("CLIENT", "LIST", "ID", "abc"));
      await c.expect("-ERR Invalid client ID\r\n");
      await c.send(command("CLIENT", "LIST", "TYPE", "pubsub"));
      await c.expect("$0\r\n\r\n");
      await c.send(command("CLIENT", "LIST", "TYPE", "junk"));
      await c.expect("-ERR Unknown client type 'junk'\r\n");
      for (const junk of [["junk"], ["ID"], ["TYPE", "normal", "x"]]) {
        await c.send(command("CLIENT", "LIST", ...junk));
        await c.expect("-ERR syntax error\r\n");
      }
    },
  },
  {
    name: "CLIENT LIST has Redis 7's fields, in Redis's order",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const line = replyText(await c.call("CLIENT", "INFO"), "CLIENT INFO").trimEnd();
      const names = line.split(" ").map((field) => field.slice(0, field.indexOf("=")));
      // Redis 7.2 adds lib-name and lib-ver at the end; 7.0 stops at resp.
      const redis70 = [
        "id",
        "addr",
        "laddr",
        "fd",
        "name",
        "age",
        "idle",
        "flags",
        "db",
        "sub",
        "psub",
        "ssub",
        "multi",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "multi-mem",
        "rbs",
        "rbp",
        "obl",
        "oll",
        "omem",
        "tot-mem",
        "events",
        "cmd",
        "user",
        "redir",
        "resp",
      ];
      assert.deepEqual(names.slice(0, redis70.length), redis70, line);
      assert.ok(
        names.length === redis70.length ||
          names.slice(redis70.length).join(",") === "lib-name,lib-ver",
        `after resp, only lib-name and lib-ver: ${line}`,
      );
      assert.match(line, /^id=\d+ addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=-?\d+ /);
      assert.match(line, / cmd=client\|info user=default redir=-1 resp=2/);
    },
  },
  {
    name: "INFO server reports a Redis 7 version for client libraries",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const text = replyText(await c.call("INFO", "server"), "INFO server");
      assert.ok(
        text.startsWith("# Server\r\n"),
        `INFO starts with its section: ${text.slice(0, 20)}`,
      );
      assert.match(text, /\r\nredis_version:7\.\d+\.\d+\r\n/);
    },
  },
  {
    name: "CONFIG GET returns name and value pairs, as redis-benchmark reads them",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(command("CONFIG", "GET", "appendonly"));
      await c.expect("*2\r\n" + bulk("appendonly") + bulk("no"));
      await c.send(command("CONFIG", "GET", "no-such-parameter"));
      await c.expect("*0\r\n");
    },
  },
  {
    name: "COMMAND DOCS answers with an array, as redis-cli asks on start",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const reply = await c.call("COMMAND", "DOCS", "get");
      assert.equal(replyArray(reply, "COMMAND DOCS get")[0], "get");
    },
  },
  {
    name: "CLIENT REPLY OFF sends nothing until ON; SKIP drops the next command's reply",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      // One pipelined batch and then one command at a time: the loop drops replies either way.
      await c.send(
        command("CLIENT", "REPLY", "OFF") + command("SET", key, "1") + command("GET", key) +
          command("NO-SUCH-COMMAND") + command("CLIENT", "REPLY", "SKIP") +
          command("CLIENT", "REPLY", "ON") + command("GET", key),
      );
      await c.expect("+OK\r\n" + bulk("1"));
      await c.send(command("CLIENT", "REPLY", "SKIP"));
      await c.send(command("SET", key, "2"));
      await c.send(command("GET", key));
      await c.expect(bulk("2"));
      await c.send(command("CLIENT", "REPLY", "SKIP") + command("CLIENT", "REPLY", "SKIP"));
      await c.send(command("ECHO", "dropped") + command("ECHO", "sent"));
      await c.expect(bulk("sent"));
      await c.send(command("CLIENT", "REPLY", "maybe") + command("CLIENT", "REPLY"));
      await c.expect(
        "-ERR syntax error\r\n-ERR wrong number of arguments for 'client|reply' command\r\n",
      );
      await c.send(command("CLIENT", "REPLY", "OFF") + command("PING"));
      await c.expectSilence(100);
    },
  },
  {
    name: "one client at a time: a second client is answered only after the first leaves",
    redis: false,
    async run(ctx) {
      const first = await ctx.connect();
      await first.send(command("PING"));
      await first.expect("+PONG\r\n");
      const second = await ctx.connect();
      await second.send(command("ECHO", "waiting"));
      await second.expectSilence(300);
      await first.send(command("QUIT"));
      await first.expect("+OK\r\n");
      await second.expect(bulk("waiting"));
    },
  },
  // Last, so that every other check has run (and written its own keys) in between.
  keyspace.reread,
];
