/**
 * Real, unmodified clients against lab 1: `redis-cli`, `redis-benchmark`, ioredis and node-redis.
 *
 * Byte-level suites send the bytes their authors chose. These send what the tools send, including everything they
 * say on connect (`COMMAND DOCS`, `CONFIG GET save`, `INFO`, `CLIENT SETINFO`, `CLIENT SETNAME`),
 * and parse our replies with parsers we did not write. Each test runs against lab 1 and then,
 * unchanged, against a real `redis-server`: that second run is what shows the expected outputs are
 * Redis's and not ours.
 *
 * Lab 1 serves one client at a time, so every check closes its client completely before the next
 * one starts. Each test ends by connecting once more and expecting an immediate `PONG`: a client
 * left half-open would make that check fail instead of making a later test hang.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ReplyError } from "ioredis";
import { createClient, ErrorReply, RESP_TYPES } from "redis";
import { type RunningServer, startLabServer } from "../../shared/testing/processes.ts";
import {
  interopTargets,
  latin1,
  parseBenchmarkCsv,
  redisCli,
  runProgram,
} from "../../shared/testing/programs.ts";
import { closeIoredis, connectIoredis, withIoredis } from "../../shared/testing/ioredis.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";

const LAB1 = "labs/01-single-client/server.ts";

/** Long enough for a loaded CI machine, short enough that a stuck client fails the test. */
const TIMEOUT_MS = 10_000;

/** Registers one test against lab 1 and one against a real redis-server (see `interopTargets`). */
const testEachTarget = interopTargets({ name: "lab 1", start: () => startLabServer(LAB1) });

// ---------------------------------------------------------------------------------------------
// Command-line tools
// ---------------------------------------------------------------------------------------------

/** Random bytes; `getRandomValues` gives at most 64 KiB per call. */
function randomBuffer(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let at = 0; at < length; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + 65536)));
  }
  return bytes;
}

testEachTarget("redis-cli one-shot commands print Redis's replies", ["redis-cli"], async (t, s) => {
  // When stdout is not a terminal, redis-cli prints replies raw: the bytes, then a newline.
  await t.step("SET, GET, EXISTS, DEL and PING", async () => {
    assert.equal(await redisCli(s, ["SET", "fruit", "apple"]), "OK\n");
    assert.equal(await redisCli(s, ["GET", "fruit"]), "apple\n");
    assert.equal(await redisCli(s, ["EXISTS", "fruit", "fruit", "vegetable"]), "2\n");
    assert.equal(await redisCli(s, ["DEL", "fruit", "vegetable"]), "1\n");
    assert.equal(await redisCli(s, ["EXISTS", "fruit"]), "0\n");
    assert.equal(await redisCli(s, ["PING"]), "PONG\n");
    assert.equal(await redisCli(s, ["PING", "hello there"]), "hello there\n");
  });

  await t.step("ECHO returns CR, LF, tabs, control bytes and UTF-8 unchanged", async () => {
    const text = "line one\r\nline\ttwo \x01\x7f caf\u00e9 \u2713 'quoted' \"double\" back\\slash";
    const utf8 = latin1(new TextEncoder().encode(text));
    assert.equal(await redisCli(s, ["ECHO", text]), `${utf8}\n`);
    // --no-raw shows how redis-cli quotes what is not printable ASCII.
    assert.equal(
      await redisCli(s, ["--no-raw", "ECHO", "a\r\nb\tc\x01 caf\u00e9"]),
      '"a\\r\\nb\\tc\\x01 caf\\xc3\\xa9"\n',
    );
  });

  await t.step("-x stores stdin as a value, NUL and invalid UTF-8 included", async () => {
    const value = Uint8Array.of(0x00, 0xff, 0x0d, 0x0a, 0x80, 0x61, 0x00);
    assert.equal(await redisCli(s, ["-x", "SET", "blob"], value), "OK\n");
    assert.equal(await redisCli(s, ["GET", "blob"]), `${latin1(value)}\n`);
    assert.equal(await redisCli(s, ["--no-raw", "GET", "blob"]), '"\\x00\\xff\\r\\n\\x80a\\x00"\n');
  });

  await t.step("--no-raw prints (nil) for a missing key and (integer) for a count", async () => {
    assert.equal(await redisCli(s, ["--no-raw", "GET", "missing"]), "(nil)\n");
    assert.equal(await redisCli(s, ["--no-raw", "EXISTS", "missing"]), "(integer) 0\n");
    // Raw mode prints a null bulk string as an empty line.
    assert.equal(await redisCli(s, ["GET", "missing"]), "\n");
  });

  await t.step("an unknown command or a wrong arity prints Redis's error", async () => {
    assert.equal(
      await redisCli(s, ["FOO", "bar", "baz"]),
      "ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \n\n",
    );
    assert.equal(
      await redisCli(s, ["--no-raw", "FOO", "bar"]),
      "(error) ERR unknown command 'FOO', with args beginning with: 'bar' \n",
    );
    assert.equal(
      await redisCli(s, ["GET"]),
      "ERR wrong number of arguments for 'get' command\n\n",
    );
  });
});

