/**
 * The snapshot is a real RDB file, proven with real processes: what lab 4 saves passes
 * `redis-check-rdb` and loads in `redis-server` with every key, value and TTL; what
 * `redis-server` saves loads in lab 4 the same way, several databases included; and a `dump.rdb`
 * holding a list, or keys in a database past `--databases`, stops lab 4's start with a message
 * naming the file, the key and the type.
 *
 * Skipped, with a note, where `redis-server` or `redis-check-rdb` is not installed.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  hasProgram,
  REPO_ROOT,
  type RunningServer,
  startLabServer,
  startRedisServer,
} from "../../../shared/testing/processes.ts";
import { SimpleString } from "../../../shared/resp/reply.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY } from "../test_support.ts";
import { writeSnapshotSync } from "./snapshot.ts";

const HAVE_REDIS = hasProgram("redis-server") && hasProgram("redis-check-rdb");
if (!HAVE_REDIS) console.log("redis-server or redis-check-rdb is not installed: skipping");

/** A TTL read back after a stop and a start may have run down by this much, and no more. */
const TTL_SLACK_MS = 30_000;

/** Every byte value, as a byte string. */
const ALL_BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");

/**
 * Keys of every shape the format treats differently: integers of each width and beyond, long
 * compressible values, incompressible binary, empty, big; a third of them with a TTL.
 */
function sampleKeys(): Map<string, string> {
  const keys = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    keys.set(`int:${i}`, String(i * 7919 - 1_000_000));
    keys.set(`long:${i}`, `value:${String(i).padStart(26, "0")}`);
  }
  for (const n of ["0", "-1", "127", "-128", "32767", "-32768", "2147483647", "-2147483648"]) {
    keys.set(`edge:${n}`, n);
  }
  for (const s of ["2147483648", "-2147483649", "9007199254740993", "007", "-0", "+5", "1.5"]) {
    keys.set(`not-int:${s}`, s);
  }
  let seed = 7;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) & 0xff;
  for (let i = 0; i < 50; i++) {
    const noise = Array.from({ length: 20 + i * 3 }, () => String.fromCharCode(random())).join("");
    keys.set(`binary:${i}\r\n\0\xff`, noise);
  }
  keys.set("", "the empty key");
  keys.set("empty", "");
  keys.set("all-bytes", ALL_BYTES.repeat(4));
  keys.set("big", "abc".repeat(40_000));
  keys.set("12345", "an integer key");
  return keys;
}

/**
 * The databases the round trips fill: the first with every sample key, one in the middle and the
 * last of the sixteen with a few keys, some of the same names as database 0's.
 */
const DATABASES = ["0", "3", "15"];

/** The keys of a database other than 0: a name database 0 has too, and one of its own. */
function fewKeys(db: string): Map<string, string> {
  return new Map([["int:1", `in database ${db}`], [`only-in-${db}`, ALL_BYTES], ["12345", db]]);
}

/** Which sample keys (by position) get a TTL, and how long (ms). */
function ttlOf(index: number): number | null {
  return index % 3 === 0 ? 3_600_000 + index * 1000 : null;
}

async function call(client: RawClient, ...args: string[]) {
  const reply = await client.call(...args);
  return reply instanceof SimpleString ? reply.value : reply;
}

/** Writes the sample keys (and their TTLs) through any server. */
async function fill(client: RawClient, keys: Map<string, string>): Promise<void> {
  let index = 0;
  for (const [key, value] of keys) {
    const ttl = ttlOf(index++);
    const args = ttl === null ? ["SET", key, value] : ["SET", key, value, "PX", String(ttl)];
    assert.equal(await call(client, ...args), "OK");
  }
}

/** Writes database 0's sample keys and the others' few, through any server. */
async function fillDatabases(client: RawClient): Promise<void> {
  for (const db of DATABASES) {
    assert.equal(await call(client, "SELECT", db), "OK");
    await fill(client, db === "0" ? sampleKeys() : fewKeys(db));
  }
}

/**
 * Reads every key of every database with its value and PTTL, sorted, named `db/key`; a database
 * with keys that the round trips do not fill fails the comparison.
 */
