/**
 * The caching proxy's brain: what happens to each command a client sends.
 *
 * ```
 * client ─▶ lab 2's server loop ─▶ CachingProxy.execute ─┬─ INFO, CLIENT, QUIT...  answered here
 *                                                        ├─ GET k   cache ─▶ hit: answered here
 *                                                        │          miss ─▶ single-flight ─▶ upstream
 *                                                        └─ others  invalidate ─▶ upstream ─▶ invalidate
 * ```
 *
 * **Reads.** `GET` is the only command answered from the cache. A miss joins the flight for its
 * key or starts one (`single_flight.ts`), and the answer is stored, the nil of a missing key
 * included: a key that does not exist is asked about as often as one that does, and a flood of
 * misses on it would otherwise all reach the upstream.
 *
 * **Writes.** Every other command is forwarded, and the keys it writes (`command_effects.ts`) are
 * invalidated *twice*: when it is sent, and when its reply (or failure) comes back. Between those
 * two moments the upstream applies the write at an instant the proxy cannot see, so a `GET` answer
 * that arrives in between may be from before it or after it:
 *
 * ```
 * GET k sent ─────────────────────────────────▶ "old" arrives: flight forgotten, not cached
 *            SET k new sent ── invalidate ─────────────────▶ +OK arrives ── invalidate again
 * ```
 *
 * The second invalidation is the one correctness rests on. Once the reply is here the write has
 * been applied, so anything cached from before goes, and any flight still in the air (it might
 * have been read before the write) is forgotten. It holds even for a transaction's `EXEC`, which
 * travels on its own connection and may be applied before or after requests on the shared one.
 * The first makes the write visible sooner: from the moment it leaves, no client is answered from
 * an entry it is about to change, and a flight already in the air will not fill the cache.
 *
 * **Staleness.** A write that does not pass through the proxy — another client talking to the
 * upstream directly, a key expiring upstream, a restore from backup — is invisible here. The cache
 * serves the old answer until the entry's age passes `maxAgeMs`. That window is the honest price
 * of any cache that is not told about every write, and the reason the maximum age exists.
 *
 * **Transactions.** `MULTI`, `EXEC` and `WATCH` need state on the upstream connection, so a client
 * that sends `MULTI` or `WATCH` gets an upstream connection of its own, kept until it leaves. Until
 * its transaction ends, everything it sends goes there and bypasses the cache: a value read after
 * `WATCH` must be the upstream's, or the optimistic lock protects a stale read. Queued writes are
 * invalidated when `EXEC` is sent and when it returns. If that connection is lost in the middle, the
 * transaction is gone with it; the client gets an error and is disconnected, as it would be if it
 * had been talking to the upstream directly, rather than have later commands run unqueued.
 *
 * @module
 */

import { ErrorReply, type Reply, SimpleString } from "../../../shared/resp/reply.ts";
import type { CommandTable } from "../../../shared/server/command_table.ts";
import { execute } from "../../01-single-client/connection.ts";
import type { InfoFields } from "../../../shared/server/info.ts";
import type { Session } from "../../../shared/server/session.ts";
import { type CacheOptions, LruCache } from "./cache.ts";
import { combineEffects, CommandEffects, type Effect, NO_EFFECT } from "./command_effects.ts";
import { FORWARDED, LOCAL_COMMANDS, refusalOf } from "./routing.ts";
import { type Flight, SingleFlight } from "./single_flight.ts";
import { Upstream, UpstreamError, type UpstreamLink } from "./upstream.ts";

/** Options for {@link CachingProxy}. */
export interface CachingProxyOptions {
  /** The upstream server. */
  upstream: { host: string; port: number };
  /** Sent as `AUTH [user] password` on every upstream connection, when the upstream needs it. */
  upstreamAuth?: { user?: string; password: string };
  /** Commands forwarded besides the default allow-list (`routing.ts`), in lower case. */
  allowCommands?: readonly string[];
  /** How long a connect, or requests with no reply at all, may take upstream. */
  timeoutMs: number;
  /** The cache's bounds, and optionally its clock. */
  cache: CacheOptions;
  /**
   * What the proxy knows about commands without asking the upstream: which write, and where their
   * keys are. Lab 2's table.
   */
  commands: CommandTable;
  /** Where log lines go. */
  log?: (line: string) => void;
}

