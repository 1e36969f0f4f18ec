/**
 * ioredis, connected the way the interoperability tests need it: exactly like an application, but
 * with no reconnecting (a dropped connection must fail the test, not be retried behind its back)
 * and a timeout on every command (a silent server fails the test instead of hanging it).
 *
 * @module
 */

import assert from "node:assert/strict";
import { once } from "node:events";
import { Redis } from "ioredis";
import { within } from "./deadline.ts";

/** Long enough for a loaded CI machine, short enough that a stuck client fails the test. */
export const CLIENT_TIMEOUT_MS = 10_000;

/** Options for {@link connectIoredis}. */
export interface IoredisOptions {
  /** Sent with `CLIENT SETNAME` on connect, on top of the `INFO` and `CLIENT SETINFO` it sends. */
  connectionName?: string;
  /** The database to `SELECT` on connect, as an application's `{ db: 1 }`; 0 if absent. */
  db?: number;
}

/**
 * Connects ioredis to a server.
 *
 * @param server Where it listens.
 * @param options A connection name, a database, if the test needs them.
 * @returns A connected client.
 */
export async function connectIoredis(
  server: { host: string; port: number },
  options: IoredisOptions = {},
): Promise<Redis> {
  const redis = new Redis({
    host: server.host,
    port: server.port,
    connectionName: options.connectionName,
    db: options.db,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: CLIENT_TIMEOUT_MS,
    commandTimeout: CLIENT_TIMEOUT_MS,
  });
  await redis.connect();
  return redis;
}

/**
 * Closes an ioredis connection and waits for its `end` event, which ioredis emits once the socket
 * has closed and it has given up reconnecting: only then is the server free for the next client.
 *
 * @param redis The client.
 * @param how `quit` sends QUIT and expects `OK`; `disconnect` just closes the socket.
 */
export async function closeIoredis(
  redis: Redis,
  how: "quit" | "disconnect" = "disconnect",
): Promise<void> {
  if (redis.status === "end") return;
  const ended = once(redis, "end");
  if (how === "quit") assert.equal(await redis.quit(), "OK");
  else redis.disconnect();
  // After QUIT, ioredis waits for the server to close the socket: a server that forgets to would
  // leave this waiting, so it is bounded.
  await within(ended, "ioredis to see its connection end", CLIENT_TIMEOUT_MS);
}

/**
 * Runs `fn` with `count` ioredis connections, closing them all however it ends.
 *
 * @param server Where it listens.
 * @param count How many connections.
 * @param fn The test's body.
 * @param options Passed to {@link connectIoredis}.
 */
export async function withIoredis(
  server: { host: string; port: number },
  count: number,
  fn: (...clients: Redis[]) => Promise<void>,
  options: IoredisOptions = {},
): Promise<void> {
  const clients = await Promise.all(
    Array.from({ length: count }, () => connectIoredis(server, options)),
  );
  try {
    await fn(...clients);
  } finally {
    await Promise.all(clients.map((redis) => closeIoredis(redis)));
  }
}