async function readAll(client: RawClient): Promise<Map<string, [string, number]>> {
  const out = new Map<string, [string, number]>();
  for (let db = 0; db < 16; db++) {
    assert.equal(await call(client, "SELECT", String(db)), "OK");
    const names = await call(client, "KEYS", "*");
    assert.ok(Array.isArray(names));
    for (const name of [...names].map(String).sort()) {
      const value = await call(client, "GET", name);
      const pttl = await call(client, "PTTL", name);
      out.set(`${db}/${name}`, [String(value), Number(pttl)]);
    }
  }
  return out;
}

/** Asserts two servers hold the same keys and values, and TTLs within the slack. */
function assertSameData(
  got: Map<string, [string, number]>,
  want: Map<string, [string, number]>,
  what: string,
): void {
  assert.deepEqual([...got.keys()], [...want.keys()], `${what}: the same keys`);
  for (const [key, [value, pttl]] of want) {
    const [gotValue, gotPttl] = got.get(key)!;
    assert.equal(gotValue, value, `${what}: the value of ${JSON.stringify(key)}`);
    if (pttl === -1) {
      assert.equal(gotPttl, -1, `${what}: ${JSON.stringify(key)} has no TTL`);
    } else {
      assert.ok(
        gotPttl <= pttl && gotPttl > pttl - TTL_SLACK_MS,
        `${what}: the PTTL of ${JSON.stringify(key)} is ${gotPttl}, was ${pttl}`,
      );
    }
  }
}