/** Counters for `INFO proxy`, besides the cache's and the upstream's own. */
export interface ProxyStats {
  /** `GET`s answered from the cache. */
  hits: number;
  /** `GET`s the cache could not answer. */
  misses: number;
  /** Misses that waited for another client's upstream `GET` instead of sending their own. */
  sharedFlights: number;
  /** Cached entries dropped because a write to their key passed through the proxy. */
  invalidations: number;
}

/** A client that needs its own upstream connection for `MULTI` and `WATCH`. */
interface Pinned {
  link: UpstreamLink | null;
  /** Inside `MULTI`: commands are queued upstream. */
  inMulti: boolean;
  /** Has watched keys upstream. */
  watching: boolean;
  /** What the queued commands will do to the cache when `EXEC` runs them. */
  queued: Effect[];
  /**
   * The proxy refused a command inside `MULTI`. The upstream never saw it, so it would run the
   * rest; Redis aborts a transaction with a rejected command, so the proxy aborts it at `EXEC`.
   */
  dirty: boolean;
  /** The client has left: a connection opened for it meanwhile must be closed at once. */
  left: boolean;
}

/** Commands that run at once inside `MULTI` instead of being queued, as in Redis. */
const RUN_IMMEDIATELY = new Set(["multi", "exec", "discard", "watch"]);

const QUEUED = "QUEUED";

/** A command name safe to show in `CLIENT LIST` (clients may send anything as a name). */
const PLAIN_NAME = /^[a-z][a-z0-9_|-]{0,31}$/;

/**
 * A caching proxy in front of one upstream server. Plug {@link execute} into lab 2's `runServer`
 * and the proxy has lab 2's connection limits, idle timeout, pipelining and clean shutdown.
 *
 * @example
 * ```ts
 * const proxy = new CachingProxy({
 *   upstream: { host: "127.0.0.1", port: 6379 },
 *   timeoutMs: 5000,
 *   cache: { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, maxAgeMs: 10_000 },
 *   commands: lab2CommandTable(),
 * });
 * await runServer(server, listener, { ...limits, hooks: { execute: proxy.execute } });
 * await proxy.close();
 * ```
 */
export class CachingProxy {
  /** The upstream server and its connections. */
  readonly upstream: Upstream;
  /** The cached `GET` answers. */
  readonly cache: LruCache;
  /** Hits, misses, shared flights, invalidations. */
  readonly stats: ProxyStats = { hits: 0, misses: 0, sharedFlights: 0, invalidations: 0 };
  readonly #flights = new SingleFlight<string, Reply>();
  readonly #effects: CommandEffects;
  /** What is forwarded: the default allow-list and the operator's additions. */
  readonly #allowed: ReadonlySet<string>;
  readonly #cacheOptions: CacheOptions;
  /** Clients with their own upstream connection, by address (unique while connected). */
  readonly #pinned = new Map<string, Pinned>();

  /**
   * Creates the proxy; the upstream connection is opened on the first request, or by
   * {@link connect}.
   *
   * @param options The upstream, the timeouts, the cache's bounds, the command table.
   */
  constructor(options: CachingProxyOptions) {
    this.#cacheOptions = options.cache;
    this.#allowed = new Set([...FORWARDED, ...(options.allowCommands ?? [])]);
    this.cache = new LruCache(options.cache);
    this.upstream = new Upstream({
      ...options.upstream,
      auth: options.upstreamAuth,
      timeoutMs: options.timeoutMs,
      log: options.log,
      // A new connection may reach a restarted upstream that lost every key, or one that missed
      // writes while the proxy could not reach it. Nothing cached before can be trusted after.
      onLost: () => {
        this.cache.clear();
        this.#flights.forgetAll();
      },
    });
    this.#effects = new CommandEffects(options.commands, (args) => this.upstream.call(args));
  }

  /**
   * Opens the shared upstream connection now rather than on the first request, so `INFO proxy`
   * and the log show at once whether the upstream is there. Failure is logged, not thrown.
   */
  connect(): Promise<void> {
    return this.upstream.connect();
  }

