import assert from "node:assert/strict";
import { dirname } from "node:path";
import { hasProgram } from "../../../shared/testing/processes.ts";
import { writeAll } from "../../../shared/transport.ts";
import { connectClient, readExactly, startEchoServer } from "./channel_testing.ts";
import { HandshakeError, ServerKeyRejectedError } from "./errors.ts";
import { generateIdentity, sshPublicKeyLine } from "./identity.ts";
import {
  hostFieldMatches,
  HostKeyChangedError,
  hostKeyName,
  KnownHosts,
  parseFingerprint,
  parseKnownHosts,
  pinnedFingerprint,
} from "./known_hosts.ts";

/** Runs `fn` with a known-hosts path inside a fresh directory that does not exist yet. */
async function withKnownHostsPath(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(`${dir}/.cachelab/known_hosts`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const modeOf = async (path: string) => ((await Deno.stat(path)).mode ?? 0) & 0o777;

Deno.test("KnownHosts trusts a new server on first use and records it, owner-only", async () => {
  await withKnownHostsPath(async (path) => {
    const server = generateIdentity();
    const hosts = await KnownHosts.open(path);
    assert.deepEqual(hosts.lookup("127.0.0.1:6379"), []);
    assert.equal(
      await hosts.verify("127.0.0.1:6379", server.publicKey, server.fingerprint),
      "added",
    );

    const text = await Deno.readTextFile(path);
    assert.match(text, /^\[127\.0\.0\.1\]:6379 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\S+\n$/);
    assert.equal(await modeOf(path), 0o600);
    assert.equal(await modeOf(path.replace(/\/known_hosts$/, "")), 0o700);
    const [entry] = hosts.lookup("127.0.0.1:6379");
    assert.equal(entry.fingerprint, server.fingerprint);
    assert.equal(entry.line, 1);
  });
});

Deno.test("KnownHosts accepts the same key again, from a fresh open of the file", async () => {
  await withKnownHostsPath(async (path) => {
    const server = generateIdentity();
    await (await KnownHosts.open(path)).verify(
      "localhost:6379",
      server.publicKey,
      server.fingerprint,
    );
    const again = await KnownHosts.open(path);
    assert.equal(
      await again.verify("LOCALHOST:6379", server.publicKey, server.fingerprint),
      "known",
    );
    assert.equal((await Deno.readTextFile(path)).split("\n").length, 2, "no second line");
  });
});

Deno.test("KnownHosts refuses a changed key with SSH's warning, naming both keys and the line", async () => {
  await withKnownHostsPath(async (path) => {
    const original = generateIdentity();
    const other = generateIdentity();
    const hosts = await KnownHosts.open(path);
    await hosts.verify("127.0.0.1:6000", other.publicKey, other.fingerprint);
    await hosts.verify("127.0.0.1:6379", original.publicKey, original.fingerprint);
    const before = await Deno.readTextFile(path);

    const impostor = generateIdentity();
    await assert.rejects(
      hosts.verify("127.0.0.1:6379", impostor.publicKey, impostor.fingerprint),
      (error) => {
        assert.ok(error instanceof HostKeyChangedError);
        assert.ok(error instanceof ServerKeyRejectedError && error instanceof HandshakeError);
        assert.equal(error.reason, "server-key-rejected");
        assert.equal(error.expected, original.fingerprint);
        assert.equal(error.actual, impostor.fingerprint);
        assert.equal(error.line, 2);
        assert.equal(error.path, path);
        assert.match(error.message, /WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!/);
        assert.ok(error.message.includes(`  ${impostor.fingerprint}\n`));
        assert.ok(error.message.includes(`  ${original.fingerprint}\n`));
        assert.ok(error.message.includes(`Offending ED25519 key in ${path}:2`));
        assert.ok(error.message.includes(`ssh-keygen -R '[127.0.0.1]:6379' -f ${path}`));
        return true;
      },
    );
    assert.equal(await Deno.readTextFile(path), before, "the file is left alone");
  });
});

Deno.test("KnownHosts refuses a file that others may write to", async () => {
  await withKnownHostsPath(async (path) => {
    const server = generateIdentity();
    await (await KnownHosts.open(path)).verify(
      "127.0.0.1:6379",
      server.publicKey,
      server.fingerprint,
    );
    await Deno.chmod(path, 0o666);
    await assert.rejects(KnownHosts.open(path), /writable by others \(mode 0666\).*chmod 600/);
  });
});

Deno.test("parseKnownHosts() reads markers, patterns, hashes and other key types; flags the rest", () => {
  const server = generateIdentity();
  const key = sshPublicKeyLine(server.publicKey, "").trimEnd();
  const file = [
    "# a comment",
    "",
    "[10.0.0.1]:22 ssh-rsa AAAAB3NzaC1yc2E=",
    `|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ${key}`,
    `example.org,[127.0.0.1]:6379 ${key} a comment`,
    `@revoked * ${key}`,
    `@trusted [127.0.0.1]:6379 ${key}`,
    `[127.0.0.1]:6379 ${key.slice(0, -2)}=`,
    "|1|not-base64|x ssh-ed25519 AAAA",
    "[127.0.0.1]:6380",
  ].join("\n");
  const { entries, unreadable } = parseKnownHosts(file);
  assert.deepEqual(
    entries.map((e) => [e.line, e.marker, e.keyType, e.fingerprint]),
    [
      [3, "", "ssh-rsa", undefined],
      [4, "", "ssh-ed25519", server.fingerprint],
      [5, "", "ssh-ed25519", server.fingerprint],
      [6, "@revoked", "ssh-ed25519", server.fingerprint],
    ],
  );
  assert.deepEqual(unreadable, [
    { line: 7, reason: 'unknown marker "@trusted"', host: undefined },
    { line: 8, reason: "the key is not valid base64", host: "[127.0.0.1]:6379" },
    { line: 9, reason: "malformed hashed host name", host: undefined },
    { line: 10, reason: "expected a host, a key type and a key", host: "[127.0.0.1]:6380" },
  ]);
});

Deno.test("hostFieldMatches() follows OpenSSH: * and ?, ! rules a line out, case-insensitive", () => {
  const name = "[127.0.0.1]:6379";
  for (const field of ["*", "[127.0.0.1]:*", "[127.0.0.?]:6379", "x,[127.0.0.1]:6379", "*:6379"]) {
    assert.equal(hostFieldMatches(field, name), true, field);
  }
  for (const field of ["[127.0.0.1]:637", "127.0.0.1", "*,![127.0.0.1]:*", "[127.0.0.2]:*"]) {
    assert.equal(hostFieldMatches(field, name), false, field);
  }
  assert.equal(hostFieldMatches("[Cache.Example]:6379", "[cache.example]:6379"), true);
});

/** Writes `lines` as a known-hosts file (owner-only) and returns it opened. */
async function hostsFile(path: string, lines: string[]): Promise<KnownHosts> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, lines.join("\n") + "\n", { mode: 0o600 });
  return await KnownHosts.open(path);
}

