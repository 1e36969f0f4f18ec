import assert from "node:assert/strict";
import { bytesToByteString, byteStringToBytes, byteStringToUtf8 } from "../resp/bytes.ts";
import { encodeCommand } from "../resp/encoder.ts";
import { ErrorReply, type Reply, SimpleString } from "../resp/reply.ts";
import {
  freePort,
  hasProgram,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../testing/processes.ts";
import { NoDelaySpy } from "../testing/no_delay_spy.ts";
import { RedisClient, type Transport } from "./client.ts";

const LAB1 = "labs/01-single-client/server.ts";
const REDIS_INSTALLED = hasProgram("redis-server");

/** A server that stops may close its sockets cleanly (end of stream) or reset them. */
const CONNECTION_ENDED = /^(Server closed the connection|Connection lost: .+)$/;

/**
 * An in-memory transport: the test plays the server, choosing exactly which bytes arrive and
 * when, and sees every write the client makes.
 */
class FakeTransport implements Transport {
  /** Each write the client made, as a byte string. */
  readonly writes: string[] = [];
  closed = false;
  #incoming: (Uint8Array | null)[] = [];
  #wake: (() => void) | undefined;

  /** Makes bytes (a byte string) arrive at the client, or, with `null`, the end of the stream. */
  deliver(data: string | null): void {
    this.#incoming.push(data === null ? null : byteStringToBytes(data));
    this.#wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#incoming.length === 0 && !this.closed) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#incoming[0];
    if (this.closed || chunk === null || chunk === undefined) return null;
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#incoming.shift();
    else this.#incoming[0] = chunk.subarray(n);
    return n;
  }

  write(data: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe"));
    this.writes.push(bytesToByteString(data));
    return Promise.resolve(data.length);
  }

  close(): void {
    this.closed = true;
    this.#wake?.();
  }
}

/** Waits until the client's queued writes have gone out (they leave on a microtask). */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("send() resolves replies in the order the commands were sent", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const replies = Promise.all([
    client.send("SET", "k", "v"),
    client.send("GET", "k"),
    client.send("GET", "missing"),
    client.send("EXISTS", "k"),
  ]);
  await nextTurn();
  transport.deliver("+OK\r\n$1\r\nv\r\n$-1\r\n:1\r\n");
  assert.deepEqual(await replies, [new SimpleString("OK"), "v", null, 1]);
});

Deno.test("send() calls made in the same turn go out in one write", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const replies = Array.from({ length: 100 }, (_, i) => client.send("ECHO", String(i)));
  await nextTurn();
  assert.equal(transport.writes.length, 1);
  transport.deliver(Array.from({ length: 100 }, (_, i) => `+${i}\r\n`).join(""));
  assert.deepEqual(await Promise.all(replies), replies.map((_, i) => new SimpleString(String(i))));
});

Deno.test("pipeline() sends every command in one write and returns the replies in order", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const replies = client.pipeline([["INCR", "n"], ["INCR", "n"], ["NOPE"]]);
  await nextTurn();
  assert.deepEqual(transport.writes, [
    bytesToByteString(encodeCommand(["INCR", "n"])) +
    bytesToByteString(encodeCommand(["INCR", "n"])) +
    bytesToByteString(encodeCommand(["NOPE"])),
  ]);
  transport.deliver(":1\r\n:2\r\n-ERR unknown command 'NOPE'\r\n");
  assert.deepEqual(await replies, [1, 2, new ErrorReply("ERR unknown command 'NOPE'")]);
});

Deno.test("send() encodes text as UTF-8 and sends bytes as they are", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const reply = client.send("SET", "é", new Uint8Array([0xff, 0x00]));
  await nextTurn();
  assert.deepEqual(transport.writes, ["*3\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$2\r\n\xff\x00\r\n"]);
  transport.deliver("+OK\r\n");
  assert.deepEqual(await reply, new SimpleString("OK"));
});

Deno.test("a reply that arrives one byte at a time is decoded once it is whole", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const reply = client.send("LRANGE", "l", "0", "-1");
  for (const byte of "*2\r\n$3\r\na\r\n\r\n:-7\r\n") transport.deliver(byte);
  assert.deepEqual(await reply, ["a\r\n", -7]);
});