  /**
   * Runs one command for a client: the `execute` hook of lab 2's `runServer`.
   *
   * @param session The client and the proxy's server state.
   * @param args The command and its arguments, as byte strings.
   * @returns The reply, or a promise of it.
   */
  readonly execute = (session: Session, args: string[]): Reply | Promise<Reply> => {
    const name = args[0].toLowerCase();
    if (LOCAL_COMMANDS.has(name)) return execute(session, args);
    // What lab 2's execute() does for the commands it runs: count it, note it for CLIENT LIST.
    const { server, client } = session;
    server.stats.commandsProcessed++;
    client.lastInteraction = Date.now();
    if (PLAIN_NAME.test(name)) client.lastCommand = name;

    const refusal = refusalOf(name, args, this.#allowed);
    const pinned = this.#pinned.get(client.addr);
    if (refusal !== undefined) {
      if (pinned?.inMulti) pinned.dirty = true;
      return refusal;
    }
    if (name === "multi" || name === "watch" || (pinned && (pinned.inMulti || pinned.watching))) {
      return this.#transaction(session, args, name);
    }
    if (name === "get" && args.length === 2) return this.#get(args[1]);
    return this.#forward(args);
  };

  /**
   * Releases what the proxy holds for a client that has left: its own upstream connection, if it
   * had one.
   *
   * @param addr The client's address, `host:port`.
   */
  clientLeft(addr: string): void {
    const pinned = this.#pinned.get(addr);
    if (pinned === undefined) return;
    pinned.left = true;
    this.#pinned.delete(addr);
    pinned.link?.close().catch(() => {});
  }

  /**
   * The fields of `INFO proxy`.
   *
   * @returns Name and value pairs, in the order printed.
   */
  info(): InfoFields {
    // Count only entries still young enough to be served.
    this.cache.purgeExpired();
    let dedicated = 0;
    for (const pinned of this.#pinned.values()) if (pinned.link && !pinned.link.closed) dedicated++;
    return [
      ["upstream", this.upstream.address],
      ["upstream_connected", this.upstream.connected ? 1 : 0],
      ["upstream_calls", this.upstream.calls],
      ["upstream_errors", this.upstream.errors],
      ["upstream_dedicated_connections", dedicated],
      ["cache_hits", this.stats.hits],
      ["cache_misses", this.stats.misses],
      ["singleflight_shared", this.stats.sharedFlights],
      ["cached_keys", this.cache.size],
      ["cached_bytes", this.cache.bytes],
      ["max_entries", this.#cacheOptions.maxEntries],
      ["max_bytes", this.#cacheOptions.maxBytes],
      ["max_age_ms", this.#cacheOptions.maxAgeMs],
      ["evictions", this.cache.stats.evictions],
      ["expirations", this.cache.stats.expirations],
      ["invalidations", this.stats.invalidations],
    ];
  }

  /** Closes every upstream connection. */
  async close(): Promise<void> {
    await this.upstream.close();
  }

  /** `GET key`: from the cache, or from one upstream request shared by every concurrent miss. */
  #get(key: string): Reply | Promise<Reply> {
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.stats.hits++;
      return hit.value;
    }
    this.stats.misses++;
    const { flight, joined } = this.#flights.join(key, (started) => this.#fetch(key, started));
    if (joined) this.stats.sharedFlights++;
    return flight.promise;
  }

  /** The one upstream `GET` of a flight; caches the answer unless a write overtook it. */
  async #fetch(key: string, flight: Flight<Reply>): Promise<Reply> {
    let reply: Reply;
    try {
      reply = await this.upstream.call(["GET", key]);
    } catch (error) {
      return toReply(error);
    }
    // Only a value or nil is an answer worth keeping; an error (WRONGTYPE) is passed on uncached.
    if (!flight.forgotten && (typeof reply === "string" || reply === null)) {
      this.cache.set(key, reply);
    }
    return reply;
  }

  /** Any other command: forward it over the shared connection, invalidating what it writes. */
  async #forward(args: readonly string[]): Promise<Reply> {
    const known = this.#effects.of(args);
    const effect = known instanceof Promise ? await known : known;
    this.#invalidate(effect);
    let reply: Reply;
    try {
      reply = await this.upstream.call(args);
    } catch (error) {
      // A write whose reply was lost may or may not have happened: invalidate either way.
      reply = toReply(error);
    }
    this.#invalidate(effect);
    return reply;
  }

  /** A command of a client in a transaction, or starting one: over its own upstream connection. */
  async #transaction(session: Session, args: readonly string[], name: string): Promise<Reply> {
    const { addr } = session.client;
    let pinned = this.#pinned.get(addr);
    if (pinned === undefined) {
      pinned = {
        link: null,
        inMulti: false,
        watching: false,
        queued: [],
        dirty: false,
        left: false,
      };
      this.#pinned.set(addr, pinned);
    }
    const active = pinned.inMulti || pinned.watching;
    if (pinned.link === null || pinned.link.closed) {
      if (active) {
        const why = new UpstreamError(this.upstream.address, pinned.link?.reason ?? "closed");
        return this.#transactionLost(session, pinned, why.reply);
      }
      try {
        pinned.link = await this.upstream.dedicated();
      } catch (error) {
        return toReply(error);
      }
      if (pinned.left) {
        await pinned.link.close();
        return new ErrorReply("ERR client left");
      }
    }

    if (name === "exec" && pinned.inMulti && pinned.dirty) return await this.#abort(pinned);
    const queuing = pinned.inMulti && !RUN_IMMEDIATELY.has(name);
    let effect: Effect = NO_EFFECT;
    if (name === "exec") {
      if (pinned.inMulti) effect = combineEffects(pinned.queued);
    } else {
      const known = this.#effects.of(args);
      effect = known instanceof Promise ? await known : known;
    }
    // A queued write happens at EXEC, not now; EXEC invalidates for the whole queue.
    if (!queuing) this.#invalidate(effect);
    let reply: Reply;
    try {
      reply = await this.upstream.callOn(pinned.link, args);
    } catch (error) {
      if (!queuing) this.#invalidate(effect);
      if (!active && name !== "exec") {
        pinned.link = null;
        return toReply(error);
      }
      return this.#transactionLost(session, pinned, toReply(error));
    }
    if (!queuing) this.#invalidate(effect);

    if (queuing) {
      if (reply instanceof SimpleString && reply.value === QUEUED) pinned.queued.push(effect);
    } else if (name === "multi") {
      if (!(reply instanceof ErrorReply)) pinned.inMulti = true;
    } else if (name === "exec" || name === "discard") {
      // Inside MULTI, EXEC and DISCARD end the transaction and forget every watch, whatever the
      // reply; outside it they are errors that change nothing, unless EXEC aborted (Redis 7).
      if (pinned.inMulti || (reply instanceof ErrorReply && reply.code === "EXECABORT")) {
        pinned.inMulti = false;
        pinned.watching = false;
        pinned.queued = [];
        pinned.dirty = false;
      }
    } else if (name === "watch") {
      if (!(reply instanceof ErrorReply)) pinned.watching = true;
    } else if (name === "unwatch") {
      pinned.watching = false;
    }
    return reply;
  }

