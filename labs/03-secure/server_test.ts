/**
 * Lab 2's whole suite, run again against lab 3's server THROUGH the secure channel: every step
 * connects, runs the handshake, and then sends its exact bytes inside encrypted records. If the
 * channel changed a single byte, dropped one, or held one back, a step would fail. Then the same
 * again with Fernet records (`--cipher fernet`).
 *
 * Against another server: `deno task test:lab3 -- --addr HOST:PORT` (any identity key is then
 * accepted, since the test cannot know it).
 *
 * @module
 */

import { externalAddr, registerSuite } from "../../shared/testing/suite.ts";
import { lab2Steps } from "../02-threaded/suite.ts";
import { noPasswordAuthSteps } from "./auth_suite.ts";
import { ENTRY, prepareIdentity, secureRawConnect, SERVER_FLAGS } from "./test_support.ts";

const dir = await Deno.makeTempDir({ prefix: "cachelab-lab3-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const fingerprint = externalAddr() === undefined ? await prepareIdentity(dir) : undefined;

registerSuite("lab 3 suite through the secure channel", ENTRY, [
  ...lab2Steps,
  ...noPasswordAuthSteps,
], { args: ["--dir", dir], denoFlags: SERVER_FLAGS, connect: secureRawConnect(fingerprint) });

registerSuite("lab 3 suite through the secure channel with Fernet records", ENTRY, lab2Steps, {
  args: ["--dir", dir, "--cipher", "fernet"],
  denoFlags: SERVER_FLAGS,
  connect: secureRawConnect(fingerprint),
});
