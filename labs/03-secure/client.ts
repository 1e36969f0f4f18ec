/**
 * Lab 3's client: the same small `redis-cli` as labs 1 and 2, but every connection runs the
 * secure handshake first, and checks who is at the other end.
 *
 * ```
 * deno task lab3:client                         a prompt, over the secure channel
 * deno task lab3:client -a hunter2 GET name     AUTH first, then one command
 * deno task lab3:client --tls --cacert ca.crt   standard TLS instead
 * deno task lab3:client --trace PING            every frame, before and after encryption
 * ```
 *
 * The first time it meets a server it records the server's identity key in a known-hosts file
 * (`~/.cachelab/known_hosts`) and says so; every later connection must present the same key, or
 * the client refuses, loudly, before sending a single command. `--server-fingerprint` pins a key
 * instead, for a user who got it from the server's own start-up line.
 *
 * @module
 */

import { type ClientArgValues, runClientCli } from "../../shared/client/cli.ts";
import { RedisClient } from "../../shared/client/client.ts";
import type { Endpoint } from "../../shared/client/runner.ts";
import { utf8ToByteString } from "../../shared/resp/bytes.ts";
import {
  KnownHosts,
  parseFingerprint,
  pinnedFingerprint,
  ServerKeyRejectedError,
} from "./channel/mod.ts";
import { authenticate, openLab3Transport } from "./connect.ts";
import { Tracer } from "./trace.ts";

const USAGE = "deno task lab3:client";

/**
 * Where known server keys are kept unless `--known-hosts` says otherwise.
 *
 * @returns `~/.cachelab/known_hosts`, or `undefined` when `HOME` is not set.
 */
export function defaultKnownHostsPath(): string | undefined {
  const home = Deno.env.get("HOME");
  return home ? `${home}/.cachelab/known_hosts` : undefined;
}

const OPTIONS = {
  "known-hosts": { type: "string" },
  "server-fingerprint": { type: "string" },
  tls: { type: "boolean" },
  cacert: { type: "string" },
  pass: { type: "string", short: "a" },
  user: { type: "string" },
  "no-auth-warning": { type: "boolean" },
  trace: { type: "boolean" },
} as const;

const OPTIONS_HELP = `  --known-hosts PATH
                    where server keys are remembered (default ~/.cachelab/known_hosts)
  --server-fingerprint SHA256:...
                    trust only the server with this key (its start-up line prints it)
  --tls             speak standard TLS instead of the secure channel
  --cacert FILE     with --tls: the CA certificate (PEM) that signed the server's
  -a, --pass PASSWORD
                    send AUTH PASSWORD after connecting, as redis-cli -a does
                    (or set REDISCLI_AUTH, which keeps it out of your shell history)
  --user USER       with -a: send AUTH USER PASSWORD
  --no-auth-warning do not warn that -a puts the password on the command line
  --trace           print every frame to stderr, before and after encryption
`;

function text(values: ClientArgValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

/** Rejects combinations that make no sense, before anything connects. */
function checkOptions(values: ClientArgValues): void {
  const fingerprint = text(values, "server-fingerprint");
  if (fingerprint !== undefined) parseFingerprint(fingerprint);
  if (values.tls === true && fingerprint !== undefined) {
    throw new TypeError("--server-fingerprint pins the secure channel's key; TLS checks --cacert");
  }
  if (text(values, "cacert") !== undefined && values.tls !== true) {
    throw new TypeError("--cacert is for TLS: add --tls");
  }
  if (text(values, "user") !== undefined && text(values, "pass") === undefined) {
    throw new TypeError("--user needs a password: add -a PASSWORD");
  }
  if (text(values, "pass") !== undefined && values["no-auth-warning"] !== true) {
    // redis-cli's own warning, word for word: the password is visible to `ps` and shell history.
    console.error(
      "Warning: Using a password with '-a' or '-u' option on the command line interface may " +
        "not be safe.",
    );
  }
}

/** `host:port` as known-hosts names it: an IPv6 address in brackets. */
function hostPort({ host, port }: Endpoint): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Opens one connection: TLS or the secure channel with the server's key checked, then `AUTH` if
 * a password was given. A refused password is reported, as `redis-cli` does, and the client
 * carries on: the server answers what follows with `NOAUTH`.
 */
async function connect(endpoint: Endpoint, values: ClientArgValues): Promise<RedisClient> {
  const password = text(values, "pass") ?? Deno.env.get("REDISCLI_AUTH");
  const tracer = new Tracer({
    enabled: values.trace === true,
    secret: password === undefined ? undefined : utf8ToByteString(password),
  });
  const trace = tracer.enabled ? tracer.sink() : undefined;
  let transport;
  if (values.tls === true) {
    const caFile = text(values, "cacert");
    const caCerts = caFile === undefined ? undefined : [await Deno.readTextFile(caFile)];
    transport = await openLab3Transport({ ...endpoint, tls: { caCerts } });
    if (tracer.enabled) transport = tracer.wrapPlaintext(transport);
  } else {
    const fingerprint = text(values, "server-fingerprint");
    let verifyServerKey;
    if (fingerprint !== undefined) {
      verifyServerKey = pinnedFingerprint(fingerprint);
    } else {
      const path = text(values, "known-hosts") ?? defaultKnownHostsPath();
      if (path === undefined) {
        throw new Error("HOME is not set: give --known-hosts PATH or --server-fingerprint");
      }
      const knownHosts = await KnownHosts.open(path);
      verifyServerKey = knownHosts.verifier(hostPort(endpoint), (notice) => console.error(notice));
    }
    transport = await openLab3Transport({ ...endpoint, verifyServerKey, trace });
  }
  const client = RedisClient.over(transport);
  if (password !== undefined) {
    const refused = await authenticate(client, password, text(values, "user"));
    if (refused !== undefined) console.error(`AUTH failed: ${refused.message}`);
  }
  return client;
}

if (import.meta.main) {
  Deno.exit(
    await runClientCli(Deno.args, {
      usage: USAGE,
      description: "Lab 3's client: a redis-cli over the secure channel (or TLS). It checks the " +
        "server's\nidentity key against what it saw before, and refuses a key that changed.",
      options: OPTIONS,
      optionsHelp: OPTIONS_HELP,
      checkOptions,
      connect,
      // A changed or unpinned key: trying again cannot help, and must not send anything.
      isFatal: (error) => error instanceof ServerKeyRejectedError,
    }),
  );
}