testEachTarget(
  "redis-cli -3 speaks RESP3 and prints its maps, nulls and text",
  ["redis-cli"],
  async (t, s) => {
    await t.step(
      "HELLO 3 answers with a map, which redis-cli prints as name and value",
      async () => {
        const lines = (await redisCli(s, ["-3", "HELLO", "3"])).split("\n");
        assert.deepEqual(lines.slice(0, 1), ["server redis"]);
        assert.ok(lines.includes("proto 3"), lines.join("\n"));
      },
    );
    await t.step("CONFIG GET is a map, a missing key a null, INFO verbatim text", async () => {
      assert.equal(
        await redisCli(s, ["-3", "--no-raw", "CONFIG", "GET", "appendonly"]),
        '1# "appendonly" => "no"\n',
      );
      assert.equal(await redisCli(s, ["-3", "--no-raw", "GET", "resp3-nothing"]), "(nil)\n");
      assert.match(
        await redisCli(s, ["-3", "--no-raw", "INFO", "server"]),
        /^# Server\r\nredis_version:7\./,
      );
    });
    await t.step(
      "COMMAND DOCS, which redis-cli's prompt asks for first, parses as maps",
      async () => {
        // Piped input starts the prompt's loop, which fetches COMMAND DOCS over RESP3 and asserts on
        // its shape: a clean run is the check.
        assert.equal(await redisCli(s, ["-3"], new TextEncoder().encode("PING\n")), "PONG\n");
      },
    );
  },
);

testEachTarget("redis-cli runs commands piped on stdin", ["redis-cli"], async (t, s) => {
  // With no command on its command line, redis-cli starts its REPL, which first asks
  // COMMAND DOCS for its help and hints, then reads one command per line. A COMMAND DOCS reply
  // it cannot parse makes it abort on an assertion, so a clean run checks that reply too.
  await t.step("each line's reply comes back in order", async () => {
    const script = [
      "SET colour blue",
      'SET quoted "two words"',
      "GET colour",
      "GET quoted",
      "EXISTS colour quoted nothing",
      "NOPE x",
      "GET nothing",
      "DEL colour",
      "PING",
      "",
    ].join("\n");
    assert.equal(
      await redisCli(s, [], new TextEncoder().encode(script)),
      [
        "OK",
        "OK",
        "blue",
        "two words",
        "2",
        "ERR unknown command 'NOPE', with args beginning with: 'x' \n",
        "",
        "1",
        "PONG",
        "",
      ].join("\n"),
    );
  });
});

/**
 * An interactive redis-cli in a pseudo-terminal, driven as a person would type. `script` (from
 * util-linux) provides the terminal; the terminal is given a size, because linenoise, redis-cli's
 * line editor, otherwise asks the terminal for its cursor position and waits for an answer that
 * never comes.
 */
class TerminalSession implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #output = "";
  #cursor = 0;
  #reading: Promise<void>;
  #wake: (() => void) | undefined;

  constructor(command: string) {
    const child = new Deno.Command("script", {
      args: ["-q", "-e", "-c", `stty cols 200 rows 50; exec ${command}`, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { TERM: "xterm", REDISCLI_HISTFILE: "/dev/null", REDISCLI_RCFILE: "/dev/null" },
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = (async () => {
      const stderr = child.stderr.text();
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        this.#output += chunk;
        this.#wake?.();
      }
      this.#output += await stderr;
      this.#wake?.();
    })();
  }

  /** Everything the terminal has shown, escape sequences included. */
  get output(): string {
    return this.#output;
  }

  /** Waits until `text` appears after what earlier waits consumed, and consumes through it. */
  async waitFor(text: string): Promise<void> {
    const deadline = Date.now() + TIMEOUT_MS;
    let ended = false;
    this.#reading.then(() => ended = true);
    for (;;) {
      const at = this.#output.indexOf(text, this.#cursor);
      if (at >= 0) {
        this.#cursor = at + text.length;
        return;
      }
      if (ended || Date.now() >= deadline) {
        assert.fail(
          `The terminal never showed ${JSON.stringify(text)}; it showed:\n` +
            JSON.stringify(this.#output.slice(this.#cursor)),
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, 50);
      });
      clearTimeout(timer);
    }
  }

  /** Types a line and presses Enter. */
  async type(line: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(`${line}\r`));
  }

  /** Waits for the program to exit by itself and returns its exit code. */
  async exitCode(): Promise<number> {
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), TIMEOUT_MS);
    const { code } = await this.#child.status;
    clearTimeout(timer);
    await this.#reading;
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#reading;
  }
}

