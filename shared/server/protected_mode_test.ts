import assert from "node:assert/strict";
import {
  isLoopbackAddress,
  PROTECTED_MODE_DENIED,
  protectedModeRefusal,
  protectedModeSetter,
  type ProtectedModeState,
} from "./protected_mode.ts";

function tcp(hostname: string): Deno.NetAddr {
  return { transport: "tcp", hostname, port: 50000 };
}

function state(enabled: boolean, password: boolean): ProtectedModeState {
  return { enabled, hasPassword: () => password };
}

const decode = (bytes: Uint8Array | null) => bytes && new TextDecoder().decode(bytes);

Deno.test("protectedModeRefusal() refuses a non-loopback client when there is no password", () => {
  for (const address of ["192.0.2.7", "10.0.0.1", "0.0.0.0", "2001:db8::1", "::ffff:10.0.0.1"]) {
    assert.equal(
      decode(protectedModeRefusal(tcp(address), state(true, false))),
      PROTECTED_MODE_DENIED,
    );
  }
});

Deno.test("protectedModeRefusal() serves loopback clients, by Redis's exact test", () => {
  for (const address of ["127.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1", "::FFFF:127.0.0.1"]) {
    assert.equal(protectedModeRefusal(tcp(address), state(true, false)), null, address);
  }
  // Redis compares with "127.0.0.1" and "::1" only: the rest of 127.0.0.0/8 is not loopback to it.
  assert.equal(isLoopbackAddress("127.0.0.2"), false);
  assert.notEqual(protectedModeRefusal(tcp("127.0.0.2"), state(true, false)), null);
});

Deno.test("protectedModeRefusal() serves everyone with a password, or with protected mode off", () => {
  assert.equal(protectedModeRefusal(tcp("192.0.2.7"), state(true, true)), null);
  assert.equal(protectedModeRefusal(tcp("192.0.2.7"), state(false, false)), null);
});

Deno.test("protectedModeRefusal() serves a Unix socket: only local users can reach one", () => {
  const unix: Deno.UnixAddr = { transport: "unix", path: "/tmp/cachelab.sock" };
  assert.equal(protectedModeRefusal(unix, state(true, false)), null);
});

Deno.test("PROTECTED_MODE_DENIED is one RESP error line, Redis 7's words", () => {
  assert.ok(PROTECTED_MODE_DENIED.startsWith("-DENIED Redis is running in protected mode because"));
  assert.ok(PROTECTED_MODE_DENIED.endsWith("accepting connections from the outside.\r\n"));
  assert.equal(PROTECTED_MODE_DENIED.indexOf("\r\n"), PROTECTED_MODE_DENIED.length - 2);
});

Deno.test("protectedModeSetter() takes yes or no in any case, and Redis's error otherwise", () => {
  const s = state(true, false);
  const set = protectedModeSetter(s);
  assert.equal(set("NO"), null);
  assert.equal(s.enabled, false);
  assert.equal(set("maybe"), "argument must be 'yes' or 'no'");
  assert.equal(s.enabled, false);
  assert.equal(set("yes"), null);
  assert.equal(s.enabled, true);
});
