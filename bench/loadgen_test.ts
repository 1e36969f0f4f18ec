/**
 * The load generator's counts must add up: these tests check correctness against lab 1's server,
 * never speed (speed is reported by `deno task bench`, not asserted).
 */

import assert from "node:assert/strict";
import { startLabServer } from "../shared/testing/processes.ts";
import type { Transport } from "../shared/transport.ts";
import { type Connect, parseAddr, runLoad } from "./loadgen.ts";

const LAB1 = "labs/01-single-client/server.ts";

Deno.test("runLoad() against lab 1", async (t) => {
  await using server = await startLabServer(LAB1);

  await t.step("a timed run gets one reply for every request sent, and no errors", async () => {
    const result = await runLoad(server.addr, {
      connections: 1,
      pipeline: 8,
      mix: "set:50,get:50,ping:10",
      duration: 0.3,
    });
    assert.ok(result.requests > 0, "something was sent");
    assert.equal(result.replies, result.requests);
    assert.equal(result.errors, 0);
    assert.equal(result.firstError, undefined);
    assert.equal(result.batches * 8, result.requests, "only whole batches in a timed run");
    assert.ok(result.latencyUs.p50 <= result.latencyUs.p99);
    assert.ok(result.latencyUs.p99 <= result.latencyUs.max);
  });

  await t.step(
    "a counted run sends exactly that many requests, with a short last batch",
    async () => {
      const result = await runLoad(server.addr, { connections: 1, pipeline: 16, requests: 1000 });
      assert.equal(result.requests, 1000);
      assert.equal(result.replies, 1000);
      assert.equal(result.batches, 63, "62 batches of 16 and one of 8");
      assert.equal(result.errors, 0);
    },
  );

  await t.step("error replies are counted, with the first one's text", async () => {
    // Lab 1 has no INCR: every request is answered with an error, and still counted as a reply.
    const result = await runLoad(server.addr, {
      connections: 1,
      pipeline: 4,
      mix: "incr:1,ping:1",
      requests: 200,
    });
    assert.equal(result.replies, 200);
    assert.ok(result.errors > 0 && result.errors < 200, `${result.errors} errors`);
    assert.match(result.firstError ?? "", /^ERR unknown command 'INCR'/);
  });

  await t.step("a custom connect function carries all the traffic and is closed", async () => {
    let written = 0;
    let opened = 0;
    let closed = 0;
    const connect: Connect = async (addr) => {
      const conn = await Deno.connect(addr);
      opened++;
      const transport: Transport = {
        read: (buffer) => conn.read(buffer),
        write: async (data) => {
          const n = await conn.write(data);
          written += n;
          return n;
        },
        close: () => {
          closed++;
          conn.close();
        },
      };
      return transport;
    };
    const result = await runLoad(server.addr, { connections: 1, requests: 100, connect });
    assert.equal(result.replies, 100);
    assert.equal(opened, 1);
    assert.ok(closed >= 1);
    assert.ok(written > 100 * 20, `${written} bytes for 100 commands`);
  });
});

Deno.test("runLoad() fails with a clear error when the server hangs up", async () => {
  // A server that accepts, reads a little, and closes: the run must end in an error, not a hang.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(16));
    conn.close();
  })();
  try {
    await assert.rejects(
      runLoad(`127.0.0.1:${listener.addr.port}`, { connections: 1, requests: 10, timeout: 5 }),
      /closed the connection|reset/i,
    );
  } finally {
    await serving;
    listener.close();
  }
});

Deno.test("runLoad() rejects options out of range before connecting", async () => {
  await assert.rejects(runLoad("127.0.0.1:1", { connections: 0 }), RangeError);
  await assert.rejects(runLoad("127.0.0.1:1", { mix: "nope" }), SyntaxError);
});

Deno.test("parseAddr() splits host and port, including bracketed IPv6", () => {
  assert.deepEqual(parseAddr("127.0.0.1:6379"), { hostname: "127.0.0.1", port: 6379 });
  assert.deepEqual(parseAddr("[::1]:6380"), { hostname: "::1", port: 6380 });
  assert.throws(() => parseAddr("localhost"), SyntaxError);
  assert.throws(() => parseAddr("localhost:99999"), SyntaxError);
});
