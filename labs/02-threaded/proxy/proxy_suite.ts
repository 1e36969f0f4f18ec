/**
 * The caching proxy's checks, for `deno task check lab2-proxy` and the grader: the proxy under test
 * talks to an upstream the run started (lab 2's reference server), and each check counts the
 * upstream's own `GET`s (`INFO commandstats`), so a proxy cannot report its way to a pass. To
 * make concurrency deterministic, a check pauses the upstream with `SIGSTOP`: requests pile up at
 * the proxy until it runs again.
 *
 * The reference's own, broader tests are `proxy_test.ts` beside this file.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RunningServer } from "../../../shared/testing/processes.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import type { StepContext, SuiteStep } from "../../../shared/testing/suite.ts";
import { bulk, command } from "../../01-single-client/suite.ts";
import { readInfo, waitUntil } from "./test_servers.ts";

/** How many `GET`s the upstream has run, by its own count. */
async function upstreamGets(upstream: RunningServer): Promise<number> {
  const stats = await readInfo(upstream.addr, "commandstats");
  return Number(/calls=(\d+)/.exec(stats.get("cmdstat_get") ?? "")?.[1] ?? 0);
}

/** Sets a key on the upstream directly, behind the proxy's back. */
async function setUpstream(upstream: RunningServer, key: string, value: string): Promise<void> {
  await using c = await RawClient.connect(upstream.addr);
  await c.send(command("SET", key, value));
  await c.expect("+OK\r\n");
}

/** Runs `body` and says how many `GET`s it cost the upstream. */
async function upstreamGetsDuring(
  upstream: RunningServer,
  body: () => Promise<void>,
): Promise<number> {
  const before = await upstreamGets(upstream);
  await body();
  return await upstreamGets(upstream) - before;
}

/**
 * Pauses the upstream (`SIGSTOP`) while `body` runs, and lets it go on (`SIGCONT`) after, however
 * `body` ends. `kill()` sends at once; its promise is the process's exit, not awaited here.
 */
async function whilePaused<T>(upstream: RunningServer, body: () => Promise<T>): Promise<T> {
  void upstream.kill("SIGSTOP");
  try {
    return await body();
  } finally {
    void upstream.kill("SIGCONT");
  }
}

/** Sends `GET key` through the proxy `n` times, expecting `reply` each time. */
async function getRepeatedly(c: RawClient, key: string, reply: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await c.send(command("GET", key));
    await c.expect(reply);
  }
}

/** The proxy's own counter, from `INFO proxy`. */
async function proxyStat(ctx: StepContext, name: string): Promise<number> {
  return Number((await readInfo(ctx.addr, "proxy")).get(name));
}

/**
 * The proxy's checks, in lesson order.
 *
 * @param upstream The server the proxy forwards to, which the run started.
 * @returns The steps.
 */
