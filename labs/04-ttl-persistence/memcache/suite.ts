/**
 * The memcache suite: what lab 4's memcached port must do, checked over TCP with exact bytes.
 *
 * Every step marked `memcached: true` also passes against a real `memcached` 1.6
 * (`memcached_conformance_test.ts`), which is how we know these expectations are memcached's and
 * not merely ours. The others check the course's own behaviour. Time-dependent expiry is checked
 * here only with times already past or far ahead (no sleeping); `expiry_test.ts` moves a manual
 * clock for the rest.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type McClient, type McStep, parseValueLine } from "./testing.ts";

/** One `VALUE` block of a `get` reply. */
export function valueBlock(key: string, flags: number, data: string): string {
  return `VALUE ${key} ${flags} ${data.length}\r\n${data}\r\n`;
}

/** A whole `get` reply for one found item. */
export function getReply(key: string, flags: number, data: string): string {
  return `${valueBlock(key, flags, data)}END\r\n`;
}

/** A storage command with its data block. */
export function storage(
  command: string,
  key: string,
  flags: number,
  exptime: number,
  data: string,
  extra = "",
): string {
  return `${command} ${key} ${flags} ${exptime} ${data.length}${extra}\r\n${data}\r\n`;
}

/** Sets a key and checks `STORED`. */
async function set(c: McClient, key: string, data: string, flags = 0, exptime = 0): Promise<void> {
  await c.send(storage("set", key, flags, exptime, data));
  await c.expect("STORED\r\n");
}

/** `gets` one key and returns its cas unique. */
async function gets(c: McClient, key: string): Promise<bigint> {
  await c.send(`gets ${key}\r\n`);
  const { cas, bytes } = parseValueLine(await c.readLine());
  await c.read(bytes);
  await c.expect("\r\nEND\r\n");
  return cas;
}

/** Reads `stats` into a map. */
async function stats(c: McClient): Promise<Map<string, string>> {
  await c.send("stats\r\n");
  const out = new Map<string, string>();
  for (;;) {
    const line = await c.readLine();
    if (line === "END") return out;
    const match = /^STAT (\S+) (\S+)$/.exec(line);
    assert.ok(match, `not a STAT line: ${JSON.stringify(line)}`);
    out.set(match[1], match[2]);
  }
}