function startLab4(dir: string): Promise<RunningServer> {
  return startLabServer(LAB4_ENTRY, {
    args: ["--dir", dir, "--save", "", "--appendonly", "no"],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
}

async function startRedis(dir: string, dbfilename = "dump.rdb"): Promise<RunningServer> {
  const server = await startRedisServer(["--dir", dir, "--dbfilename", dbfilename]);
  assert.ok(server !== null);
  return server;
}

/** Starts lab 4 expecting it to refuse: its exit code and everything it printed. */
async function lab4StartFails(
  dir: string,
  ...flags: string[]
): Promise<{ code: number; output: string }> {
  const entry = `${REPO_ROOT}${LAB4_ENTRY}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...LAB4_DENO_FLAGS, entry, "--port", "0", "--dir", dir, ...flags],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rdb_interop_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "lab 4's snapshot passes redis-check-rdb and loads in redis-server: databases, keys, TTLs",
  ignore: !HAVE_REDIS,
  fn: () =>
    withDir(async (dir) => {
      let before: Map<string, [string, number]>;
      {
        await using lab4 = await startLab4(dir);
        await using client = await RawClient.connect(lab4.addr);
        await fillDatabases(client);
        before = await readAll(client);
        assert.equal(await call(client, "SAVE"), "OK");
      }
      const path = join(dir, "dump.rdb");
      const check = await new Deno.Command("redis-check-rdb", { args: [path] }).output();
      const report = new TextDecoder().decode(check.stdout);
      assert.equal(check.code, 0, report);
      assert.match(report, /RDB looks OK/);
      assert.match(report, new RegExp(`\\[info\\] ${before.size} keys read`));

      // Under another name, to show that `--dbfilename` is all it takes.
      Deno.renameSync(path, join(dir, "from-lab4.rdb"));
      await using redis = await startRedis(dir, "from-lab4.rdb");
      await using client = await RawClient.connect(redis.addr);
      assertSameData(await readAll(client), before, "redis-server");
      assert.match(redis.log() + redis.output(), /Done loading RDB, keys loaded: \d+/);
    }),
});

Deno.test({
  name: "a dump.rdb redis-server writes loads in lab 4: the same databases, keys, values and TTLs",
  ignore: !HAVE_REDIS,
  fn: () =>
    withDir(async (dir) => {
      let before: Map<string, [string, number]>;
      {
        await using redis = await startRedis(dir);
        await using client = await RawClient.connect(redis.addr);
        await fillDatabases(client);
        before = await readAll(client);
        assert.equal(await call(client, "SAVE"), "OK");
      }
      // Redis compressed the long values and integer-encoded the numbers: the proof that lab 4
      // reads both encodings is in the file itself.
      const bytes = Deno.readFileSync(join(dir, "dump.rdb"));
      assert.ok(bytes.includes(0xc3), "the file has LZF-compressed strings");
      await using lab4 = await startLab4(dir);
      await using client = await RawClient.connect(lab4.addr);
      assertSameData(await readAll(client), before, "lab 4");
      assert.match(lab4.log() + lab4.output(), /redis-ver 7\.\d+\.\d+/);
    }),
});

Deno.test({
  name: "a dump.rdb with a list stops lab 4's start, naming the file, the key and the type",
  ignore: !HAVE_REDIS,
  fn: () =>
    withDir(async (dir) => {
      {
        await using redis = await startRedis(dir);
        await using client = await RawClient.connect(redis.addr);
        assert.equal(await call(client, "SET", "fine", "a string"), "OK");
        assert.equal(await call(client, "RPUSH", "queue", "a", "b", "c"), 3);
        assert.equal(await call(client, "SAVE"), "OK");
      }
      const path = join(dir, "dump.rdb");
      const bytes = Deno.readFileSync(path);
      const { code, output } = await lab4StartFails(dir);
      assert.equal(code, 1, output);
      assert.match(
        output,
        new RegExp(
          `Cannot start: Snapshot ${path} cannot be loaded at byte offset \\d+: ` +
            `key "queue" is a list \\(RDB type 18\\), and this server stores only strings`,
        ),
      );
      assert.doesNotMatch(output, /listening on/);
      assert.deepEqual(Deno.readFileSync(path), bytes, "the file is left as it was");
    }),
});

Deno.test({
  name: "a dump.rdb with keys in a database past --databases stops lab 4's start, naming the key",
  ignore: !HAVE_REDIS,
  fn: () =>
    withDir(async (dir) => {
      {
        await using redis = await startRedis(dir);
        await using client = await RawClient.connect(redis.addr);
        assert.equal(await call(client, "SELECT", "2"), "OK");
        assert.equal(await call(client, "SET", "elsewhere", "v"), "OK");
        assert.equal(await call(client, "SAVE"), "OK");
      }
      const { code, output } = await lab4StartFails(dir, "--databases", "2");
      assert.equal(code, 1, output);
      assert.match(
        output,
        /key "elsewhere" is in database 2, and this server has databases 0 to 1/,
      );
    }),
});

Deno.test({
  name: "a dump.rdb with a Redis function stops lab 4's start, saying so",
  ignore: !HAVE_REDIS,
  fn: () =>
    withDir(async (dir) => {
      {
        await using redis = await startRedis(dir);
        await using client = await RawClient.connect(redis.addr);
        const code = "#!lua name=mylib\nredis.register_function('one', function() return 1 end)";
        assert.equal(await call(client, "FUNCTION", "LOAD", code), "mylib");
        assert.equal(await call(client, "SAVE"), "OK");
      }
      const { code, output } = await lab4StartFails(dir);
      assert.equal(code, 1, output);
      assert.match(output, /the file holds Redis functions \(FUNCTION LOAD\)/);
    }),
});

Deno.test({
  name: "memcached flags ride in an AUX field that redis-check-rdb and redis-server skip",
  ignore: !HAVE_REDIS,
  fn: () =>
    withDir(async (dir) => {
      const path = join(dir, "dump.rdb");
      const far = Date.now() + 3_600_000;
      writeSnapshotSync(path, [{
        db: 0,
        entries: [
          { key: "flagged", value: "v", expiresAt: null, flags: 0xdeadbeef },
          { key: "both", value: "x".repeat(100), expiresAt: far, flags: 42 },
          { key: "plain", value: "p", expiresAt: null, flags: 0 },
        ],
      }], { createdAt: Date.now(), tempPath: join(dir, "temp.rdb") });
      const check = await new Deno.Command("redis-check-rdb", { args: [path] }).output();
      const report = new TextDecoder().decode(check.stdout);
      assert.equal(check.code, 0, report);
      assert.match(report, /AUX FIELD cachelab-memcache-flags/);
      await using redis = await startRedis(dir);
      await using client = await RawClient.connect(redis.addr);
      assert.equal(await call(client, "GET", "flagged"), "v");
      assert.equal(await call(client, "GET", "both"), "x".repeat(100));
      const pttl = Number(await call(client, "PTTL", "both"));
      assert.ok(pttl > 3_600_000 - TTL_SLACK_MS && pttl <= 3_600_000, `PTTL ${pttl}`);
      assert.equal(await call(client, "DBSIZE"), 3);
    }),
});