Deno.test("the end of the stream rejects every waiting command and every later one", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const first = client.send("PING");
  const second = client.send("PING");
  await nextTurn();
  transport.deliver("+PONG\r\n");
  transport.deliver(null);
  assert.deepEqual(await first, new SimpleString("PONG"));
  await assert.rejects(second, { message: "Server closed the connection" });
  assert.equal(client.closed, true);
  await assert.rejects(client.send("PING"), { message: "Server closed the connection" });
  await assert.rejects(client.pipeline([["PING"]]), { message: "Server closed the connection" });
});

Deno.test("close() rejects the commands still waiting for a reply", async () => {
  const transport = new FakeTransport();
  const client = RedisClient.over(transport);
  const waiting = client.send("PING");
  await client.close();
  await assert.rejects(waiting, { message: "Connection closed by the client" });
  assert.equal(transport.closed, true);
  await client.close();
});

Deno.test("a malformed reply rejects with the protocol error", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const reply = client.send("PING");
  transport.deliver("?what\r\n");
  await assert.rejects(reply, {
    message: "Cannot decode the server's reply: Protocol error: unexpected reply type '?'",
  });
});

Deno.test("a reply that no command waits for ends the connection", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  transport.deliver("+OK\r\n");
  await nextTurn();
  await assert.rejects(client.send("PING"), {
    message: "Server sent a reply that no command was waiting for",
  });
});

Deno.test("an empty command is refused before it can put replies out of step", async () => {
  const transport = new FakeTransport();
  await using client = RedisClient.over(transport);
  const message = "Cannot send an empty command: it needs at least a name";
  await assert.rejects(client.send(), { name: "TypeError", message });
  await assert.rejects(client.pipeline([["PING"], []]), { name: "TypeError", message });
  await nextTurn();
  assert.deepEqual(transport.writes, []);
});

Deno.test("RedisClient.connect() rejects when nothing listens on the port", async () => {
  await assert.rejects(
    RedisClient.connect({ host: "127.0.0.1", port: freePort() }),
    Deno.errors.ConnectionRefused,
  );
  await assert.rejects(RedisClient.connect("127.0.0.1:http"), {
    name: "TypeError",
    message: 'Cannot parse address "127.0.0.1:http": expected host:port',
  });
});

/**
 * The checks that must hold against any Redis-compatible server: the lab's, and real Redis,
 * which proves that the expectations are Redis's.
 */