/** The steps, in the order the lesson introduces them. */
export const memcacheSteps: readonly McStep[] = [
  {
    name: "set replies STORED and get returns the value, its flags and END",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(storage("set", key, 42, 0, "hello"));
      await c.expect("STORED\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 42, "hello"));
    },
  },
  {
    name: "get of a missing key replies only END",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send(`get ${ctx.key("missing")}\r\n`);
      await c.expect("END\r\n");
    },
  },
  {
    name: "get of several keys returns the ones found, in the order asked, duplicates included",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const [a, b, missing] = [ctx.key("a"), ctx.key("b"), ctx.key("missing")];
      await set(c, a, "one");
      await set(c, b, "two", 7);
      await c.send(`get ${b} ${missing} ${a} ${b}\r\n`);
      await c.expect(
        valueBlock(b, 7, "two") + valueBlock(a, 0, "one") + valueBlock(b, 7, "two") + "END\r\n",
      );
    },
  },
  {
    name: "data blocks are binary safe: \\r\\n, NUL and bytes above 0x7f round-trip",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      const data = "a\r\nb\0c\xff\xfe\r\n";
      await set(c, key, data);
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 0, data));
    },
  },
  {
    name: "an empty value and the largest flags (2^32 - 1) are stored as sent",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "", 4294967295);
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 4294967295, ""));
    },
  },
  {
    name: "set replaces the value and the flags",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "first", 1);
      await set(c, key, "second", 2);
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 2, "second"));
    },
  },
  {
    name: "add stores only a new key, replace only an existing one",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(storage("replace", key, 0, 0, "r"));
      await c.expect("NOT_STORED\r\n");
      await c.send(storage("add", key, 3, 0, "a"));
      await c.expect("STORED\r\n");
      await c.send(storage("add", key, 0, 0, "again"));
      await c.expect("NOT_STORED\r\n");
      await c.send(storage("replace", key, 5, 0, "replaced"));
      await c.expect("STORED\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 5, "replaced"));
    },
  },
  {
    name: "append and prepend add data at either end and keep the item's flags",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "middle", 9);
      await c.send(storage("append", key, 1, 0, ">>"));
      await c.expect("STORED\r\n");
      await c.send(storage("prepend", key, 2, 0, "<<"));
      await c.expect("STORED\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 9, "<<middle>>"));
      const missing = ctx.key("missing");
      await c.send(storage("append", missing, 0, 0, "x") + storage("prepend", missing, 0, 0, "x"));
      await c.expect("NOT_STORED\r\nNOT_STORED\r\n");
    },
  },
  {
    name: "gets returns a cas unique; cas stores with it once, then answers EXISTS",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "v1");
      const cas = await gets(c, key);
      await c.send(storage("cas", key, 0, 0, "v2", ` ${cas}`));
      await c.expect("STORED\r\n");
      await c.send(storage("cas", key, 0, 0, "v3", ` ${cas}`));
      await c.expect("EXISTS\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 0, "v2"));
      await c.send(storage("cas", ctx.key("missing"), 0, 0, "v", ` ${cas}`));
      await c.expect("NOT_FOUND\r\n");
    },
  },
  {
    name: "the cas unique changes when the item changes and stays when it is read or touched",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "1");
      const first = await gets(c, key);
      assert.equal(await gets(c, key), first);
      await c.send(`touch ${key} 1000\r\n`);
      await c.expect("TOUCHED\r\n");
      assert.equal(await gets(c, key), first);
      for (const change of [storage("set", key, 0, 0, "1"), `incr ${key} 1\r\n`]) {
        const before = await gets(c, key);
        await c.send(change);
        await c.readLine();
        assert.notEqual(await gets(c, key), before, `after ${JSON.stringify(change)}`);
      }
      const before = await gets(c, key);
      await c.send(storage("append", key, 0, 0, "0"));
      await c.expect("STORED\r\n");
      assert.notEqual(await gets(c, key), before);
    },
  },
  {
    name: "delete replies DELETED, then NOT_FOUND; the old `0` argument is accepted",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "v");
      await c.send(`delete ${key}\r\ndelete ${key}\r\nget ${key}\r\ndelete ${key} 0\r\n`);
      await c.expect("DELETED\r\nNOT_FOUND\r\nEND\r\nNOT_FOUND\r\n");
      await c.send(`delete ${key} 1\r\ndelete\r\ndelete a b c d e\r\n`);
      await c.expect(
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n" +
          "ERROR\r\nERROR\r\n",
      );
    },
  },
  {
    name: "delete noreply deletes the key named noreply and answers; a second noreply silences it",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      // The key must be the word itself, so this step shares the key "noreply" with nothing else.
      await set(c, "noreply", "v");
      await c.send("delete noreply\r\ndelete noreply\r\n");
      await c.expect("DELETED\r\nNOT_FOUND\r\n");
      await set(c, "noreply", "v");
      await c.send("delete noreply noreply\r\nget noreply\r\ndelete noreply 0\r\n");
      await c.expect("END\r\nNOT_FOUND\r\n");
    },
  },
  {
    name: "incr and decr count in unsigned 64 bits: incr wraps around, decr stops at 0",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "10", 5);
      await c.send(`incr ${key} 95\r\ndecr ${key} 5\r\ndecr ${key} 1000\r\n`);
      await c.expect("105\r\n100\r\n0\r\n");
      await set(c, key, "18446744073709551615");
      await c.send(`incr ${key} 2\r\n`);
      await c.expect("1\r\n");
      await set(c, key, "7", 5);
      await c.send(`incr ${key} 18446744073709551615\r\n`);
      await c.expect("6\r\n");
      await c.send(`incr ${key} 100\r\nget ${key}\r\n`);
      await c.expect(`106\r\n${getReply(key, 5, "106")}`);
    },
  },
  {
    name: "incr on a missing key is NOT_FOUND, on text a CLIENT_ERROR, with a bad delta another",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(`incr ${key} 1\r\ndecr ${key} 1\r\n`);
      await c.expect("NOT_FOUND\r\nNOT_FOUND\r\n");
      await set(c, key, "12abc");
      await c.send(`incr ${key} 1\r\n`);
      await c.expect("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
      await set(c, key, "-5");
      await c.send(`decr ${key} 1\r\n`);
      await c.expect("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
      await c.send(`incr ${key} -1\r\nincr ${key} x\r\nincr ${key} 18446744073709551616\r\n`);
      await c.expect("CLIENT_ERROR invalid numeric delta argument\r\n".repeat(3));
    },
  },
  {
    name: "touch replies TOUCHED or NOT_FOUND; an exptime that is not a number is an error",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "v");
      await c.send(`touch ${key} 1000\r\ntouch ${ctx.key("missing")} 10\r\ntouch ${key} soon\r\n`);
      await c.expect("TOUCHED\r\nNOT_FOUND\r\nCLIENT_ERROR invalid exptime argument\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 0, "v"));
    },
  },
  {
    name: "a negative exptime, or a Unix time already past, expires the item at once",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const [a, b, d] = [ctx.key("a"), ctx.key("b"), ctx.key("d")];
      await set(c, a, "v", 0, -1);
      // Over 30 days (2592000 s) an exptime is a Unix time: 2592001 is in January 1970.
      await set(c, b, "v", 0, 2592001);
      await set(c, d, "v");
      await c.send(`touch ${d} -1\r\n`);
      await c.expect("TOUCHED\r\n");
      await c.send(`get ${a} ${b} ${d}\r\n`);
      await c.expect("END\r\n");
      // And the item it replaced is gone too.
      await set(c, a, "old");
      await set(c, a, "new", 0, -1);
      await c.send(`get ${a}\r\n`);
      await c.expect("END\r\n");
    },
  },
  {
    name: "an exptime of 30 days is relative and a Unix time in the future keeps the item",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const [a, b] = [ctx.key("a"), ctx.key("b")];
      await set(c, a, "v", 0, 2592000);
      await set(c, b, "v", 0, Math.floor(Date.now() / 1000) + 3600);
      await c.send(`get ${a} ${b}\r\n`);
      await c.expect(valueBlock(a, 0, "v") + valueBlock(b, 0, "v") + "END\r\n");
    },
  },
  {
    name: "add succeeds on a key whose time has passed",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "old", 0, -1);
      await c.send(storage("add", key, 0, 0, "new"));
      await c.expect("STORED\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 0, "new"));
    },
  },
  {
    name: "gat returns the item and sets its exptime; gats adds the cas unique",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "v", 3);
      await c.send(`gat 1000 ${key} ${ctx.key("missing")}\r\n`);
      await c.expect(getReply(key, 3, "v"));
      const cas = await gets(c, key);
      await c.send(`gats -1 ${key}\r\n`);
      await c.expect(`VALUE ${key} 3 1 ${cas}\r\nv\r\nEND\r\n`);
      await c.send(`get ${key}\r\n`);
      await c.expect("END\r\n");
    },
  },
  {
    name: "noreply silences every storage and update command, errors included",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      const missing = ctx.key("missing");
      await c.send(
        storage("set", key, 0, 0, "1", " noreply") +
          storage("add", key, 0, 0, "x", " noreply") +
          storage("replace", missing, 0, 0, "x", " noreply") +
          storage("append", key, 0, 0, "0", " noreply") +
          storage("prepend", key, 0, 0, "1", " noreply") +
          storage("cas", key, 0, 0, "x", " 1 noreply") +
          // Silence is this check's subject; what incr and decr compute is step 5's, so they
          // cancel out here.
          `incr ${key} 5 noreply\r\ndecr ${key} 5 noreply\r\ntouch ${key} 100 noreply\r\n` +
          `incr ${key} x noreply\r\nset ${key} 0 0 -1 noreply\r\n` +
          `delete ${missing} noreply\r\nget ${key}\r\n`,
      );
      await c.expect(getReply(key, 0, "110"));
      await c.send(`delete ${key} noreply\r\nget ${key}\r\n`);
      await c.expect("END\r\n");
    },
  },
  {
    name: "flush_all empties the cache and replies OK; with noreply it is silent",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const [a, b] = [ctx.key("a"), ctx.key("b")];
      await set(c, a, "v");
      await c.send("flush_all\r\n");
      await c.expect("OK\r\n");
      await set(c, b, "v");
      await c.send(`flush_all noreply\r\nflush_all 0\r\nget ${a} ${b}\r\n`);
      await c.expect("OK\r\nEND\r\n");
      await c.send("flush_all soon\r\nflush_all 1 2 3\r\n");
      await c.expect("CLIENT_ERROR invalid exptime argument\r\nERROR\r\n");
    },
  },
  {
    name: "flush_all with a delay leaves items readable until then",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "v");
      await c.send(`flush_all 1000\r\nget ${key}\r\n`);
      await c.expect(`OK\r\n${getReply(key, 0, "v")}`);
      // Undo it, so that later steps are not flushed from under them.
      await c.send("flush_all\r\n");
      await c.expect("OK\r\n");
    },
  },
  {
    name: "a key of 250 bytes is fine; 251 is CLIENT_ERROR, and the data line is then a command",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const ok = "k".repeat(250);
      const long = "k".repeat(251);
      await set(c, ok, "v");
      await c.send(`get ${ok}\r\n`);
      await c.expect(getReply(ok, 0, "v"));
      await c.send(storage("set", long, 0, 0, "v"));
      await c.expect("CLIENT_ERROR bad command line format\r\nERROR\r\n");
      // One long key spoils the whole get: no VALUE lines, no END.
      await c.send(`get ${ok} ${long}\r\ndelete ${long}\r\nincr ${long} 1\r\ntouch ${long} 1\r\n`);
      await c.expect("CLIENT_ERROR bad command line format\r\n".repeat(4));
      await c.send(`delete ${ok}\r\n`);
      await c.expect("DELETED\r\n");
    },
  },
  {
    name: "a bad number on a storage line is CLIENT_ERROR bad command line format",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      for (const line of [`set ${key} x 0 1`, `set ${key} 0 0 -1`, `set ${key} -1 0 1`]) {
        await c.send(`${line}\r\nv\r\n`);
        await c.expect("CLIENT_ERROR bad command line format\r\nERROR\r\n");
      }
      await c.send(`cas ${key} 0 0 1 x\r\nv\r\n`);
      await c.expect("CLIENT_ERROR bad command line format\r\nERROR\r\n");
    },
  },
  {
    name: "unknown commands, wrong word counts and empty lines reply ERROR",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("bogus\r\nGET k\r\nget\r\ngets\r\n\r\nset k 0 0\r\nincr k\r\ntouch k\r\n");
      await c.expect("ERROR\r\n".repeat(8));
      await c.send("cas k 0 0 1\r\nv\r\n");
      await c.expect("ERROR\r\nERROR\r\n");
    },
  },
  {
    name: "a data block not followed by \\r\\n is CLIENT_ERROR bad data chunk",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "kept");
      // Exactly 3 + 2 bytes are read as the block ("abcde"); the "\r\n" after it is an empty line.
      await c.send(`set ${key} 0 0 3\r\nabcde\r\n`);
      await c.expect("CLIENT_ERROR bad data chunk\r\nERROR\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 0, "kept"));
    },
  },
  {
    name:
      "an item over 1 MiB is SERVER_ERROR object too large; its data is skipped, the old value dropped",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "old");
      const big = "b".repeat(1024 * 1024 + 1);
      await c.send(storage("set", key, 0, 0, big) + `get ${key}\r\n`);
      await c.expect("SERVER_ERROR object too large for cache\r\nEND\r\n");
      const fits = "f".repeat(1000 * 1000);
      await c.send(storage("set", key, 0, 0, fits) + `get ${key}\r\n`);
      await c.expect("STORED\r\n" + getReply(key, 0, fits));
    },
  },
  {
    name: "pipelined commands in one write get their replies in order",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const keys = Array.from({ length: 50 }, (_, i) => ctx.key(`p${i}`));
      await c.send(keys.map((k, i) => storage("set", k, i, 0, `v${i}`) + `get ${k}\r\n`).join(""));
      await c.expect(keys.map((k, i) => "STORED\r\n" + getReply(k, i, `v${i}`)).join(""));
    },
  },
  {
    name: "a command split across many writes is answered once it is whole",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      const bytes = storage("set", key, 1, 0, "split\r\nvalue") + `get ${key}\r\n`;
      for (let i = 0; i < bytes.length; i += 3) {
        await c.send(bytes.slice(i, i + 3));
        if (i % 15 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await c.expect("STORED\r\n" + getReply(key, 1, "split\r\nvalue"));
    },
  },
  {
    name: "version replies VERSION and a version string; verbosity replies OK",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("version\r\n");
      assert.match(await c.readLine(), /^VERSION \d+\.\d+\.\d+\S*$/);
      await c.send("verbosity 1\r\nverbosity 0 noreply\r\nverbosity\r\n");
      await c.expect("OK\r\nERROR\r\n");
    },
  },
  {
    name: "stats lists STAT lines and END, and its counters count",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      const before = await stats(c);
      for (
        const name of [
          "pid",
          "uptime",
          "time",
          "version",
          "curr_connections",
          "total_connections",
          "cmd_get",
          "cmd_set",
          "get_hits",
          "get_misses",
          "curr_items",
          "total_items",
        ]
      ) {
        assert.ok(before.has(name), `stats has no ${name}`);
      }
      assert.ok(Math.abs(Number(before.get("time")) - Date.now() / 1000) < 10);
      await set(c, key, "v");
      await c.send(`get ${key} ${ctx.key("missing")}\r\n`);
      await c.expect(valueBlock(key, 0, "v") + "END\r\n");
      const after = await stats(c);
      const delta = (name: string) => Number(after.get(name)) - Number(before.get(name));
      assert.deepEqual(
        ["cmd_set", "cmd_get", "get_hits", "get_misses", "total_items"].map(delta),
        [1, 2, 1, 1, 1],
      );
      await c.send("stats nonsense\r\n");
      await c.expect("ERROR\r\n");
    },
  },
  {
    name: "quit closes the connection without a reply",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("quit\r\n");
      assert.equal(await c.expectClosed(), "");
    },
  },
  {
    name: "a line of over 2048 bytes without a newline closes the connection",
    memcached: true,
    async run(ctx) {
      const c = await ctx.connect();
      await c.send("x".repeat(3000));
      assert.equal(await c.expectClosed(), "");
      // A long get is allowed to keep coming.
      const g = await ctx.connect();
      await g.send(`get ${`${"k".repeat(200)} `.repeat(20)}`);
      await g.expectSilence(100);
      await g.send("\r\n");
      await g.expect("END\r\n");
    },
  },
  {
    name: "memcached-lite's short form `set <key> <bytes>` stores with flags 0 and no expiry",
    memcached: false,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await c.send(`set ${key} 5\r\nhello\r\n`);
      await c.expect("STORED\r\n");
      await c.send(`get ${key}\r\n`);
      await c.expect(getReply(key, 0, "hello"));
    },
  },
  {
    name: "decr that shortens a number stores it without memcached's space padding",
    memcached: false,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await set(c, key, "10");
      await c.send(`decr ${key} 1\r\nget ${key}\r\n`);
      await c.expect(`9\r\n${getReply(key, 0, "9")}`);
    },
  },
];
