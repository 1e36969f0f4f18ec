/**
 * Lab 3's small parts on their own: the password check, hiding a secret in trace output, and the
 * TLS certificate fingerprint.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ClientState } from "../../shared/server/session.ts";
import { hexDump } from "./channel/hex_dump.ts";
import { PasswordGate } from "./auth.ts";
import { certificateFingerprint } from "./tls.ts";
import { redactBytes, Tracer } from "./trace.ts";

const text = (s: string) => new TextEncoder().encode(s);
const show = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("PasswordGate.matches() accepts the password only, whatever the length of a guess", () => {
  const gate = new PasswordGate("hunter2");
  assert.equal(gate.required, true);
  assert.equal(gate.matches("hunter2"), true);
  for (const guess of ["", "h", "hunter", "hunter22", "Hunter2", "hunter2\0", "x".repeat(10_000)]) {
    assert.equal(gate.matches(guess), false, JSON.stringify(guess.slice(0, 20)));
  }
});

Deno.test("PasswordGate without a password lets every client in", () => {
  const gate = new PasswordGate(undefined);
  assert.equal(gate.required, false);
  assert.equal(gate.configured, "");
  assert.equal(gate.isAuthenticated(new ClientState(1, "a", "b", 0)), true);
});

Deno.test("redactBytes() hides every whole occurrence and a cut-off start or end", () => {
  const secret = text("hunter2");
  assert.equal(
    show(redactBytes(text("AUTH hunter2 and hunter2"), secret)),
    "AUTH ******* and *******",
  );
  // Cut off by the end of a dump, or continued from the previous record.
  assert.equal(show(redactBytes(text("...$7\r\nhunt"), secret)), "...$7\r\n****");
  assert.equal(show(redactBytes(text("ter2\r\n*1"), secret)), "****\r\n*1");
  // Two bytes at an edge are not enough to say it is the secret.
  assert.equal(show(redactBytes(text("hu"), secret)), "hu");
  const untouched = text("nothing here");
  assert.equal(redactBytes(untouched, secret), untouched, "no copy when nothing is hidden");
});

Deno.test("Tracer.sink() hides a secret split across two lines of a hex dump", async () => {
  const lines: string[] = [];
  const tracer = new Tracer({
    enabled: true,
    secret: "hunter2",
    write: (line) => lines.push(line),
  });
  const sink = tracer.sink("127.0.0.1:5000");
  const plaintext = text("*2\r\n$4\r\nAUTH\r\n$7\r\nhunter2\r\n");
  sink("send record 0: 27 bytes of plaintext");
  for (const line of hexDump(plaintext)) sink(line);
  await Promise.resolve(); // the dump is printed once the current task is done
  const output = lines.join("\n");
  assert.ok(!output.includes("hunter2") && !output.includes("unter2"), output);
  assert.ok(!output.includes("68 75 6e 74"), output);
  assert.match(output, /^\[127\.0\.0\.1:5000\] send record 0/);
  assert.match(output, /0d 0a 2a 2a 2a 2a 2a 2a\s+2a 0d 0a/);
  assert.equal(lines.length, 3);
});

Deno.test("certificateFingerprint() is the SHA-256 of the DER, as openssl prints it", () => {
  // A certificate is base64 of DER between the markers; any DER bytes will do for the digest.
  const pem = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
  // SHA-256 of the three bytes 00 01 02.
  assert.equal(
    certificateFingerprint(pem),
    "sha256 Fingerprint=AE:4B:32:80:E5:6E:2F:AF:83:F4:14:A6:E3:DA:BE:9D:5F:BE:18:97:65:44:C0:5F:ED:12:1A:CC:B8:5B:53:FC",
  );
  assert.throws(() => certificateFingerprint("no certificate"), SyntaxError);
});
