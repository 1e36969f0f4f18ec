/**
 * Lab 3's small parts on their own: the password check, hiding a secret in trace output, and the
 * TLS certificate fingerprint.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RequestDecoder } from "../02-threaded/request_decoder.ts";
import { CommandTable } from "../../shared/server/command_table.ts";
import { ServerState } from "../../shared/server/server_state.ts";
import { ClientState, type Session } from "../../shared/server/session.ts";
import { hexDump } from "./channel/hex_dump.ts";
import { AUTH_LOG_WINDOW_MS, MAX_AUTH_FAILURES, PasswordGate } from "./auth.ts";
import { certificateFingerprint } from "./tls.ts";
import { redactBytes, SecretScanner, Tracer } from "./trace.ts";

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

Deno.test("PasswordGate logs the first failed AUTH in a window and counts the rest", () => {
  let now = 1_000_000;
  const lines: string[] = [];
  const gate = new PasswordGate("hunter2", { now: () => now });
  const server = new ServerState({ commands: new CommandTable(), log: (l) => lines.push(l) });
  const session = (id: number): Session => ({
    db: server.db,
    server,
    client: new ClientState(id, `10.0.0.${id}:1`, "b", 0),
  });
  const first = session(1);
  for (let i = 0; i < MAX_AUTH_FAILURES; i++) gate.login(first, "default", "guess");
  assert.equal(first.client.closeAfterReply, true, "closed after the last allowed failure");
  gate.login(session(2), "default", "guess");
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^Client id=1 addr=10\.0\.0\.1:1 failed AUTH: wrong user name or password$/,
  );
  now += AUTH_LOG_WINDOW_MS;
  gate.login(session(3), "admin", "guess");
  assert.equal(lines.length, 2);
  assert.equal(
    lines[1],
    "Client id=3 addr=10.0.0.3:1 failed AUTH: wrong user name or password (and 5 more failed " +
      "AUTH since the last such line, 1 connections closed for it)",
  );
  assert.ok(!lines.join("\n").includes("guess"), "what was sent stays out of the log");
});

Deno.test("PasswordGate.admit() holds a client to Redis's pre-AUTH limits until login", () => {
  const gate = new PasswordGate("hunter2");
  const server = new ServerState({ commands: new CommandTable(), log: () => {} });
  const requests = new RequestDecoder();
  const session: Session = {
    db: server.db,
    server,
    client: new ClientState(1, "a", "b", 0),
    requestLimits: requests,
  };
  gate.admit(session);
  assert.equal(requests.unauthenticated, true);
  assert.equal(gate.login(session, "default", "hunter2"), undefined);
  assert.equal(requests.unauthenticated, false);
  // Without a password there is nothing to hold anyone to.
  const open = new RequestDecoder();
  new PasswordGate(undefined).admit({ ...session, requestLimits: open });
  assert.equal(open.unauthenticated, false);
});

Deno.test("SecretScanner hides a secret split across pieces of a stream, even one byte each", () => {
  const scanner = new SecretScanner(text("hunter2"));
  const pieces = ["*2\r\n$4\r\nAUTH\r\n$7\r\n", ..."hunter2", "\r\n"];
  assert.equal(
    pieces.map((p) => show(scanner.hide(text(p)))).join(""),
    show(text(
      "*2\r\n$4\r\nAUTH\r\n$7\r\n*******\r\n",
    )),
  );
  // A start that is not followed by the rest: hidden while it might be, shown after.
  const fresh = new SecretScanner(text("hunter2"));
  assert.equal(show(fresh.hide(text("a hun"))), "a ***");
  assert.equal(show(fresh.hide(text("dred"))), "dred");
  // A miss that is itself a new start: "hhunter2" holds the secret from its second byte.
  assert.equal(show(new SecretScanner(text("hunter2")).hide(text("hhunter2!"))), "h*******!");
});

Deno.test("Tracer.sink() hides a password sent one byte per record", async () => {
  const lines: string[] = [];
  const tracer = new Tracer({ enabled: true, secret: "hunter2", write: (l) => lines.push(l) });
  const sink = tracer.sink("127.0.0.1:5000");
  let sequence = 0;
  for (const piece of ["*2\r\n$4\r\nAUTH\r\n$7\r\n", ..."hunter2", "\r\n"]) {
    const bytes = text(piece);
    const n = sequence++;
    sink(`recv record, ${bytes.length + 24} bytes on the wire (8 header + ciphertext + 16 tag)`);
    // The ciphertext's dump: random-looking bytes, which must not be mistaken for the stream.
    for (const line of hexDump(Uint8Array.from(bytes, (b) => b ^ 0x5a))) sink(line);
    sink(`recv record ${n} decrypted: ${bytes.length} bytes of plaintext`);
    for (const line of hexDump(bytes)) sink(line);
    await Promise.resolve();
  }
  await Promise.resolve();
  // The ASCII column of every dump that follows a "decrypted" title, in order.
  let inPlaintext = false;
  let plaintext = "";
  for (const line of lines) {
    if (!line.includes("|")) inPlaintext = line.includes("decrypted");
    else if (inPlaintext) plaintext += line.slice(line.indexOf("|") + 1, -1);
  }
  assert.equal(plaintext, "*2..$4..AUTH..$7..*******..");
});