export function proxySteps(upstream: RunningServer): SuiteStep[] {
  return [
    {
      name: "proxy: pipelined commands are answered in order, and bytes pass unchanged",
      redis: false,
      async run(ctx) {
        const c = await ctx.connect();
        const [a, b] = [ctx.key("a"), ctx.key("b")];
        const binary = "\x00\r\n\xff\xfe caf\xc3\xa9";
        await c.send(
          command("SET", a, binary) + command("GET", a) + command("SET", b, "2") +
            command("GET", b) + command("GET", a) + command("PING"),
        );
        await c.expect(
          "+OK\r\n" + bulk(binary) + "+OK\r\n" + bulk("2") + bulk(binary) + "+PONG\r\n",
        );
      },
    },
    {
      name: "proxy: repeated GETs of a key, present or missing, make one upstream GET",
      redis: false,
      async run(ctx) {
        const c = await ctx.connect();
        const [present, missing] = [ctx.key("present"), ctx.key("missing")];
        await setUpstream(upstream, present, "v1");
        const calls = await upstreamGetsDuring(upstream, async () => {
          await getRepeatedly(c, present, bulk("v1"), 10);
          await getRepeatedly(c, missing, "$-1\r\n", 5);
        });
        assert.equal(
          calls,
          2,
          `10 GETs of one key and 5 of a missing one made ${calls} upstream GETs, not 2: a ` +
            "value, and a nil for a missing key, are cached at the first miss and answered from " +
            "the cache after (LruCache.get() in proxy/cache.ts must find what set() stored)",
        );
      },
    },
    {
      name: "proxy: --max-entries 2: the least recently used entry goes first",
      redis: false,
      flags: ["--max-entries", "2"],
      async run(ctx) {
        const c = await ctx.connect();
        const [a, b, third] = [ctx.key("a"), ctx.key("b"), ctx.key("c")];
        for (const key of [a, b, third]) await setUpstream(upstream, key, key);
        await getRepeatedly(c, a, bulk(a), 1);
        await getRepeatedly(c, b, bulk(b), 1);
        // A hit makes `a` the most recently used, so a third entry pushes out `b`, not `a`.
        const hit = await upstreamGetsDuring(upstream, () => getRepeatedly(c, a, bulk(a), 1));
        assert.equal(hit, 0, "the second GET of a cached key went upstream");
        await getRepeatedly(c, third, bulk(third), 1);
        const kept = await upstreamGetsDuring(upstream, () => getRepeatedly(c, a, bulk(a), 1));
        const evicted = await upstreamGetsDuring(upstream, () => getRepeatedly(c, b, bulk(b), 1));
        assert.ok(
          kept === 0 && evicted === 1,
          `with room for 2 entries, after GET a, GET b, GET a, GET c the cache must hold a and ` +
            `c: GET a went upstream ${kept} times (0 expected), GET b ${evicted} (1 expected). A ` +
            "hit moves its key to the back of the Map's order (LruCache.get()), and set() " +
            "evicts from the front until the bounds hold.",
        );
      },
    },
    {
      name: "proxy: --max-age-ms: an entry past its age is fetched again",
      redis: false,
      flags: ["--max-age-ms", "300"],
      async run(ctx) {
        const c = await ctx.connect();
        const key = ctx.key();
        await setUpstream(upstream, key, "old");
        await getRepeatedly(c, key, bulk("old"), 2);
        await setUpstream(upstream, key, "new");
        await new Promise((resolve) => setTimeout(resolve, 600));
        try {
          await getRepeatedly(c, key, bulk("new"), 1);
        } catch (error) {
          throw new Error(
            `${error instanceof Error ? error.message : error}\nAn entry older than ` +
              "--max-age-ms must not be answered: LruCache.get() drops it (counting an " +
              "expiration) and the GET goes upstream. The age is what bounds staleness for " +
              "writes the proxy never sees.",
          );
        }
      },
    },
    {
      name: "proxy: 50 concurrent misses on one key make one upstream GET",
      redis: false,
      async run(ctx) {
        const key = ctx.key("herd");
        await setUpstream(upstream, key, "hot");
        const clients = await Promise.all(Array.from({ length: 50 }, () => ctx.connect()));
        // The shared upstream connection is open before the upstream stops.
        await (await ctx.connect()).call("PING");
        const missesBefore = await proxyStat(ctx, "cache_misses");
        const calls = await upstreamGetsDuring(upstream, async () => {
          await whilePaused(upstream, async () => {
            await Promise.all(clients.map((c) => c.send(command("GET", key))));
            // Every GET has reached the proxy (it answers INFO itself while the upstream sleeps).
            await waitUntil(
              "all 50 GETs to reach the proxy",
              async () => await proxyStat(ctx, "cache_misses") - missesBefore >= 50,
            );
          });
          await Promise.all(clients.map((c) => c.expect(bulk("hot"))));
        });
        assert.equal(
          calls,
          1,
          `50 clients missing on one key at once made ${calls} upstream GETs, not 1: the first ` +
            "miss starts a flight and the others must join it (SingleFlight.join() in " +
            "proxy/single_flight.ts), or a popular key that expires sends a herd upstream.",
        );
      },
    },
    {
      name: "proxy: a write through the proxy invalidates: the next GET returns the new value",
      redis: false,
      async run(ctx) {
        const c = await ctx.connect();
        const [key, other] = [ctx.key(), ctx.key("other")];
        await setUpstream(upstream, key, "v1");
        await setUpstream(upstream, other, "o1");
        await getRepeatedly(c, key, bulk("v1"), 1);
        await getRepeatedly(c, other, bulk("o1"), 1);
        await c.send(command("SET", key, "v2") + command("MSET", other, "o2", key, "v3"));
        await c.expect("+OK\r\n+OK\r\n");
        await c.send(command("GET", key) + command("GET", other));
        try {
          await c.expect(bulk("v3") + bulk("o2"));
        } catch (error) {
          throw new Error(
            `${error instanceof Error ? error.message : error}\nA GET after a write through ` +
              "the proxy answered the old value: #invalidate() (proxy/caching_proxy.ts) must " +
              "drop every key the write's effect names from the cache.",
          );
        }
      },
    },
    {
      name: "proxy: a GET in flight when a write passes does not cache the old value, and a " +
        "GET after the write does not join it",
      redis: false,
      async run(ctx) {
        const [reader, writer, later] = [
          await ctx.connect(),
          await ctx.connect(),
          await ctx.connect(),
        ];
        const key = ctx.key();
        await setUpstream(upstream, key, "old");
        await (await ctx.connect()).call("PING");
        const sent = await proxyStat(ctx, "upstream_calls");
        // The proxy counts an upstream call as it sends it, so the count says what has left.
        const left = (n: number) => async () => await proxyStat(ctx, "upstream_calls") - sent >= n;
        await whilePaused(upstream, async () => {
          // The GET leaves first, then the SET: the upstream will answer the GET with "old".
          await reader.send(command("GET", key));
          await waitUntil("the GET to leave the proxy", left(1));
          await writer.send(command("SET", key, "new"));
          await waitUntil("the SET to leave the proxy", left(2));
          // Asked after the write left: a new flight, behind the SET, not the one before it.
          const misses = await proxyStat(ctx, "cache_misses");
          await later.send(command("GET", key));
          await waitUntil(
            "the later GET to reach the proxy",
            async () => await proxyStat(ctx, "cache_misses") > misses,
          );
        });
        await reader.expect(bulk("old"));
        await writer.expect("+OK\r\n");
        const hint = (error: unknown, what: string) =>
          new Error(
            `${error instanceof Error ? error.message : error}\n${what} #invalidate() ` +
              "(proxy/caching_proxy.ts) must forget the flight in the air for a written key " +
              "(SingleFlight.forget()): its answer still reaches the clients that asked before " +
              "the write, but later requests start a flight of their own, and it fills no cache.",
          );
        try {
          await later.expect(bulk("new"));
        } catch (error) {
          throw hint(error, "A GET sent after the write joined the GET sent before it.");
        }
        await reader.send(command("GET", key));
        try {
          await reader.expect(bulk("new"));
        } catch (error) {
          throw hint(error, "The answer of a GET sent before a write was cached after it.");
        }
      },
    },
  ];
}
