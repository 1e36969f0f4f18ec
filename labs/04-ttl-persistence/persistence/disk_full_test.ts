/**
 * A real full disk under lab 4's real server: a small `tmpfs` is mounted as the data directory and
 * filled up while clients write. What each policy must do, as Redis does it:
 *
 * - `everysec`: the short write is cut back off, write commands (and PING) get `-MISCONF`, reads
 *   go on, the write that hit the full disk is answered only once a retry has written it, and
 *   after `kill -9` and a restart every acknowledged write is there;
 * - `always`: the server exits rather than go on with a change it cannot make durable; nothing
 *   unacknowledged is acknowledged, and a restart has every acknowledged write.
 *
 * `fault_injection.ts` covers the same ground without a real disk (EIO, failed fsyncs, failed
 * truncates); this file proves the real system calls behave as the fake ones do. Mounting needs
 * root (CI runs as root); elsewhere these tests are skipped and say why.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startLabServer } from "../../../shared/testing/processes.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { type Reply, SimpleString } from "../../../shared/resp/reply.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY } from "../test_support.ts";

/** Mounts a tmpfs of `size` on `dir`; the error text if that is not allowed here. */
function mountTmpfs(dir: string, size: string): string | null {
  try {
    const { success, stderr } = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    return success ? null : new TextDecoder().decode(stderr).trim();
  } catch (error) {
    return String(error);
  }
}

function unmount(dir: string): void {
  new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" }).outputSync();
}

/** Whether this machine lets a test mount a tmpfs: root, and a kernel that allows it. */
const cannotMount = (() => {
  const dir = Deno.makeTempDirSync({ prefix: "disk_full_probe_" });
  const error = mountTmpfs(dir, "64k");
  if (error === null) unmount(dir);
  Deno.removeSync(dir);
  if (error !== null) console.warn(`disk_full_test.ts skipped: cannot mount a tmpfs (${error})`);
  return error;
})();

/** Runs `fn` with a fresh, small tmpfs mounted as the data directory. */
async function withSmallDisk(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "disk_full_" });
  const error = mountTmpfs(dir, "1m");
  if (error !== null) throw new Error(`Cannot mount a tmpfs: ${error}`);
  try {
    await fn(dir);
  } finally {
    unmount(dir);
    await Deno.remove(dir, { recursive: true });
  }
}

/** Fills the disk with one file until the kernel says no space is left. */
function fillDisk(dir: string): string {
  const path = join(dir, "filler");
  const file = Deno.openSync(path, { write: true, create: true });
  const block = new Uint8Array(4096);
  try {
    for (;;) file.writeSync(block);
  } catch (error) {
    if (!(error instanceof Error) || !/No space left/.test(error.message)) throw error;
  } finally {
    file.close();
  }
  return path;
}

function start(dir: string, appendfsync: string) {
  return startLabServer(LAB4_ENTRY, {
    args: ["--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", appendfsync],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
}

async function call(client: RawClient, ...args: string[]): Promise<Reply> {
  const reply = await client.call(...args);
  return reply instanceof SimpleString ? reply.value : reply;
}

/** Bigger than a page: the write fills the log's last page, then the disk is full. */
const BIG = "v".repeat(10_000);
const KEYS = Array.from({ length: 10 }, (_, i) => `k${i}`);

Deno.test({
  name: "everysec on a full disk: -MISCONF for writes, reads go on, nothing acknowledged is lost",
  ignore: cannotMount !== null,
  fn: () =>
    withSmallDisk(async (dir) => {
      {
        await using server = await start(dir, "everysec");
        await using a = await RawClient.connect(server.addr);
        await using b = await RawClient.connect(server.addr);
        await using queued = await RawClient.connect(server.addr);
        for (const key of KEYS) assert.equal(await call(a, "SET", key, key), "OK");
        // A transaction queued before the disk fills is refused whole at EXEC, not run halfway.
        assert.equal(await call(queued, "MULTI"), "OK");
        assert.equal(await call(queued, "SET", "tx", "1"), "QUEUED");
        const filler = fillDisk(dir);

        await a.sendCommand("SET", "big", BIG);
        await a.expectSilence(300); // its write hit the full disk: no reply until it is written
        await b.send("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n");
        await b.expect("-MISCONF Errors writing to the AOF file: No space left on device\r\n");
        await b.send("*1\r\n$4\r\nPING\r\n");
        await b.expect("-MISCONF Errors writing to the AOF file: No space left on device\r\n");
        assert.equal(await call(b, "GET", "k3"), "k3", "reads are served");
        await queued.send("*1\r\n$4\r\nEXEC\r\n");
        await queued.expect(
          "-EXECABORT Transaction discarded because of: MISCONF Errors writing to the AOF file: " +
            "No space left on device\r\n",
        );
        // Inside MULTI, a write is refused while it is queued, and EXEC then aborts.
        assert.equal(await call(b, "MULTI"), "OK");
        await b.send("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n");
        await b.expect("-MISCONF Errors writing to the AOF file: No space left on device\r\n");
        assert.equal(await call(b, "GET", "k3"), "QUEUED");
        await b.send("*1\r\n$4\r\nEXEC\r\n");
        await b.expect("-EXECABORT Transaction discarded because of previous errors.\r\n");
        assert.match(String(await call(b, "INFO", "persistence")), /aof_last_write_status:err/);
        assert.match(
          server.log(),
          /Error writing to the append only file .*: No space left on device \(after \d+ bytes\)/,
        );

        Deno.removeSync(filler);
        await a.expect("+OK\r\n", 3000); // the retry, at most a second later, wrote it
        assert.equal(await call(b, "SET", "x", "1"), "OK");
        assert.equal(await call(b, "PING"), "PONG");
        assert.match(server.log(), /AOF write error looks solved/);
        await server.kill("SIGKILL");
      }
      await using again = await start(dir, "everysec");
      await using c = await RawClient.connect(again.addr);
      for (const key of KEYS) assert.equal(await call(c, "GET", key), key);
      assert.equal(await call(c, "GET", "big"), BIG);
      assert.equal(await call(c, "GET", "x"), "1");
      assert.equal(await call(c, "GET", "tx"), null, "the aborted transaction wrote nothing");
      assert.doesNotMatch(again.log(), /Warning|Bad file format/);
    }),
});

Deno.test({
  name: "always on a full disk: the server exits, and a restart has every acknowledged write",
  ignore: cannotMount !== null,
  fn: () =>
    withSmallDisk(async (dir) => {
      {
        await using server = await start(dir, "always");
        await using a = await RawClient.connect(server.addr);
        for (const key of KEYS) assert.equal(await call(a, "SET", key, key), "OK");
        const filler = fillDisk(dir);
        await a.sendCommand("SET", "big", BIG);
        assert.deepEqual(await a.expectClosed(5000), new Uint8Array(), "never acknowledged");
        const status = await server.exited;
        assert.equal(status.code, 1);
        assert.match(
          server.log(),
          /Can't recover from AOF write error when the AOF fsync policy is 'always': No space left on device\. Exiting\.\.\./,
        );
        Deno.removeSync(filler);
      }
      await using again = await start(dir, "always");
      await using c = await RawClient.connect(again.addr);
      for (const key of KEYS) assert.equal(await call(c, "GET", key), key);
      assert.equal(await call(c, "GET", "big"), null, "the write nobody was told about is gone");
      assert.doesNotMatch(again.log(), /Warning|Bad file format/);
    }),
});