function serverChecks(start: () => Promise<RunningServer | null>) {
  return async (t: Deno.TestContext) => {
    const started = await start();
    if (started === null) throw new Error("redis-server disappeared");
    await using server = started;

    await t.step("send() returns status, bulk, null and integer replies as values", async () => {
      await using client = await RedisClient.connect(server.addr);
      assert.deepEqual(await client.send("SET", "greeting", "hello"), new SimpleString("OK"));
      assert.equal(await client.send("GET", "greeting"), "hello");
      assert.equal(await client.send("GET", "no such key"), null);
      assert.equal(await client.send("EXISTS", "greeting", "greeting"), 2);
      assert.deepEqual(await client.send("PING"), new SimpleString("PONG"));
    });

    await t.step("error replies resolve to ErrorReply values instead of throwing", async () => {
      await using client = await RedisClient.connect({ host: server.host, port: server.port });
      const reply = await client.send("SET", "k", "v", "extra");
      assert.deepEqual(reply, new ErrorReply("ERR syntax error"));
      const unknown = await client.send("NOSUCHCOMMAND");
      assert.ok(unknown instanceof ErrorReply);
      assert.match(unknown.message, /^ERR unknown command 'NOSUCHCOMMAND'/);
      // The connection is still good after an error.
      assert.equal(await client.send("ECHO", "still here"), "still here");
    });

    await t.step("pipeline() of 100 commands returns 100 replies in order", async () => {
      await using client = await RedisClient.connect(server.addr);
      const sets = Array.from({ length: 100 }, (_, i) => ["SET", `pipelined:${i}`, `value ${i}`]);
      const gets = Array.from({ length: 100 }, (_, i) => ["GET", `pipelined:${i}`]);
      const replies = await client.pipeline([...sets, ...gets]);
      assert.equal(replies.length, 200);
      assert.deepEqual(replies.slice(0, 100), sets.map(() => new SimpleString("OK")));
      assert.deepEqual(replies.slice(100), gets.map((_, i) => `value ${i}`));
    });

    await t.step("100 outstanding send() calls each get their own reply", async () => {
      await using client = await RedisClient.connect(server.addr);
      const replies: Promise<Reply>[] = [];
      for (let i = 0; i < 100; i++) replies.push(client.send("ECHO", `message ${i}`));
      assert.deepEqual(await Promise.all(replies), replies.map((_, i) => `message ${i}`));
    });

    await t.step("binary values with CR LF, NUL and 0xff bytes round-trip exactly", async () => {
      await using client = await RedisClient.connect(server.addr);
      const key = new Uint8Array([0x6b, 0x0d, 0x0a, 0x00, 0xff]);
      const value = new Uint8Array([0x0d, 0x0a, 0x00, 0xff, 0xfe, 0x80, 0x24, 0x2a, 0x0d, 0x0a]);
      assert.deepEqual(await client.send("SET", key, value), new SimpleString("OK"));
      const got = await client.send("GET", key);
      assert.equal(got, bytesToByteString(value));
      const big = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) & 0xff);
      await client.send("SET", key, big);
      assert.equal(await client.send("GET", key), bytesToByteString(big));
    });

    await t.step("text arguments travel as UTF-8", async () => {
      await using client = await RedisClient.connect(server.addr);
      await client.send("SET", "clé", "naïve ☕");
      const got = await client.send("GET", "clé");
      assert.equal(typeof got === "string" ? byteStringToUtf8(got) : got, "naïve ☕");
      assert.equal(await client.send("GET", new Uint8Array([0x63, 0x6c, 0xc3, 0xa9])), got);
    });

    await t.step("a command after QUIT is rejected: the server closed the connection", async () => {
      await using client = await RedisClient.connect(server.addr);
      const [quit, ping] = [client.send("QUIT"), client.send("PING")];
      assert.deepEqual(await quit, new SimpleString("OK"));
      await assert.rejects(ping, { message: "Server closed the connection" });
      assert.equal(client.closed, true);
    });
  };
}

Deno.test("RedisClient works against the lab 1 server", serverChecks(() => startLabServer(LAB1)));

Deno.test({
  name: REDIS_INSTALLED
    ? "RedisClient works against a real redis-server"
    : "RedisClient works against a real redis-server (skipped: redis-server is not installed)",
  ignore: !REDIS_INSTALLED,
  fn: serverChecks(() => startRedisServer()),
});

Deno.test("a command waiting on the lab 1 server is rejected when the server stops", async () => {
  await using server = await startLabServer(LAB1);
  await using first = await RedisClient.connect(server.addr);
  assert.deepEqual(await first.send("PING"), new SimpleString("PONG"));
  // Lab 1 serves one client at a time, so the second client's command waits unanswered.
  await using second = await RedisClient.connect(server.addr);
  // Attach the check before the rejection can happen, or it counts as unhandled.
  const rejected = assert.rejects(second.send("PING"), { message: CONNECTION_ENDED });
  await server.stop();
  await rejected;
  await assert.rejects(first.send("PING"));
});

Deno.test({
  name: REDIS_INSTALLED
    ? "a blocked command is rejected when redis-server stops"
    : "a blocked command is rejected when redis-server stops (skipped: redis-server is not installed)",
  ignore: !REDIS_INSTALLED,
  async fn() {
    const started = await startRedisServer();
    if (started === null) throw new Error("redis-server disappeared");
    await using server = started;
    await using client = await RedisClient.connect(server.addr);
    // BLPOP on an empty list with no timeout waits for ever: only the connection's end stops it.
    const rejected = assert.rejects(client.send("BLPOP", "empty list", "0"), {
      message: CONNECTION_ENDED,
    });
    await server.stop();
    await rejected;
  },
});

Deno.test("RedisClient.connect() sets TCP_NODELAY, so a pipeline is never held back", async () => {
  using spy = await NoDelaySpy.install();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const addr = `127.0.0.1:${listener.addr.port}`;
  const client = await RedisClient.connect(addr);
  // Accepting is not needed: the option is set once the connection is open.
  using _accepted = await listener.accept();
  await client.close();
  assert.ok(spy.setOnConnectionTo(addr));
});
