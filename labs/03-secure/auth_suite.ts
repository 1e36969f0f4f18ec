/**
 * Lab 3's black-box checks of `AUTH`, written once and run against lab 3's server (through its
 * secure channel) and against a real `redis-server --requirepass` (in `auth_test.ts`). Every step
 * is `redis: true`: the texts, and which commands run before `AUTH`, are Redis's.
 *
 * The server must be started with `--requirepass` {@link SUITE_PASSWORD}; the steps in
 * {@link noPasswordAuthSteps} are for a server without a password.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RawClient } from "../../shared/testing/raw_client.ts";
import type { SuiteStep } from "../../shared/testing/suite.ts";
import { bulk, command } from "../01-single-client/suite.ts";

/** The password the AUTH suite's server is started with. Distinctive, so a log search is sure. */
export const SUITE_PASSWORD = "Tr0ub4dor&3=horse!staple";

const NOAUTH = "-NOAUTH Authentication required.\r\n";
const WRONGPASS = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

async function check(c: RawClient, args: string[], expected: string): Promise<void> {
  await c.send(command(...args));
  await c.expect(expected);
}

/** Steps for a server started with `--requirepass SUITE_PASSWORD`. */
export const authSteps: readonly SuiteStep[] = [
  {
    name: "before AUTH every ordinary command is refused with NOAUTH",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      for (
        const args of [
          ["PING"],
          ["SET", key, "v"],
          ["GET", key],
          ["MULTI"],
          ["INFO"],
          ["CONFIG", "GET", "requirepass"],
          ["COMMAND", "DOCS", "get"],
          ["CLIENT", "SETNAME", "sneaky"],
        ]
      ) {
        await check(c, args, NOAUTH);
      }
      // Inline commands are commands too.
      await c.send("PING\r\n");
      await c.expect(NOAUTH);
    },
  },
  {
    name: "before AUTH an unknown command or a wrong arity still gets its usual error",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(
        c,
        ["NOSUCH", "x"],
        "-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n",
      );
      await check(c, ["GET"], "-ERR wrong number of arguments for 'get' command\r\n");
      await check(c, ["AUTH"], "-ERR wrong number of arguments for 'auth' command\r\n");
    },
  },
  {
    name: "AUTH with a wrong password replies WRONGPASS and the client stays locked out",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(c, ["AUTH", "wrong"], WRONGPASS);
      await check(c, ["AUTH", SUITE_PASSWORD.slice(0, -1)], WRONGPASS);
      await check(c, ["AUTH", SUITE_PASSWORD + "x"], WRONGPASS);
      await check(c, ["AUTH", ""], WRONGPASS);
      await check(c, ["PING"], NOAUTH);
    },
  },
  {
    name: "AUTH with the password replies OK and unlocks every command",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      await check(c, ["AUTH", SUITE_PASSWORD], "+OK\r\n");
      await check(c, ["SET", key, "v"], "+OK\r\n");
      await check(c, ["GET", key], bulk("v"));
      await c.send(command("MULTI") + command("INCR", ctx.key("n")) + command("EXEC"));
      await c.expect("+OK\r\n+QUEUED\r\n*1\r\n:1\r\n");
    },
  },
  {
    name: "AUTH default password is the two-argument form; any other user is WRONGPASS",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(c, ["AUTH", "admin", SUITE_PASSWORD], WRONGPASS);
      await check(c, ["AUTH", "default", "wrong"], WRONGPASS);
      await check(c, ["PING"], NOAUTH);
      await check(c, ["AUTH", "a", "b", "c"], "-ERR syntax error\r\n");
      await check(c, ["AUTH", "default", SUITE_PASSWORD], "+OK\r\n");
      await check(c, ["PING"], "+PONG\r\n");
    },
  },
  {
    name: "a wrong AUTH after a right one leaves the client authenticated",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(c, ["AUTH", SUITE_PASSWORD], "+OK\r\n");
      await check(c, ["AUTH", "wrong"], WRONGPASS);
      await check(c, ["PING"], "+PONG\r\n");
    },
  },
  {
    name: "each connection authenticates on its own",
    redis: true,
    async run(ctx) {
      const a = await ctx.connect();
      const b = await ctx.connect();
      await check(a, ["AUTH", SUITE_PASSWORD], "+OK\r\n");
      await check(b, ["PING"], NOAUTH);
      await check(a, ["PING"], "+PONG\r\n");
    },
  },
  {
    name: "HELLO before AUTH is refused; HELLO 2 AUTH default password authenticates",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(
        c,
        ["HELLO", "2"],
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
          "HELLO AUTH <user> <pass> option can be used to authenticate the client and select " +
          "the RESP protocol version at the same time\r\n",
      );
      await check(c, ["HELLO", "2", "AUTH", "default", "wrong"], WRONGPASS);
      await check(
        c,
        ["HELLO", "2", "AUTH", "default"],
        "-ERR Syntax error in HELLO option 'AUTH'\r\n",
      );
      await check(c, ["PING"], NOAUTH);
      const hello = await c.call("HELLO", "2", "AUTH", "default", SUITE_PASSWORD, "SETNAME", "me");
      assert.ok(Array.isArray(hello), `HELLO replies with an array, got ${String(hello)}`);
      assert.equal(hello[4], "proto");
      assert.equal(hello[5], 2);
      await check(c, ["CLIENT", "GETNAME"], bulk("me"));
    },
  },
  {
    name: "HELLO 3 before AUTH switches nothing; HELLO 3 AUTH switches to RESP3 once authenticated",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(
        c,
        ["HELLO", "3"],
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the " +
          "HELLO AUTH <user> <pass> option can be used to authenticate the client and select " +
          "the RESP protocol version at the same time\r\n",
      );
      await check(c, ["HELLO", "3", "AUTH", "default", "wrong"], WRONGPASS);
      // Still RESP2: an error is the same in both, but a missing key would say `_` in RESP3.
      await check(c, ["AUTH", SUITE_PASSWORD], "+OK\r\n");
      await check(c, ["GET", ctx.key()], "$-1\r\n");
      const d = await ctx.connect();
      await d.send(command("HELLO", "3", "AUTH", "default", SUITE_PASSWORD));
      await d.expect("%7\r\n");
      await d.readReply(); // "server"
      for (let i = 0; i < 13; i++) await d.readReply();
      await check(d, ["GET", ctx.key()], "_\r\n");
    },
  },
  {
    name: "before AUTH a command of more than 10 arguments is a protocol error and closes",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      // Only the header: the server must refuse the claim before a byte of it arrives.
      await c.send("*11\r\n");
      await c.expect("-ERR Protocol error: unauthenticated multibulk length\r\n");
      assert.equal((await c.expectClosed()).length, 0);
    },
  },
  {
    name: "before AUTH a bulk string over 16 KiB is a protocol error and closes; 16 KiB is not",
    redis: true,
    async run(ctx) {
      const at = await ctx.connect();
      // 10 arguments of exactly 16384 bytes: the most a stranger may send, still a command.
      await at.send(command("NOSUCH", ...Array.from({ length: 9 }, () => "x".repeat(16384))));
      assert.match(await at.readLine(), /^-ERR unknown command 'NOSUCH'/);
      const over = await ctx.connect();
      await over.send("*2\r\n$4\r\nAUTH\r\n$16385\r\n");
      await over.expect("-ERR Protocol error: unauthenticated bulk length\r\n");
      assert.equal((await over.expectClosed()).length, 0);
    },
  },
  {
    name: "AUTH lifts the limits at once, even for the next command in the same write",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const key = ctx.key();
      const big = "v".repeat(100_000);
      const many = Array.from({ length: 20 }, (_, i) => `f${i}`);
      await c.send(command("AUTH", SUITE_PASSWORD) + command("SET", key, big));
      await c.expect("+OK\r\n+OK\r\n");
      await check(c, ["EXISTS", ...many], ":0\r\n");
      await check(c, ["STRLEN", key], ":100000\r\n");
    },
  },
  {
    name: "HELLO AUTH with a user other than default is WRONGPASS, even with the password",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(c, ["HELLO", "2", "AUTH", "admin", SUITE_PASSWORD], WRONGPASS);
      await check(c, ["PING"], NOAUTH);
    },
  },
  {
    name: "QUIT works before AUTH",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(c, ["QUIT"], "+OK\r\n");
      assert.equal((await c.expectClosed()).length, 0);
    },
  },
  {
    name: "CONFIG GET requirepass shows the password to an authenticated client, as Redis does",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(c, ["AUTH", SUITE_PASSWORD], "+OK\r\n");
      await check(
        c,
        ["CONFIG", "GET", "requirepass"],
        `*2\r\n${bulk("requirepass")}${bulk(SUITE_PASSWORD)}`,
      );
    },
  },
];

