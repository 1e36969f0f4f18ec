/**
 * Lab 4 is built on lab 3, so it has lab 3's door: `--requirepass`, and Redis's limits until a
 * client has given it. Lab 3's own AUTH suite runs against lab 4 over plain TCP and through
 * `--secure`; then what lab 4 adds to the question: the password never reaches the log on disk.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { startLabServer } from "../../shared/testing/processes.ts";
import { externalAddr, registerSuite } from "../../shared/testing/suite.ts";
import { authSteps, SUITE_PASSWORD } from "../03-secure/auth_suite.ts";
import { prepareIdentity, secureRawConnect } from "../03-secure/test_support.ts";
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
