/**
 * Lab 1's client as a user runs it: a separate process, with arguments, a pipe on stdin, and
 * output to read. The last test runs it beside the real `redis-cli`, against a real
 * `redis-server`, and expects the same bytes from both.
 *
 * @module
 */

import assert from "node:assert/strict";
import { bytesToByteString, byteStringToBytes } from "../../shared/resp/bytes.ts";
import {
  freePort,
  hasProgram,
  REPO_ROOT,
  startLabServer,
  startRedisServer,
} from "../../shared/testing/processes.ts";

const CLIENT = `${REPO_ROOT}labs/01-single-client/client.ts`;

/** What a finished client process left behind; stdout is a byte string, stderr text. */
interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a program to the end, optionally with bytes piped to its stdin.
 *
 * @param program The executable.
 * @param args Its arguments.
 * @param stdin A byte string to pipe in; without it stdin is empty (`/dev/null`).
 */
async function run(program: string, args: string[], stdin?: string): Promise<Outcome> {
  const child = new Deno.Command(program, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", CACHELAB_HISTFILE: "" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(byteStringToBytes(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: bytesToByteString(stdout), stderr: new TextDecoder().decode(stderr) };
}

/** Runs lab 1's client with the permissions its task grants. */
function client(args: string[], stdin?: string): Promise<Outcome> {
  return run(
    Deno.execPath(),
    ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", CLIENT, ...args],
    stdin,
  );
}

Deno.test("lab 1 client against the lab 1 server", async (t) => {
  await using server = await startLabServer("labs/01-single-client/server.ts");
  const port = ["-p", String(server.port)];

  await t.step("one-shot mode runs the command, prints the reply and exits 0", async () => {
    assert.deepEqual(await client([...port, "SET", "name", "Ada Lovelace"]), {
      code: 0,
      stdout: "OK\n",
      stderr: "",
    });
    assert.deepEqual(await client([...port, "GET", "name"]), {
      code: 0,
      stdout: "Ada Lovelace\n",
      stderr: "",
    });
    assert.equal((await client(["--no-raw", ...port, "GET", "name"])).stdout, '"Ada Lovelace"\n');
    assert.equal(
      (await client(["-h", "127.0.0.1", ...port, "--no-raw", "GET", "nope"])).stdout,
      "(nil)\n",
    );
  });

  await t.step(
    "one-shot mode prints an error reply and still exits 0, like redis-cli",
    async () => {
      assert.deepEqual(await client([...port, "SET", "k", "v", "extra"]), {
        code: 0,
        stdout: "ERR syntax error\n\n",
        stderr: "",
      });
      assert.equal(
        (await client(["--no-raw", ...port, "SET", "k", "v", "extra"])).stdout,
        "(error) ERR syntax error\n",
      );
    },
  );

  await t.step("options stop at the command, so its arguments may look like options", async () => {
    assert.equal((await client([...port, "SET", "-h", "--json"])).stdout, "OK\n");
    assert.equal((await client([...port, "--", "GET", "-h"])).stdout, "--json\n");
  });

  await t.step("text arguments are sent as UTF-8", async () => {
    await client([...port, "SET", "clé", "naïve ☕"]);
    assert.equal((await client([...port, "GET", "clé"])).stdout, "na\xc3\xafve \xe2\x98\x95\n");
    assert.equal(
      (await client(["--no-raw", ...port, "GET", "clé"])).stdout,
      '"na\\xc3\\xafve \\xe2\\x98\\x95"\n',
    );
  });

  await t.step("--json prints one object per command", async () => {
    assert.deepEqual(await client(["--json", ...port, "SET", "a", "b"]), {
      code: 0,
      stdout: '{"command":["SET","a","b"],"response":"OK"}\n',
      stderr: "",
    });
    assert.equal(
      (await client(["--json", ...port, "SET", "a", "b", "c"])).stdout,
      '{"command":["SET","a","b","c"],"error":"ERR syntax error"}\n',
    );
    const piped = await client(["--json", ...port], "GET a\nEXISTS a a\nGET missing\n");
    assert.deepEqual(piped.stdout.trimEnd().split("\n").map((line) => JSON.parse(line)), [
      { command: ["GET", "a"], response: "b" },
      { command: ["EXISTS", "a", "a"], response: 2 },
      { command: ["GET", "missing"], response: null },
    ]);
  });

  await t.step("piped stdin runs every line and prints every reply", async () => {
    const script = "SET counter 1\nGET counter\nDEL counter\nGET counter\nPING\n";
    assert.deepEqual(await client(port, script), {
      code: 0,
      stdout: "OK\n1\n1\n\nPONG\n",
      stderr: "",
    });
    assert.equal(
      (await client(["--no-raw", ...port], script)).stdout,
      'OK\n"1"\n(integer) 1\n(nil)\nPONG\n',
    );
  });

  await t.step("piped stdin is binary-safe in both directions", async () => {
    const out = await client(
      port,
      'SET bin "\\x00\\xff\\r\\n"\nGET bin\nSET raw \xfe\xff\nGET raw\n',
    );
    assert.equal(out.stdout, "OK\n\x00\xff\r\n\nOK\n\xfe\xff\n");
  });

  await t.step("unbalanced quotes print Invalid argument(s) and send nothing", async () => {
    const out = await client(port, 'SET "half oops\nEXISTS half\nSET k "a"b\nPING\n');
    assert.deepEqual(out, {
      code: 0,
      stdout: "Invalid argument(s)\n0\nInvalid argument(s)\nPONG\n",
      stderr: "",
    });
  });

  await t.step("quit in piped input stops there", async () => {
    assert.equal((await client(port, "PING\nquit\nPING\n")).stdout, "PONG\n");
  });
});

Deno.test("lab 1 client says it could not connect and exits 1", async () => {
  const port = freePort();
  assert.deepEqual(await client(["-p", String(port), "PING"]), {
    code: 1,
    stdout: "",
    stderr: `Could not connect to Redis at 127.0.0.1:${port}: Connection refused\n`,
  });
  const piped = await client(["-p", String(port)], "PING\n");
  assert.equal(piped.code, 1);
  assert.match(
    piped.stderr,
    /^Could not connect to Redis at 127\.0\.0\.1:\d+: Connection refused$/m,
  );
});

Deno.test("lab 1 client rejects a bad command line with exit code 2", async () => {
  const unknown = await client(["--bogus", "PING"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown option '--bogus'/);
  assert.match(unknown.stderr, /Run "deno task lab1:client --help" for usage\./);
  const port = await client(["-p", "http", "PING"]);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /^Invalid port: "http" is not a number from 1 to 65535$/m);
});

Deno.test("lab 1 client --help prints usage and exits 0", async () => {
  const help = await client(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task lab1:client \[options\] \[command \[arg \.\.\.\]\]/);
  assert.match(help.stdout, /--json/);
});

const BOTH_INSTALLED = hasProgram("redis-server") && hasProgram("redis-cli");

Deno.test({
  name: BOTH_INSTALLED
    ? "lab 1 client prints exactly what redis-cli prints"
    : "lab 1 client prints exactly what redis-cli prints (skipped: redis-server or redis-cli is not installed)",
  ignore: !BOTH_INSTALLED,
  async fn(t) {
    const started = await startRedisServer();
    if (started === null) throw new Error("redis-server disappeared");
    await using redis = started;
    const port = ["-p", String(redis.port)];
    // Each script leaves the server as it found it, so both programs see the same state.
    const script = [
      `SET bytes "x\\r\\n\\x00\\xff\\t\\a\\b\\"\\\\ \\x7f\\x1b"`,
      "GET bytes",
      // stdin carries bytes: these are the UTF-8 bytes of "é" and "ü", as a terminal would send.
      "SET \xc3\xa9 \xc3\xbc",
      "GET \xc3\xa9",
      "MGET bytes missing",
      "RPUSH list 1 2 3 4 5 6 7 8 9 10 11",
      "LRANGE list 0 -1",
      "LRANGE missing 0 -1",
      `EVAL "return {1,{2,{3,{}}},{},'x',{err='bad'}}" 0`,
      "COMMAND INFO get",
      "BLPOP missing 0.01",
      "SET n 9223372036854775806",
      "INCR n",
      `ECHO ""`,
      `GET "oops`,
      "NOSUCHCOMMAND a b",
      "INFO keyspace",
      "CLIENT LIST ID 999999",
      "FLUSHALL",
    ].join("\n") + "\n";
    for (const style of ["--no-raw", "--raw"]) {
      await t.step(`with ${style}, for piped commands`, async () => {
        const theirs = await run("redis-cli", [style, ...port], script);
        const ours = await client([style, ...port], script);
        assert.equal(ours.stdout, theirs.stdout);
        assert.equal(ours.code, theirs.code);
      });
    }
    // RESP3's own types: maps, sets, doubles, nulls, verbatim text, nested maps.
    const resp3 = [
      "CONFIG GET appendonly",
      "CONFIG GET nothing",
      "GET missing",
      "SADD set a",
      "SMEMBERS set",
      "HSET hash field value",
      "HGETALL hash",
      "ZADD zset 1.5 member",
      "ZSCORE zset member",
      "INFO keyspace",
      "COMMAND DOCS get",
      "FLUSHALL",
    ].join("\n") + "\n";
    for (const style of ["--no-raw", "--raw"]) {
      await t.step(`with -3 and ${style}, for piped commands`, async () => {
        const theirs = await run("redis-cli", ["-3", style, ...port], resp3);
        const ours = await client(["-3", style, ...port], resp3);
        assert.equal(ours.stdout, theirs.stdout);
        assert.equal(ours.code, theirs.code);
      });
    }
  },
});
