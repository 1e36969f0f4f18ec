import assert from "node:assert/strict";
import { hasProgram } from "../../../shared/testing/processes.ts";
import { writeAll } from "../../../shared/transport.ts";
import { connectClient, readExactly, startEchoServer } from "./channel_testing.ts";
import { HandshakeError, ServerKeyRejectedError } from "./errors.ts";
import { generateIdentity } from "./identity.ts";
import {
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

Deno.test("parseKnownHosts() skips comments, other key types and hashed hosts", () => {
  const server = generateIdentity();
  const file = [
    "# a comment",
    "",
    "[10.0.0.1]:22 ssh-rsa AAAAB3NzaC1yc2E",
    "|1|hashed|host ssh-ed25519 AAAA",
    `example.org,[127.0.0.1]:6379 ${
      (() => {
        const blob = new Uint8Array([
          0,
          0,
          0,
          11,
          ...new TextEncoder().encode("ssh-ed25519"),
          0,
          0,
          0,
          32,
          ...server.publicKey,
        ]);
        return "ssh-ed25519 " + btoa(String.fromCharCode(...blob));
      })()
    }`,
  ].join("\n");
  const entries = parseKnownHosts(file);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].line, 5);
  assert.equal(entries[0].fingerprint, server.fingerprint);
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
