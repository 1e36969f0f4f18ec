/**
 * Lab 3's checks of the client (lesson step 3): the client under test is run, as a user runs it,
 * against servers the checker plays itself: the genuine one, one with another key, and an impostor
 * that shows the genuine key but cannot sign with it.
 *
 * The verdict comes from the checker's side of the handshake, not from what the client prints: a
 * client that trusts a server sends its Finished message, which completes the checker's
 * handshake; a client that refuses sends an alert or closes first, so the checker's handshake
 * fails and no command could have been sent. What the client printed and its exit status are
 * shown in every failure, and the known-hosts file is read back after each run.
 *
 * @module
 */

import { join } from "node:path";
import { REPO_ROOT } from "../../shared/testing/processes.ts";
import { type ProgramResult, runProgram } from "../../shared/testing/programs.ts";
import type { StepContext, SuiteStep } from "../../shared/testing/suite.ts";
import { acceptSecure, generateIdentity, type Identity } from "./channel/mod.ts";
import { parseKnownHosts } from "./channel/known_hosts.ts";

/** How long the checker's handshake waits for the client's next message. */
const HANDSHAKE_MS = 5_000;
/** How long after the client exits its connection may still be on its way. */
const ARRIVAL_MS = 2_000;

/** One run of the client against one of the checker's servers. */
interface Meeting {
  /** Whether the client completed the handshake: it trusted the server. */
  trusted: boolean;
  /** Why the checker's handshake failed, when it did. */
  why: string;
  /** What the client did. */
  run: ProgramResult;
}

/** What a failure shows of a client run: how it ended and the end of what it printed. */
function describe(meeting: Meeting): string {
  const why = meeting.why ? `; the checker's side of the handshake ended with: ${meeting.why}` : "";
  const lines = [`The client exited with status ${meeting.run.code}${why}.`];
  const printed = meeting.run.stderr.trim();
  if (printed !== "") {
    lines.push("It printed on stderr:", ...printed.split("\n").slice(-8).map((l) => `  | ${l}`));
  }
  return lines.join("\n");
}

/**
 * The checker's server: one port, on which each {@link meet} answers one connection of the
 * client under test with the identity it is given, honest or not.
 */
class CheckerServer implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #ctx: StepContext;
  #pending: Promise<unknown> = Promise.resolve();

  constructor(ctx: StepContext) {
    this.#ctx = ctx;
  }

  /** The port the client is pointed at. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /**
   * Runs the client (`-h 127.0.0.1 -p PORT FLAGS PING`) and answers its connection as `identity`.
   *
   * @param identity What the server shows and signs with.
   * @param flags The client's options: `--known-hosts PATH` or `--server-fingerprint FP`.
   * @returns Whether the client trusted the server, and what it did.
   * @throws {Error} If the client never connected.
   */
  async meet(identity: Identity, flags: string[]): Promise<Meeting> {
    const verdict = this.#answer(identity);
    this.#pending = verdict;
    const client = this.#ctx.program();
    const run = await runProgram(Deno.execPath(), [
      "run",
      ...client.denoFlags,
      `${REPO_ROOT}${client.entry}`,
      "-h",
      "127.0.0.1",
      "-p",
      String(this.port),
      ...flags,
      "PING",
    ]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ARRIVAL_MS);
    });
    const outcome = await Promise.race([verdict, late]).finally(() => clearTimeout(timer));
    if (outcome === undefined) {
      throw new Error(
        `The client (${client.entry}) never connected to 127.0.0.1:${this.port}. ` +
          describe({ trusted: false, why: "", run }),
      );
    }
    return { ...outcome, run };
  }

  /** Accepts one connection and runs the handshake; a trusting client then gets its PONG. */
  async #answer(identity: Identity): Promise<{ trusted: boolean; why: string }> {
    const conn = await this.#listener.accept();
    let channel;
    try {
      channel = await acceptSecure(conn, { identity, handshakeTimeoutMs: HANDSHAKE_MS });
    } catch (error) {
      return { trusted: false, why: error instanceof Error ? error.message : String(error) };
    }
    try {
      // Whatever it sends (a PING, if its records work yet), the answer is the same.
      if (await channel.read(new Uint8Array(4096)) !== null) {
        await channel.write(new TextEncoder().encode("+PONG\r\n"));
      }
    } catch {
      // The client left, or its records are not written yet (step 4): it trusted us all the same.
    } finally {
      try {
        channel.close();
      } catch {
        // closed by the client already
      }
    }
    return { trusted: true, why: "" };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#pending.catch(() => {});
  }
}

/** The identity key `real` shows, with signatures made by another key: a man in the middle. */
function impostorOf(real: Identity): Identity {
  const forger = generateIdentity();
  return {
    publicKey: real.publicKey,
    fingerprint: real.fingerprint,
    sign: (message) => forger.sign(message),
  };
}

/** The fingerprints a known-hosts file records for the checker's port. */
async function recorded(path: string, port: number): Promise<(string | undefined)[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return parseKnownHosts(text).entries
    .filter((entry) => entry.host === `[127.0.0.1]:${port}`)
    .map((entry) => entry.fingerprint);
}

const VERIFY_HINT = "clientHandshake() in channel/handshake.ts must call options.verifyServerKey " +
  "with the server's identity key and fingerprint before it sends its Finished, and send an " +
  "alert and rethrow when that throws.";

