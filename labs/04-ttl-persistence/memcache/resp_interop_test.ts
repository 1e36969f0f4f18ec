/**
 * Lab 4's server, black box: one keyspace behind two ports. A key set over memcached is read over
 * RESP and the other way round, and memcached's flags and expiry survive a restart, from the
 * append-only log and from a snapshot.
 *
 * @module
 */

import assert from "node:assert/strict";
import { freePort, type RunningServer, startLabServer } from "../../../shared/testing/processes.ts";
import { OK } from "../../../shared/resp/reply.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, scratchDir } from "../test_support.ts";
import { getReply, storage } from "./suite.ts";
import { McClient, parseValueLine } from "./testing.ts";

/** Lab 4 with its memcached port on, in `dir`; the two addresses. */
async function startLab4(dir: string, ...more: string[]) {
  // The server prints its memcached address on a second line the test kit does not read, so pick
  // the port here. Another process could take it first; then the start fails and we retry.
  for (let attempt = 0;; attempt++) {
    const memcachePort = freePort();
    try {
      const server: RunningServer = await startLabServer(LAB4_ENTRY, {
        args: ["--dir", dir, "--memcache-port", String(memcachePort), ...more],
        denoFlags: [...LAB4_DENO_FLAGS],
      });
      return { server, resp: server.addr, memcache: `127.0.0.1:${memcachePort}` };
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** `gets` a key and returns its VALUE line's fields and data. */
async function gets(c: McClient, key: string) {
  await c.send(`gets ${key}\r\n`);
  const line = parseValueLine(await c.readLine());
  const data = await c.read(line.bytes);
  await c.expect("\r\nEND\r\n");
  return { ...line, data };
}

Deno.test("lab 4: a key set over memcached is read over RESP, and the other way round", async () => {
  const lab4 = await startLab4(scratchDir(), "--save", "", "--appendonly", "no");
  await using _server = lab4.server;
  await using mc = await McClient.connect(lab4.memcache);
  await using resp = await RawClient.connect(lab4.resp);

  await mc.send(storage("set", "from:mc", 5, 100, "hello\r\nworld"));
  await mc.expect("STORED\r\n");
  assert.equal(await resp.call("GET", "from:mc"), "hello\r\nworld");
  const pttl = await resp.call("PTTL", "from:mc");
  assert.ok(typeof pttl === "number" && pttl > 90_000 && pttl <= 100_000, `PTTL ${pttl}`);

  assert.deepEqual(await resp.call("SET", "from:resp", "42", "EX", "50"), OK);
  await mc.send("get from:resp\r\nincr from:resp 8\r\n");
  await mc.expect(getReply("from:resp", 0, "42") + "50\r\n");
  assert.equal(await resp.call("GET", "from:resp"), "50");
  const ttl = await resp.call("TTL", "from:resp");
  assert.ok(typeof ttl === "number" && ttl > 40 && ttl <= 50, `TTL ${ttl}`);

  // RESP's SET replaces the whole item: memcached's flags go, and an old cas unique fails.
  const before = await gets(mc, "from:mc");
  assert.equal(before.flags, 5);
  await resp.call("SET", "from:mc", "replaced");
  const after = await gets(mc, "from:mc");
  assert.deepEqual([after.flags, after.data], [0, "replaced"]);
  await mc.send(storage("cas", "from:mc", 0, 0, "x", ` ${before.cas}`));
  await mc.expect("EXISTS\r\n");

  await mc.send("delete from:resp\r\n");
  await mc.expect("DELETED\r\n");
  assert.equal(await resp.call("EXISTS", "from:resp"), 0);
  await resp.call("FLUSHALL");
  await mc.send("get from:mc\r\n");
  await mc.expect("END\r\n");
});

for (const mode of ["append-only log", "snapshot"] as const) {
  Deno.test(`lab 4: memcached flags and expiry survive a restart (${mode})`, async () => {
    const dir = scratchDir();
    const flags = mode === "snapshot"
      ? ["--save", "", "--appendonly", "no"]
      : ["--save", "", "--appendonly", "yes", "--appendfsync", "always"];
    const first = await startLab4(dir, ...flags);
    try {
      await using mc = await McClient.connect(first.memcache);
      await mc.send(
        storage("set", "plain", 7, 0, "p") +
          storage("set", "ttl", 9, 1000, "10") +
          "incr ttl 5\r\n" +
          storage("prepend", "plain", 0, 0, ">") +
          storage("set", "touched", 3, 0, "t") + "touch touched 500\r\n" +
          storage("set", "gone", 1, 0, "g") + "delete gone\r\n",
      );
      await mc.expect(
        "STORED\r\nSTORED\r\n15\r\nSTORED\r\nSTORED\r\nTOUCHED\r\nSTORED\r\nDELETED\r\n",
      );
      if (mode === "snapshot") {
        await using resp = await RawClient.connect(first.resp);
        assert.deepEqual(await resp.call("SAVE"), OK);
      }
    } finally {
      await first.server.stop();
    }

    const second = await startLab4(dir, ...flags);
    await using _server = second.server;
    await using mc = await McClient.connect(second.memcache);
    await mc.send("get plain ttl touched gone\r\n");
    await mc.expect(
      `VALUE plain 7 2\r\n>p\r\nVALUE ttl 9 2\r\n15\r\nVALUE touched 3 1\r\nt\r\nEND\r\n`,
    );
    await using resp = await RawClient.connect(second.resp);
    assert.equal(await resp.call("TTL", "plain"), -1);
    const ttl = await resp.call("TTL", "ttl");
    assert.ok(typeof ttl === "number" && ttl > 900 && ttl <= 1000, `TTL ${ttl}`);
    const touched = await resp.call("TTL", "touched");
    assert.ok(typeof touched === "number" && touched > 400 && touched <= 500, `TTL ${touched}`);
  });
}