testEachTarget(
  "interactive redis-cli starts, runs commands and exits",
  ["redis-cli", "script"],
  async (t, s) => {
    await t.step("SET, GET and help at the prompt, then exit", async () => {
      await using terminal = new TerminalSession(`redis-cli -h ${s.host} -p ${s.port}`);
      const prompt = `${s.host}:${s.port}> `;
      // Type only at a fresh prompt: linenoise discards input typed before it is ready for it.
      await terminal.waitFor(prompt);
      await terminal.type("SET greeting hello");
      await terminal.waitFor("\r\nOK\r\n");
      await terminal.waitFor(prompt);
      await terminal.type("GET greeting");
      await terminal.waitFor('\r\n"hello"\r\n');
      await terminal.waitFor(prompt);
      await terminal.type("GET nobody");
      await terminal.waitFor("\r\n(nil)\r\n");
      await terminal.waitFor(prompt);
      // `help` shows what the server's COMMAND DOCS said about the command. Only the labels are
      // checked: lab 1 words its summaries differently from Redis 7.0.
      await terminal.type("help GET");
      // In a terminal the labels are coloured: "\x1b[33mgroup:\x1b[0m string".
      await terminal.waitFor("summary:");
      await terminal.waitFor("group:");
      await terminal.waitFor(" string\r");
      await terminal.waitFor(prompt);
      await terminal.type("exit");
      assert.equal(await terminal.exitCode(), 0, terminal.output);
      assert.doesNotMatch(terminal.output, /error|assert|unknown/i);
    });
  },
);