/** Lab 3's checks of the client, in lesson order. */
export const clientSteps: readonly SuiteStep[] = [
  {
    name: "client: --server-fingerprint admits the pinned key and refuses any other before " +
      "sending anything",
    redis: false,
    needsLabProgram: true,
    async run(ctx) {
      await using server = new CheckerServer(ctx);
      const genuine = generateIdentity();
      const pinned = await server.meet(genuine, ["--server-fingerprint", genuine.fingerprint]);
      if (!pinned.trusted) {
        throw new Error(
          `The client refused a server whose identity key is the one pinned with ` +
            `--server-fingerprint ${genuine.fingerprint}.\n${describe(pinned)}\n` +
            `checkPinned() in channel/known_hosts.ts must accept that fingerprint; if ` +
            `the client says the signature does not verify, the signature check in ` +
            `clientHandshake() checks the wrong bytes (the context text, then SHA-256 of the ` +
            `ClientHello as sent, magic included, and the ServerHello's first 105 bytes).`,
        );
      }
      const other = generateIdentity().fingerprint;
      const refused = await server.meet(genuine, ["--server-fingerprint", other]);
      if (refused.trusted) {
        throw new Error(
          `Pinned to ${other}, the client completed the handshake with a server whose key is ` +
            `${genuine.fingerprint}: it would send its commands to anyone.\n` +
            `${describe(refused)}\ncheckPinned() must throw a ServerKeyRejectedError ` +
            `for any other fingerprint, and ${VERIFY_HINT}`,
        );
      }
      if (refused.run.code === 0) {
        throw new Error(
          `The client refused the key, but exited with status 0: a script cannot tell.\n` +
            describe(refused),
        );
      }
    },
  },
  {
    name: "client: a ServerHello whose signature does not verify is refused, even with the " +
      "pinned key",
    redis: false,
    needsLabProgram: true,
    async run(ctx) {
      await using server = new CheckerServer(ctx);
      const genuine = generateIdentity();
      const forged = await server.meet(impostorOf(genuine), [
        "--server-fingerprint",
        genuine.fingerprint,
      ]);
      if (forged.trusted) {
        throw new Error(
          `The client trusted a server that shows the pinned identity key but signed its ` +
            `ServerHello with another key: a man in the middle who copied the real server's ` +
            `public key.\n${describe(forged)}\nIn clientHandshake() (channel/handshake.ts), ` +
            `verify the Ed25519 signature with the key the ServerHello shows, over ` +
            `"Cache Lab v1 ServerHello signature" and a zero byte, then SHA-256(ClientHello | ` +
            `the ServerHello's first 105 bytes), and throw if it does not verify, before ` +
            `trusting anything the ServerHello says.`,
        );
      }
    },
  },
  {
    name: "client: first use records the server's key in known_hosts; a changed key is " +
      "refused, exit 1, before anything is sent",
    redis: false,
    needsLabProgram: true,
    async run(ctx) {
      const dir = ctx.program().dir;
      if (dir === undefined) throw new Error("The runner gave the client no directory to write");
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      const knownHosts = join(dir, `known_hosts-${crypto.randomUUID()}`);
      await using server = new CheckerServer(ctx);
      const genuine = generateIdentity();
      const flags = ["--known-hosts", knownHosts];

      const first = await server.meet(genuine, flags);
      const afterFirst = await recorded(knownHosts, server.port);
      if (!first.trusted || afterFirst.length !== 1 || afterFirst[0] !== genuine.fingerprint) {
        throw new Error(
          `Meeting 127.0.0.1:${server.port} for the first time, the client must trust its key ` +
            `and record it in the known-hosts file (${knownHosts}) as ` +
            `"[127.0.0.1]:${server.port} ssh-ed25519 ...". It ` +
            `${first.trusted ? "trusted it" : "refused it"}, and the file records ` +
            `${afterFirst.length === 0 ? "nothing" : afterFirst.join(", ")} for that port.\n` +
            `${describe(first)}\nKnownHosts.verify() in channel/known_hosts.ts: a server with ` +
            `no key recorded is added (this.#append()) and "added" returned.`,
        );
      }
      if (!first.run.stderr.includes("Permanently added")) {
        throw new Error(
          `The client recorded a new server's key without saying so: SSH's "Warning: ` +
            `Permanently added ..." tells the user a key was taken on trust.\n${describe(first)}`,
        );
      }

      const again = await server.meet(genuine, flags);
      if (!again.trusted || (await recorded(knownHosts, server.port)).length !== 1) {
        throw new Error(
          `The second time, the recorded key must be trusted and nothing added.\n` +
            `${describe(again)}\nKnownHosts.verify() returns "known" when a recorded key has ` +
            `the server's fingerprint.`,
        );
      }

      const changed = await server.meet(generateIdentity(), flags);
      if (changed.trusted) {
        throw new Error(
          `The client completed the handshake with a server on 127.0.0.1:${server.port} whose ` +
            `key is not the one recorded for it: the man in the middle trust on first use ` +
            `exists to stop.\n${describe(changed)}\nKnownHosts.verify() must throw a ` +
            `HostKeyChangedError when an Ed25519 key is recorded for the host and it is not ` +
            `this one, and ${VERIFY_HINT}`,
        );
      }
      if (
        changed.run.code !== 1 || !/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(changed.run.stderr)
      ) {
        throw new Error(
          `A changed key is refused loudly: SSH's "WARNING: REMOTE HOST IDENTIFICATION HAS ` +
            `CHANGED!" (HostKeyChangedError's message) and exit status 1.\n${describe(changed)}`,
        );
      }
      const afterChange = await recorded(knownHosts, server.port);
      if (afterChange.length !== 1 || afterChange[0] !== genuine.fingerprint) {
        throw new Error(
          `A refused key must leave the known-hosts file as it was; it now records ` +
            `${afterChange.join(", ")} for 127.0.0.1:${server.port}.`,
        );
      }
    },
  },
];
