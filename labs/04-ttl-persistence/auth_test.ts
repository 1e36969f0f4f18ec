/**
 * Lab 4 is built on lab 3, so it has lab 3's door: `--requirepass`, and Redis's limits until a
 * client has given it. Lab 3's own AUTH suite runs against lab 4 over plain TCP and through
 * `--secure`; `redis-cli --tls` talks to it with `--tls-cert`; then what lab 4 adds to the
 * question: the password never reaches the log on disk.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { startLabServer } from "../../shared/testing/processes.ts";
import { externalAddr, registerSuite } from "../../shared/testing/suite.ts";
import { authSteps, SUITE_PASSWORD } from "../03-secure/auth_suite.ts";
import {
  makeCertificates,
  prepareIdentity,
  redisCliHasTls,
  run,
  secureRawConnect,
} from "../03-secure/test_support.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, lab4Args, scratchDir } from "./test_support.ts";

registerSuite("lab 3's AUTH suite against lab 4 --requirepass", LAB4_ENTRY, authSteps, {
  args: lab4Args("--requirepass", SUITE_PASSWORD),
  denoFlags: [...LAB4_DENO_FLAGS],
});

const secureDir = scratchDir();
const fingerprint = externalAddr() === undefined ? await prepareIdentity(secureDir) : undefined;

registerSuite("lab 3's AUTH suite against lab 4 --secure --requirepass", LAB4_ENTRY, authSteps, {
  args: [
    "--dir",
    secureDir,
    "--save",
    "",
    "--appendonly",
    "no",
    "--secure",
    "--requirepass",
    SUITE_PASSWORD,
  ],
  denoFlags: [...LAB4_DENO_FLAGS],
  connect: secureRawConnect(fingerprint),
});

Deno.test({
  name: "lab 4 --requirepass: nothing runs before AUTH, and the log on disk has no password",
  ignore: externalAddr() !== undefined,
  fn: async () => {
    const dir = scratchDir();
    await using server = await startLabServer(LAB4_ENTRY, {
      args: ["--dir", dir, "--save", "", "--appendonly", "yes", "--requirepass", SUITE_PASSWORD],
      denoFlags: [...LAB4_DENO_FLAGS],
    });
    await using client = await RawClient.connect(server.addr);
    await client.send("SET k v\r\n");
    await client.expect("-NOAUTH Authentication required.\r\n");
    await client.send(`AUTH ${SUITE_PASSWORD}\r\nSET k v\r\nGET k\r\n`);
    await client.expect("+OK\r\n+OK\r\n$1\r\nv\r\n");
    const log = await Deno.readTextFile(join(dir, "appendonly.aof"));
    assert.match(log, /SET/);
    assert.ok(!log.includes(SUITE_PASSWORD), "the password is in the log");
  },
});

const cliTls = await redisCliHasTls();

Deno.test({
  name: cliTls
    ? "lab 4 --tls-cert --requirepass: redis-cli --tls sets a key with a TTL and reads it back"
    : "lab 4 --tls-cert (skipped: redis-cli is missing or built without TLS)",
  ignore: !cliTls || externalAddr() !== undefined,
  fn: async () => {
    const dir = scratchDir();
    const certs = await makeCertificates(dir);
    await using server = await startLabServer(LAB4_ENTRY, {
      args: [
        ...lab4Args("--tls-cert", certs.certFile, "--tls-key", certs.keyFile),
        "--requirepass",
        SUITE_PASSWORD,
      ],
      denoFlags: [...LAB4_DENO_FLAGS],
    });
    const cli = (...args: string[]) =>
      run("redis-cli", [
        "-h",
        server.host,
        "-p",
        String(server.port),
        "--tls",
        "--cacert",
        certs.caFile,
        ...args,
      ]);
    const auth = ["-a", SUITE_PASSWORD, "--no-auth-warning"];
    assert.equal((await cli(...auth, "SET", "session", "abc", "EX", "100")).stdout, "OK\n");
    assert.equal((await cli(...auth, "GET", "session")).stdout, "abc\n");
    assert.match((await cli(...auth, "TTL", "session")).stdout, /^(100|99)\n$/);
    assert.match((await cli("GET", "session")).stdout, /NOAUTH Authentication required/);
  },
});