testEachTarget("redis-benchmark completes SET, GET and PING", ["redis-benchmark"], async (t, s) => {
  await t.step("every test reports a throughput and a latency, with no error", async () => {
    // One connection (-c 1), because lab 1 serves one client at a time. redis-benchmark 7 stops
    // at the first error reply and exits non-zero, so a clean exit means every reply was good.
    // Speed is never asserted.
    const result = await runProgram("redis-benchmark", [
      ...["-h", s.host, "-p", String(s.port)],
      ...["-c", "1", "-n", "2000", "-t", "set,get,ping", "-q", "--csv"],
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    const rows = parseBenchmarkCsv(new TextDecoder().decode(result.stdout));
    assert.deepEqual(rows.map((r) => r.test), ["PING_INLINE", "PING_MBULK", "SET", "GET"]);
    for (const row of rows) {
      assert.ok(row.rps > 0, `${row.test} reported ${row.rps} requests per second`);
      assert.ok(Number.isFinite(row.avgLatencyMs), `${row.test} reported no latency`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// ioredis
// ---------------------------------------------------------------------------------------------

/** A connection name, sent with CLIENT SETNAME on connect, for the checks that look for it. */
const NAMED = { connectionName: "interop-ioredis" };

testEachTarget("ioredis works unchanged", [], async (t, s) => {
  await t.step("connecting runs its handshake and names the connection", async () => {
    await withIoredis(s, 1, async (redis) => {
      assert.equal(redis.status, "ready");
      assert.equal(await redis.client("GETNAME"), "interop-ioredis");
    }, NAMED);
  });

  await t.step("set, get, exists, del, ping and echo answer as Redis does", async () => {
    await withIoredis(s, 1, async (redis) => {
      assert.equal(await redis.set("city", "Lisbon"), "OK");
      assert.equal(await redis.get("city"), "Lisbon");
      assert.equal(await redis.get("country"), null);
      assert.equal(await redis.exists("city", "city", "country"), 2);
      assert.equal(await redis.del("city", "country"), 1);
      assert.equal(await redis.exists("city"), 0);
      assert.equal(await redis.ping(), "PONG");
      assert.equal(await redis.ping("hi"), "hi");
      assert.equal(await redis.echo("caf\u00e9 \u2713\r\n"), "caf\u00e9 \u2713\r\n");
    });
  });

  await t.step("a pipeline of 100 commands gets 100 replies in order", async () => {
    await withIoredis(s, 1, async (redis) => {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 50; i++) pipeline.set(`item:${i}`, `value ${i}`);
      for (let i = 0; i < 50; i++) pipeline.get(`item:${i}`);
      const results = await pipeline.exec();
      const expected = [
        ...Array.from({ length: 50 }, () => [null, "OK"]),
        ...Array.from({ length: 50 }, (_, i) => [null, `value ${i}`]),
      ];
      assert.deepEqual(results, expected);
    });
  });

  await t.step("binary keys and values round-trip through getBuffer", async () => {
    await withIoredis(s, 1, async (redis) => {
      const key = Buffer.from([0x6b, 0x00, 0xff, 0x0d, 0x0a]);
      const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      assert.equal(await redis.set(key, small), "OK");
      assert.deepEqual(await redis.getBuffer(key), small);
      assert.equal(await redis.exists(key), 1);
    });
  });

  await t.step("a 200 KiB binary value is stored intact", async () => {
    // 200 KiB spans many of the server's 16 KiB reads. It is read back by a raw client, not by
    // ioredis: a reply that reaches ioredis in several chunks makes its parser (redis-parser 3)
    // grow a buffer pool shared by the whole process and start a 50 ms setInterval that shrinks
    // the pool and clears itself a second or so later. No connection owns that interval, so
    // closing the client cannot stop it, and Deno's sanitizers would blame whichever test it
    // ends in. node-redis reads a large binary value back itself, below.
    const value = randomBuffer(200 * 1024);
    await withIoredis(s, 1, async (redis) => {
      assert.equal(await redis.set("large", value), "OK");
    });
    await using raw = await RawClient.connect(s.addr);
    assert.equal(await raw.call("GET", "large"), latin1(value));
  });

  await t.step("an unknown command rejects with a ReplyError holding Redis's text", async () => {
    await withIoredis(s, 1, async (redis) => {
      await assert.rejects(redis.call("NOPE", "x", "y"), (error: unknown) => {
        assert.ok(error instanceof ReplyError, `expected a ReplyError, got ${error}`);
        assert.equal(
          (error as Error).message,
          "ERR unknown command 'NOPE', with args beginning with: 'x' 'y' ",
        );
        return true;
      });
      await assert.rejects(redis.call("GET"), {
        message: "ERR wrong number of arguments for 'get' command",
      });
      // An error reply is an ordinary answer: the connection carries on.
      assert.equal(await redis.ping(), "PONG");
    });
  });

  await t.step("quit gets OK and the connection ends", async () => {
    const redis = await connectIoredis(s, NAMED);
    await closeIoredis(redis, "quit");
    assert.equal(redis.status, "end");
  });
});

// ---------------------------------------------------------------------------------------------
// node-redis
// ---------------------------------------------------------------------------------------------

/**
 * Creates a node-redis client for the tests. Two options matter:
 *
 * - `RESP: 2`. node-redis 6 opens with `HELLO 3` by default. Lab 1 speaks RESP2 only and answers
 *   that with Redis's `-NOPROTO`, so the client must ask for RESP2, as it would of a Redis older
 *   than 6 (see the last test of this file).
 * - `reconnectStrategy: false`, so that a failure fails the test instead of reconnecting forever.
 */
function nodeRedisClient(server: RunningServer, resp: 2 | 3 = 2) {
  return createClient({
    url: `redis://${server.host}:${server.port}`,
    RESP: resp,
    // With RESP2 the name is set by CLIENT SETNAME on connect, next to its CLIENT SETINFO pair.
    name: "interop-node-redis",
    socket: { reconnectStrategy: false, connectTimeout: TIMEOUT_MS },
  });
}

type NodeRedisClient = ReturnType<typeof nodeRedisClient>;

async function withNodeRedis(
  server: RunningServer,
  fn: (client: NodeRedisClient) => Promise<void>,
) {
  const client = nodeRedisClient(server);
  const errors: unknown[] = [];
  client.on("error", (error) => errors.push(error));
  await client.connect();
  try {
    await fn(client);
  } finally {
    if (client.isOpen) await client.close();
  }
  // node-redis reports socket trouble through this event, not through the commands' promises.
  assert.deepEqual(errors, []);
}

testEachTarget("node-redis works unchanged", [], async (t, s) => {
  await t.step("connecting runs its handshake and names the connection", async () => {
    await withNodeRedis(s, async (client) => {
      assert.equal(client.isReady, true);
      assert.equal(await client.clientGetName(), "interop-node-redis");
    });
  });

  await t.step("set, get, exists and del answer as Redis does", async () => {
    await withNodeRedis(s, async (client) => {
      assert.equal(await client.set("planet", "Mars"), "OK");
      assert.equal(await client.get("planet"), "Mars");
      assert.equal(await client.get("moon"), null);
      assert.equal(await client.exists(["planet", "planet", "moon"]), 2);
      assert.equal(await client.del(["planet", "moon"]), 1);
      assert.equal(await client.exists("planet"), 0);
    });
  });

  await t.step("sendCommand sends raw commands and returns raw replies", async () => {
    await withNodeRedis(s, async (client) => {
      assert.equal(await client.sendCommand(["PING"]), "PONG");
      assert.equal(await client.sendCommand(["ECHO", "a\r\nb"]), "a\r\nb");
      assert.equal(await client.sendCommand(["SET", "raw", "1"]), "OK");
      assert.equal(await client.sendCommand(["GET", "raw"]), "1");
      assert.equal(await client.sendCommand(["GET", "absent"]), null);
    });
  });

  await t.step("binary values come back as Buffers with a type mapping", async () => {
    await withNodeRedis(s, async (client) => {
      const value = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80, 0x7f, 0x00]);
      assert.equal(await client.set("bytes", value), "OK");
      const binary = client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
      assert.deepEqual(await binary.get("bytes"), value);
      const large = randomBuffer(200 * 1024);
      assert.equal(await client.set("large", large), "OK");
      assert.deepEqual(await binary.get("large"), large);
    });
  });

  await t.step("an unknown command rejects with an ErrorReply holding Redis's text", async () => {
    await withNodeRedis(s, async (client) => {
      await assert.rejects(client.sendCommand(["NOPE", "x"]), (error: unknown) => {
        assert.ok(error instanceof ErrorReply, `expected an ErrorReply, got ${error}`);
        assert.equal(error.message, "ERR unknown command 'NOPE', with args beginning with: 'x' ");
        return true;
      });
      assert.equal(await client.ping(), "PONG");
    });
  });

  await t.step("close and destroy both end the connection", async () => {
    const closing = nodeRedisClient(s);
    await closing.connect();
    await closing.close();
    assert.equal(closing.isOpen, false);
    const destroyed = nodeRedisClient(s);
    await destroyed.connect();
    destroyed.destroy();
    assert.equal(destroyed.isOpen, false);
  });
});

testEachTarget("node-redis with its default options speaks RESP3", [], async (t, s) => {
  // node-redis 6 opens with HELLO 3 unless told otherwise: replies then come as RESP3 maps, nulls
  // and verbatim strings, which it turns into objects, null and strings.
  const client = createClient({
    url: `redis://${s.host}:${s.port}`,
    socket: { reconnectStrategy: false, connectTimeout: TIMEOUT_MS },
  });
  const errors: unknown[] = [];
  client.on("error", (error) => errors.push(error));
  await client.connect();
  try {
    await t.step("the connection is RESP3", async () => {
      const id = await client.clientId();
      const list = String(await client.sendCommand(["CLIENT", "LIST", "ID", String(id)]));
      assert.match(list, new RegExp(`^id=${id} .* resp=3[ \n]`));
      const hello = await client.hello();
      assert.equal(hello.proto, 3);
      assert.equal(hello.server, "redis");
    });
    await t.step(
      "strings, nulls, maps and verbatim text come back as Redis sends them",
      async () => {
        assert.equal(await client.set("resp3", "value"), "OK");
        assert.equal(await client.get("resp3"), "value");
        assert.equal(await client.get("resp3-missing"), null);
        assert.deepEqual(await client.configGet("appendonly"), { appendonly: "no" });
        assert.match(await client.info("server"), /^# Server\r\nredis_version:7\./);
        assert.equal(await client.exists(["resp3", "resp3-missing"]), 1);
        assert.equal(await client.del("resp3"), 1);
      },
    );
  } finally {
    await client.close();
  }
  assert.deepEqual(errors, []);
});