/** Steps for a server without a password: AUTH is an error, everything else just runs. */
export const noPasswordAuthSteps: readonly SuiteStep[] = [
  {
    name: "without a password, AUTH password is an error and commands need no AUTH",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      await check(
        c,
        ["AUTH", "anything"],
        "-ERR AUTH <password> called without any password configured for the default user. " +
          "Are you sure your configuration is correct?\r\n",
      );
      await check(c, ["PING"], "+PONG\r\n");
      // The default user has no password, so any password is right for it; no other user exists.
      await check(c, ["AUTH", "default", "anything"], "+OK\r\n");
      await check(c, ["AUTH", "admin", "anything"], WRONGPASS);
      await check(c, ["CONFIG", "GET", "requirepass"], `*2\r\n${bulk("requirepass")}$0\r\n\r\n`);
    },
  },
  {
    name: "HELLO reads its version as Redis reads an integer, and knows only the user default",
    redis: true,
    async run(ctx) {
      const c = await ctx.connect();
      const notInteger = "-ERR Protocol version is not an integer or out of range\r\n";
      const noProto = "-NOPROTO unsupported protocol version\r\n";
      for (const version of ["02", "-0", "+2", " 2", "2.0", "", "9223372036854775808"]) {
        await check(c, ["HELLO", version], notInteger);
      }
      for (const version of ["0", "1", "-2", "4", "9223372036854775807"]) {
        await check(c, ["HELLO", version], noProto);
      }
      await check(c, ["HELLO", "2", "AUTH", "admin", "anything"], WRONGPASS);
      const hello = await c.call("HELLO", "2", "AUTH", "default", "anything");
      assert.ok(Array.isArray(hello), `HELLO replies with an array, got ${String(hello)}`);
    },
  },
];