/** Asserts that `impostor` is refused for 127.0.0.1:6379 and that the file did not change. */
async function assertRefused(
  hosts: KnownHosts,
  impostor: ReturnType<typeof generateIdentity>,
  message: RegExp,
): Promise<void> {
  const before = await Deno.readTextFile(hosts.path);
  await assert.rejects(
    hosts.verify("127.0.0.1:6379", impostor.publicKey, impostor.fingerprint),
    (error) => {
      assert.ok(error instanceof ServerKeyRejectedError, String(error));
      assert.match(error.message, message);
      return true;
    },
  );
  assert.equal(await Deno.readTextFile(hosts.path), before, "nothing was recorded");
}

Deno.test({
  name: "KnownHosts matches a host hashed by ssh-keygen -H: the impostor is refused",
  ignore: !hasProgram("ssh-keygen"),
  fn: async () => {
    await withKnownHostsPath(async (path) => {
      const real = generateIdentity();
      await hostsFile(path, [`[127.0.0.1]:6379 ${sshPublicKeyLine(real.publicKey, "")}`]);
      const hashing = await new Deno.Command("ssh-keygen", {
        args: ["-H", "-f", path],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.ok(hashing.success);
      await Deno.remove(`${path}.old`);
      const hosts = await KnownHosts.open(path);
      assert.match(await Deno.readTextFile(path), /^\|1\|/, "ssh-keygen hashed the host");
      await assertRefused(hosts, generateIdentity(), /REMOTE HOST IDENTIFICATION HAS CHANGED/);
      assert.equal(await hosts.verify("127.0.0.1:6379", real.publicKey, real.fingerprint), "known");
    });
  },
});

Deno.test("KnownHosts matches wildcard entries: the impostor is refused, the real key known", async () => {
  for (const pattern of ["*", "[127.0.0.1]:*"]) {
    await withKnownHostsPath(async (path) => {
      const real = generateIdentity();
      const hosts = await hostsFile(path, [`${pattern} ${sshPublicKeyLine(real.publicKey, "")}`]);
      await assertRefused(hosts, generateIdentity(), /REMOTE HOST IDENTIFICATION HAS CHANGED/);
      assert.equal(await hosts.verify("127.0.0.1:6379", real.publicKey, real.fingerprint), "known");
    });
  }
});

Deno.test("KnownHosts fails closed on an unreadable line about the host, naming file and line", async () => {
  await withKnownHostsPath(async (path) => {
    const real = generateIdentity();
    const line = `[127.0.0.1]:6379 ${sshPublicKeyLine(real.publicKey, "").trimEnd()}`;
    // One base64 character missing: Node's lenient decoder would still return bytes.
    const hosts = await hostsFile(path, ["# mine", line.slice(0, -2) + "="]);
    const where = path.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await assertRefused(
      hosts,
      generateIdentity(),
      new RegExp(`Cannot read line 2 of ${where} \\(the key is not valid base64\\)`),
    );
    // A broken line about another host does not stop this one.
    const other = await hostsFile(path, [`[10.0.0.9]:6379 ssh-ed25519 AAAA`]);
    assert.equal(await other.verify("127.0.0.1:6379", real.publicKey, real.fingerprint), "added");
  });
});

Deno.test("KnownHosts refuses a @revoked key and never records it as trusted", async () => {
  await withKnownHostsPath(async (path) => {
    const stolen = generateIdentity();
    const hosts = await hostsFile(path, [
      `@revoked [127.0.0.1]:6379 ${sshPublicKeyLine(stolen.publicKey, "")}`,
    ]);
    await assertRefused(hosts, stolen, /is marked as revoked \(.*:1\)/);
    // Revocation is about the key: another key for the host is still new.
    const fresh = generateIdentity();
    assert.equal(await hosts.verify("127.0.0.1:6379", fresh.publicKey, fresh.fingerprint), "added");
  });
});

Deno.test("KnownHosts says @cert-authority is unsupported and refuses", async () => {
  await withKnownHostsPath(async (path) => {
    const ca = generateIdentity();
    const hosts = await hostsFile(path, [
      `@cert-authority *.example.org,[127.0.0.1]:* ${sshPublicKeyLine(ca.publicKey, "")}`,
    ]);
    await assertRefused(hosts, generateIdentity(), /certificate authority.*does not support/);
  });
});

Deno.test("hostKeyName() writes hosts as OpenSSH does for a port other than 22", () => {
  assert.equal(hostKeyName("127.0.0.1:6379"), "[127.0.0.1]:6379");
  assert.equal(hostKeyName("[::1]:6379"), "[::1]:6379");
  assert.equal(hostKeyName("Cache.Example:06379"), "[cache.example]:6379");
  assert.throws(() => hostKeyName("nohost"), SyntaxError);
});

Deno.test("pinnedFingerprint() accepts its key, refuses any other, and checks its argument", () => {
  const server = generateIdentity();
  const bare = server.fingerprint.slice("SHA256:".length);
  pinnedFingerprint(server.fingerprint)(server.publicKey, server.fingerprint);
  pinnedFingerprint(bare)(server.publicKey, server.fingerprint);
  assert.equal(parseFingerprint(`${bare}=`), server.fingerprint);
  const other = generateIdentity();
  assert.throws(
    () => pinnedFingerprint(server.fingerprint)(other.publicKey, other.fingerprint),
    (error) => {
      assert.ok(error instanceof ServerKeyRejectedError);
      assert.match(error.message, /does not match the pinned fingerprint/);
      assert.ok(
        error.message.includes(other.fingerprint) && error.message.includes(server.fingerprint),
      );
      return true;
    },
  );
  assert.throws(() => pinnedFingerprint("SHA256:short"), TypeError);
  assert.throws(() => pinnedFingerprint("MD5:aa:bb"), TypeError);
});

Deno.test("over the network: a known host connects, a changed key is refused before any command", async () => {
  await withKnownHostsPath(async (path) => {
    const hosts = await KnownHosts.open(path);
    const notices: string[] = [];
    // Both servers answer as "cache.example:6379": the second is an impostor at that address.
    const verifyServerKey = hosts.verifier("cache.example:6379", (notice) => notices.push(notice));

    const realIdentity = generateIdentity();
    {
      await using real = startEchoServer({ identity: realIdentity });
      const first = await connectClient(real.port, { verifyServerKey });
      first.close();
      assert.equal(notices.length, 1);
      assert.match(
        notices[0],
        /^Warning: Permanently added '\[cache\.example\]:6379' \(ED25519 SHA256:/,
      );
      const second = await connectClient(real.port, { verifyServerKey });
      try {
        await writeAll(second, new TextEncoder().encode("PING\r\n"));
        assert.equal(new TextDecoder().decode(await readExactly(second, 6)), "PING\r\n");
      } finally {
        second.close();
      }
      assert.equal(notices.length, 1, "no notice for a known host");
    }

    await using impostor = startEchoServer({ identity: generateIdentity() });
    await assert.rejects(connectClient(impostor.port, { verifyServerKey }), HostKeyChangedError);
    // The impostor got the client's alert, and no record: no command reached it.
    const outcome = await impostor.outcome(0);
    assert.ok(
      outcome instanceof HandshakeError && outcome.reason === "peer-alert",
      String(outcome),
    );
  });
});

Deno.test({
  name: "the known-hosts file is one ssh-keygen can read",
  ignore: !hasProgram("ssh-keygen"),
  fn: async () => {
    await withKnownHostsPath(async (path) => {
      const server = generateIdentity();
      await (await KnownHosts.open(path)).verify(
        "127.0.0.1:6379",
        server.publicKey,
        server.fingerprint,
      );
      const { stdout, success } = await new Deno.Command("ssh-keygen", {
        args: ["-l", "-F", "[127.0.0.1]:6379", "-f", path],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(success);
      assert.ok(new TextDecoder().decode(stdout).includes(server.fingerprint));
    });
  },
});

Deno.test("over the network: an impostor meets a @revoked line and a wildcard entry, and is refused", async () => {
  await withKnownHostsPath(async (path) => {
    const real = generateIdentity();
    const stolen = generateIdentity();
    const hosts = await hostsFile(path, [
      `@revoked * ${sshPublicKeyLine(stolen.publicKey, "")}`,
      `cache.example,[cache.example]:* ${sshPublicKeyLine(real.publicKey, "")}`,
    ]);
    const verifyServerKey = hosts.verifier("cache.example:6379");
    for (const identity of [stolen, generateIdentity()]) {
      await using impostor = startEchoServer({ identity });
      await assert.rejects(
        connectClient(impostor.port, { verifyServerKey }),
        ServerKeyRejectedError,
      );
      const outcome = await impostor.outcome(0);
      assert.ok(outcome instanceof HandshakeError && outcome.reason === "peer-alert");
    }
    await using server = startEchoServer({ identity: real });
    (await connectClient(server.port, { verifyServerKey })).close();
    assert.equal(hosts.lookup("cache.example:6379").length, 2, "nothing was added");
  });
});
