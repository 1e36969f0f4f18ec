/**
 * The proxy's command line: the parser's answers, and the process's exit codes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { REPO_ROOT } from "../../../shared/testing/processes.ts";
import { parseHostPort } from "../../../shared/cli.ts";
import { PROXY_PASSWORD_ENV, readProxyArgs } from "./cli.ts";

const ENTRY = "labs/02-threaded/proxy.ts";

async function runProxy(...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", `${REPO_ROOT}${ENTRY}`, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
}

Deno.test("readProxyArgs() defaults: port 6380 in front of 127.0.0.1:6379", () => {
  const result = readProxyArgs([], () => undefined);
  assert.equal(result.kind, "options");
  if (result.kind !== "options") return;
  assert.deepEqual(result.options, {
    host: "127.0.0.1",
    port: 6380,
    upstream: { host: "127.0.0.1", port: 6379 },
    maxEntries: 10000,
    maxBytes: 64 * 1024 * 1024,
    maxAgeMs: 10000,
    upstreamTimeoutMs: 5000,
    maxclients: 10000,
    timeout: 0,
    maxOutputBuffer: 256 * 1024 * 1024,
    allowCommands: [],
    requirepass: undefined,
    upstreamPassword: undefined,
    upstreamUser: undefined,
    protectedMode: true,
  });
});

Deno.test("readProxyArgs() reads every flag", () => {
  const result = readProxyArgs([
    "--upstream=10.0.0.7:7000",
    "--port=0",
    "--max-entries=3",
    "--max-bytes=1kb",
    "--max-age-ms=250",
    "--upstream-timeout-ms=100",
    "--maxclients=5",
    "--timeout=9",
  ]);
  assert.equal(result.kind, "options");
  if (result.kind !== "options") return;
  assert.deepEqual(result.options.upstream, { host: "10.0.0.7", port: 7000 });
  assert.equal(result.options.port, 0);
  assert.equal(result.options.maxEntries, 3);
  assert.equal(result.options.maxBytes, 1024);
  assert.equal(result.options.maxAgeMs, 250);
  assert.equal(result.options.upstreamTimeoutMs, 100);
  assert.equal(result.options.maxclients, 5);
  assert.equal(result.options.timeout, 9);
});

Deno.test("readProxyArgs() refuses bad values, saying which and why", () => {
  for (
    const [args, message] of [
      [["--upstream", "nowhere"], /Invalid upstream: "nowhere"/],
      [["--upstream", "127.0.0.1:0"], /Invalid upstream/],
      [["--upstream", "127.0.0.1:6380"], /is the proxy's own address/],
      [["--port", "70000"], /Invalid port/],
      [["--max-entries=-1"], /Invalid max-entries/],
      [["--max-bytes", "lots"], /Invalid max-bytes/],
      [["--max-age-ms", "0"], /Invalid max-age-ms: "0"/],
      [["--upstream-timeout-ms", "soon"], /Invalid upstream-timeout-ms/],
      [["--bogus"], /bogus/],
    ] as const
  ) {
    const result = readProxyArgs([...args], () => undefined);
    assert.equal(result.kind, "error", args.join(" "));
    if (result.kind === "error") assert.match(result.message, message);
  }
});

Deno.test("parseHostPort() reads host:port and [ipv6]:port", () => {
  assert.deepEqual(parseHostPort("localhost:6379"), { host: "localhost", port: 6379 });
  assert.deepEqual(parseHostPort("[::1]:6379"), { host: "::1", port: 6379 });
  assert.equal(parseHostPort("6379"), null);
  assert.equal(parseHostPort(":6379"), null);
  assert.equal(parseHostPort("host:port"), null);
});

Deno.test("proxy --help describes the proxy's flags and exits 0", async () => {
  const { code, stdout } = await runProxy("--help");
  assert.equal(code, 0);
  const text = new TextDecoder().decode(stdout);
  assert.match(text, /^Usage: deno task lab2:proxy \[options\]/);
  for (
    const flag of ["--upstream HOST:PORT", "--max-entries N", "--max-bytes SIZE", "--max-age-ms MS"]
  ) {
    assert.ok(text.includes(flag), `help mentions ${flag}`);
  }
});

Deno.test("proxy refuses a bad flag with exit code 2", async () => {
  for (const args of [["--bogus"], ["--upstream", "nowhere"]]) {
    const { code, stderr } = await runProxy(...args);
    assert.equal(code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(stderr), /Run "deno task lab2:proxy --help" for usage/);
  }
});

Deno.test("readProxyArgs() reads the passwords, the allow-list and protected mode", () => {
  const result = readProxyArgs([
    "--requirepass=pässword",
    "--upstream-password=up",
    "--upstream-user=proxy",
    "--allow-commands= FLUSHDB,flushall ,",
    "--protected-mode=no",
  ], () => undefined);
  assert.equal(result.kind, "options");
  if (result.kind !== "options") return;
  // Passwords are compared and sent as the UTF-8 bytes a client sends.
  assert.equal(result.options.requirepass, "p\xc3\xa4ssword");
  assert.equal(result.options.upstreamPassword, "up");
  assert.equal(result.options.upstreamUser, "proxy");
  assert.deepEqual(result.options.allowCommands, ["flushdb", "flushall"]);
  assert.equal(result.options.protectedMode, false);
});

Deno.test("readProxyArgs() takes the passwords from the environment, so ps does not show them", () => {
  const env: Record<string, string> = {
    [PROXY_PASSWORD_ENV.requirepass]: "from-env",
    [PROXY_PASSWORD_ENV.upstreamPassword]: "upstream-env",
  };
  const result = readProxyArgs([], (name) => env[name]);
  assert.equal(result.kind, "options");
  if (result.kind !== "options") return;
  assert.equal(result.options.requirepass, "from-env");
  assert.equal(result.options.upstreamPassword, "upstream-env");
  const both = readProxyArgs(["--requirepass", "flag"], (name) => env[name]);
  assert.equal(both.kind, "error");
});

Deno.test("readProxyArgs() refuses to forward what would break the shared connection", () => {
  for (
    const [args, message] of [
      [["--allow-commands", "get,select"], /Cannot forward 'select': it would change the upstream/],
      [["--allow-commands", "blpop"], /Cannot forward 'blpop': it would block/],
      [["--allow-commands", "subscribe"], /Cannot forward 'subscribe'/],
      [["--requirepass", ""], /Invalid requirepass: the password is empty/],
      [["--upstream-user", "u"], /--upstream-user needs --upstream-password/],
      [["--protected-mode", "maybe"], /Invalid protected-mode: "maybe"/],
    ] as const
  ) {
    const result = readProxyArgs([...args], () => undefined);
    assert.equal(result.kind, "error", args.join(" "));
    if (result.kind === "error") assert.match(result.message, message);
  }
});
