/**
 * The upstream connection on its own, against listeners made in the test: a refused connect, the
 * backoff that follows, a silent server, a server that hangs up.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort } from "../../../shared/testing/processes.ts";
import { Upstream, UpstreamError } from "./upstream.ts";

/** A port nothing listens on. */
function deadPort(): number {
  return freePort();
}

Deno.test("Upstream: nothing listening is a clear error, and retries wait for the backoff", async () => {
  const log: string[] = [];
  const port = deadPort();
  const upstream = new Upstream({
    host: "127.0.0.1",
    port,
    timeoutMs: 1000,
    log: (l) => log.push(l),
  });
  try {
    const first = await upstream.call(["GET", "k"]).catch((e) => e);
    assert.ok(first instanceof UpstreamError);
    assert.equal(first.message, `upstream 127.0.0.1:${port} unavailable: Connection refused`);
    assert.equal(
      first.reply.message,
      `ERR upstream 127.0.0.1:${port} unavailable: Connection refused`,
    );
    // Within the backoff, a request fails at once without trying: the log says so only once.
    const second = await upstream.call(["GET", "k"]).catch((e) => e);
    assert.ok(second instanceof UpstreamError);
    assert.equal(log.filter((l) => l.includes("unreachable")).length, 1);
    assert.equal(upstream.connected, false);
    assert.equal(upstream.errors, 2);
    assert.equal(upstream.calls, 0, "nothing was sent");
  } finally {
    await upstream.close();
  }
});

Deno.test("Upstream: requests left with no reply fail after the timeout, and the link is dropped", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const upstream = new Upstream({ host: "127.0.0.1", port: listener.addr.port, timeoutMs: 150 });
  const accepted = listener.accept(); // accepts, then never answers
  try {
    const failed = await upstream.call(["PING"]).catch((e) => e);
    assert.ok(failed instanceof UpstreamError);
    assert.match(failed.message, /unavailable: no reply within 150 ms$/);
    assert.equal(upstream.connected, false);
  } finally {
    await upstream.close();
    (await accepted).close();
    listener.close();
  }
});

Deno.test("Upstream: a server that hangs up fails its waiting requests; the next one reconnects", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const lost: string[] = [];
  const upstream = new Upstream({
    host: "127.0.0.1",
    port: listener.addr.port,
    timeoutMs: 2000,
    onLost: () => lost.push("lost"),
  });
  try {
    const waiting = upstream.call(["GET", "k"]).catch((e) => e);
    const first = await listener.accept();
    await first.read(new Uint8Array(64)); // the request arrived; hang up without answering
    first.close();
    const failed = await waiting;
    assert.ok(failed instanceof UpstreamError);
    assert.match(failed.message, /unavailable: (Server closed the connection|Connection reset)/);
    assert.deepEqual(lost, ["lost"]);

    // The next request opens a new connection, and this time the server answers.
    const answered = upstream.call(["GET", "k"]);
    const second = await listener.accept();
    const buffer = new Uint8Array(64);
    const n = await second.read(buffer) ?? 0;
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n)), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    await second.write(new TextEncoder().encode("$2\r\nok\r\n"));
    assert.equal(await answered, "ok");
    assert.equal(upstream.connected, true);
    await upstream.close();
    second.close();
  } finally {
    await upstream.close();
    listener.close();
  }
});

Deno.test("Upstream sends byte strings as bytes, not as UTF-8", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const upstream = new Upstream({ host: "127.0.0.1", port: listener.addr.port, timeoutMs: 2000 });
  try {
    const reply = upstream.call(["GET", "\xff\x00"]);
    const conn = await listener.accept();
    const buffer = new Uint8Array(64);
    const n = await conn.read(buffer) ?? 0;
    assert.deepEqual(
      [...buffer.subarray(n - 4, n)],
      [0xff, 0x00, 0x0d, 0x0a],
      "the key's two bytes arrive as two bytes",
    );
    await conn.write(new Uint8Array([0x24, 0x31, 0x0d, 0x0a, 0xfe, 0x0d, 0x0a])); // $1 \xfe
    assert.equal(await reply, "\xfe");
    await upstream.close();
    conn.close();
  } finally {
    await upstream.close();
    listener.close();
  }
});
