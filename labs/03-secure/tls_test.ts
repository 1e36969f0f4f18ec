/**
 * TLS mode (`--tls-cert`, `--tls-key`): the production answer, checked with the tools production
 * uses. Certificates are made with `openssl` for each run, the way the lesson shows: a throwaway
 * CA, and a server certificate it signed for 127.0.0.1 and localhost.
 *
 * @module
 */

import assert from "node:assert/strict";
import { hasProgram, type RunningServer, startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { StepContext } from "../../shared/testing/suite.ts";
import { command } from "../01-single-client/suite.ts";
import { authSteps, SUITE_PASSWORD } from "./auth_suite.ts";
import { Wiretap } from "./wiretap.ts";
import {
  containsBytes,
  ENTRY,
  makeCertificates,
  redisCliHasTls,
  run,
  runClient,
  SERVER_FLAGS,
  type TestCertificates,
  tlsRawConnect,
  waitForLog,
} from "./test_support.ts";

const hasOpenssl = hasProgram("openssl");
const cliTls = await redisCliHasTls();

/** Starts lab 3 in TLS mode with fresh certificates; both go away at the end of the block. */
async function startTlsServer(args: string[] = []): Promise<
  { server: RunningServer; certs: TestCertificates; ca: string } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "cachelab-tls-" });
  try {
    const certs = await makeCertificates(dir);
    const server = await startLabServer(ENTRY, {
      args: ["--dir", dir, "--tls-cert", certs.certFile, "--tls-key", certs.keyFile, ...args],
      denoFlags: SERVER_FLAGS,
    });
    return {
      server,
      certs,
      ca: await Deno.readTextFile(certs.caFile),
      [Symbol.asyncDispose]: async () => {
        await server.stop();
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

function tlsTest(name: string, fn: () => Promise<void>, needs: { redisCli?: boolean } = {}) {
  const missing = !hasOpenssl
    ? "openssl is not installed"
    : needs.redisCli && !cliTls
    ? "redis-cli is missing or built without TLS"
    : undefined;
  Deno.test({
    name: missing === undefined ? name : `${name} (skipped: ${missing})`,
    ignore: missing !== undefined,
    fn,
  });
}

tlsTest("TLS: the AUTH suite passes over TLS as well", async () => {
  await using tls = await startTlsServer(["--requirepass", SUITE_PASSWORD]);
  const connect = tlsRawConnect(tls.ca);
  for (const step of authSteps) {
    const ctx = new StepContext(tls.server.addr, connect);
    try {
      await step.run(ctx);
    } catch (error) {
      throw new Error(`Step "${step.name}" failed over TLS`, { cause: error });
    } finally {
      await ctx.dispose();
    }
  }
});

tlsTest("TLS: redis-cli --tls --cacert talks to lab 3", async () => {
  await using tls = await startTlsServer(["--requirepass", SUITE_PASSWORD]);
  const base = ["-h", tls.server.host, "-p", String(tls.server.port), "--tls", "--cacert"];
  const auth = ["-a", SUITE_PASSWORD, "--no-auth-warning"];
  const set = await run("redis-cli", [...base, tls.certs.caFile, ...auth, "SET", "greeting", "hi"]);
  assert.equal(set.stdout, "OK\n", set.stderr);
  const get = await run("redis-cli", [...base, tls.certs.caFile, ...auth, "GET", "greeting"]);
  assert.equal(get.stdout, "hi\n", get.stderr);
  const noauth = await run("redis-cli", [...base, tls.certs.caFile, "GET", "greeting"]);
  assert.match(noauth.stdout, /NOAUTH Authentication required/);
  // Checked against the name in the certificate, too.
  const named = await run("redis-cli", [
    "-h",
    "localhost",
    "-p",
    String(tls.server.port),
    "--tls",
    "--cacert",
    tls.certs.caFile,
    ...auth,
    "PING",
  ]);
  assert.equal(named.stdout, "PONG\n", named.stderr);
}, { redisCli: true });

tlsTest("TLS: redis-cli without --tls is not served, and the log says why", async () => {
  await using tls = await startTlsServer();
  const plain = await run("redis-cli", [
    "-h",
    tls.server.host,
    "-p",
    String(tls.server.port),
    "SET",
    "k",
    "v",
  ]);
  assert.notEqual(plain.stdout, "OK\n");
  await waitForLog(tls.server, /refused: TLS handshake failed/);
  // Nothing was run: over TLS, the key does not exist.
  await using c = await tlsRawConnect(tls.ca)(tls.server.addr);
  await c.send(command("EXISTS", "k"));
  await c.expect(":0\r\n");
}, { redisCli: true });

tlsTest(
  "TLS: lab 3's client speaks TLS with --tls --cacert, and refuses an unknown CA",
  async () => {
    await using tls = await startTlsServer(["--requirepass", SUITE_PASSWORD]);
    const base = ["-p", String(tls.server.port), "--tls", "--cacert", tls.certs.caFile];
    const set = await runClient([
      ...base,
      "-a",
      SUITE_PASSWORD,
      "--no-auth-warning",
      "SET",
      "k",
      "v",
    ]);
    assert.equal(set.stdout, "OK\n", set.stderr);
    const get = await runClient([...base, "-a", SUITE_PASSWORD, "--no-auth-warning", "GET", "k"]);
    assert.equal(get.stdout, "v\n", get.stderr);
    // Without --cacert only the system's CAs are trusted, and none of them signed this certificate.
    const untrusted = await runClient(["-p", String(tls.server.port), "--tls", "PING"]);
    assert.equal(untrusted.code, 1);
    assert.match(
      untrusted.stderr,
      /Could not connect to Redis at 127\.0\.0\.1:\d+: .*(certificate|issuer)/i,
    );
  },
);

tlsTest("TLS: the wire carries no key, value or password", async () => {
  await using tls = await startTlsServer(["--requirepass", SUITE_PASSWORD]);
  await using tap = await Wiretap.start(tls.server.addr);
  const key = `secret-key-${crypto.randomUUID()}`;
  const value = `secret-value-${crypto.randomUUID()}`;
  {
    await using c = await tlsRawConnect(tls.ca)(tap.addr);
    await c.send(
      command("AUTH", SUITE_PASSWORD) + command("SET", key, value) + command("GET", key),
    );
    await c.expect(`+OK\r\n+OK\r\n$${value.length}\r\n${value}\r\n`);
  }
  const wire = tap.captured();
  assert.ok(wire.length > 0, "the tap saw the traffic");
  for (const secret of [key, value, SUITE_PASSWORD, "AUTH"]) {
    assert.ok(!containsBytes(wire, secret), `"${secret}" is readable on the wire`);
  }
});

tlsTest(
  "TLS: a stalled handshake is given up after --handshake-timeout and frees its slot",
  async () => {
    // Long enough that the second client's own handshake finishes in time on a busy machine.
    await using tls = await startTlsServer(["--handshake-timeout", "1500", "--maxclients", "1"]);
    await using silent = await RawClient.connect(tls.server.addr);
    await waitForLog(
      tls.server,
      /refused: TLS handshake failed: TLS handshake not finished after 1500 ms/,
    );
    // The one client slot is free again. (The silent socket itself is only released by the runtime
    // once its peer leaves: Deno finishes a TLS handshake before it shuts a connection down.)
    await using c = await tlsRawConnect(tls.ca)(tls.server.addr);
    await c.send(command("PING"));
    await c.expect("+PONG\r\n");
    await silent.close();
  },
);
