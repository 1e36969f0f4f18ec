/**
 * `--secure`: lab 4 served through lab 3's encrypted channel. The channel is lab 3's concern and
 * tested there; this checks that lab 4 wires it in front of its own commands, and only it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startLabServer } from "../../shared/testing/processes.ts";
import { RawClient } from "../../shared/testing/raw_client.ts";
import { command } from "../01-single-client/suite.ts";
import { prepareIdentity, secureRawConnect } from "../03-secure/test_support.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, scratchDir } from "./test_support.ts";

Deno.test("--secure: TTL commands run inside lab 3's channel; plaintext gets no service", async () => {
  const dir = scratchDir();
  const fingerprint = await prepareIdentity(dir);
  await using server = await startLabServer(LAB4_ENTRY, {
    args: ["--dir", dir, "--save", "", "--secure"],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
  await using c = await secureRawConnect(fingerprint)(server.addr);
  await c.send(command("SET", "session", "abc", "EX", "100") + command("TTL", "session"));
  await c.expect("+OK\r\n:100\r\n");

  await using plain = await RawClient.connect(server.addr);
  await plain.send(command("GET", "session"));
  const received = new TextDecoder().decode(await plain.expectClosed());
  assert.ok(!received.includes("abc"), `a plaintext client reads no value: ${received}`);
});