  /**
   * `EXEC` of a transaction in which the proxy refused a command: `DISCARD` it upstream (which
   * forgets the watches too, as `EXEC` would) and answer as Redis answers such an `EXEC`.
   */
  async #abort(pinned: Pinned): Promise<Reply> {
    pinned.inMulti = false;
    pinned.watching = false;
    pinned.queued = [];
    pinned.dirty = false;
    if (pinned.link !== null) {
      try {
        await this.upstream.callOn(pinned.link, ["DISCARD"]);
      } catch {
        pinned.link = null;
      }
    }
    return new ErrorReply("EXECABORT Transaction discarded because of previous errors.");
  }

  /**
   * The client's own upstream connection died mid-transaction, and its queue and watches with it.
   * Its later commands must not run unqueued as if nothing happened: answer an error and close.
   */
  #transactionLost(session: Session, pinned: Pinned, why: ErrorReply): ErrorReply {
    pinned.inMulti = false;
    pinned.watching = false;
    pinned.queued = [];
    pinned.dirty = false;
    pinned.link = null;
    session.client.closeAfterReply = true;
    return new ErrorReply(`${why.message}; closing the connection: its transaction is lost`);
  }

  /** Drops the cached answers, and the flights in the air, that a write may have changed. */
  #invalidate(effect: Effect): void {
    // exercise proxy step 4: "none" changes nothing; "all" empties the cache and forgets every flight; otherwise drop each key from the cache and forget its flight; count what was dropped as invalidations
    if (effect.kind === "none") return;
    if (effect.kind === "all") {
      this.stats.invalidations += this.cache.size;
      this.cache.clear();
      this.#flights.forgetAll();
      return;
    }
    for (const key of effect.keys) {
      if (this.cache.delete(key)) this.stats.invalidations++;
      this.#flights.forget(key);
    }
    // exercise starter: // Not written yet: nothing is ever invalidated.
  }
}

/** The reply a client gets for a failed upstream request. */
function toReply(error: unknown): ErrorReply {
  if (error instanceof UpstreamError) return error.reply;
  return new ErrorReply(`ERR proxy error: ${error instanceof Error ? error.message : error}`);
}
