import assert from "node:assert/strict";
import { concatBytes } from "../../../../shared/resp/bytes.ts";
import { decodeMemcacheFlags, encodeMemcacheFlags } from "./memcache_flags.ts";
import { RdbCursor, RdbError, walkRdb } from "./rdb_reader.ts";
import { canonicalInt32, RdbWriter, writeLength } from "./rdb_writer.ts";
import { REDIS_DUMP, REDIS_DUMP_KEYS, REDIS_DUMP_TTL_AT } from "./testdata.ts";

const OPTIONS = { redisVersion: "7.0.0", ctime: 0, usedMemory: 0 };

/** The bytes the writer makes for one value, without the header. */
function valueBytes(value: string, compress = true): number[] {
  const rdb = new RdbWriter({ ...OPTIONS, compress });
  rdb.take();
  rdb.string("k", value, null);
  return [...rdb.take()].slice(3); // type 00, key 01 6b
}

/** Reads back every string key of a whole file. */
function readAll(bytes: Uint8Array): Map<string, [string, number | null]> {
  const keys = new Map<string, [string, number | null]>();
  walkRdb(bytes, {
    string: (key, value, expiresAt) => keys.set(key, [value, expiresAt]),
  }, { values: true, databases: 16 });
  return keys;
}

Deno.test("lengths take one, two or five bytes, as rdbSaveLen writes them", () => {
  const out = new Uint8Array(9);
  const cases: [number, number[]][] = [
    [0, [0x00]],
    [63, [0x3f]],
    [64, [0x40, 0x40]],
    [300, [0x41, 0x2c]],
    [16383, [0x7f, 0xff]],
    [16384, [0x80, 0x00, 0x00, 0x40, 0x00]],
    [2 ** 32 - 1, [0x80, 0xff, 0xff, 0xff, 0xff]],
    [2 ** 32, [0x81, 0, 0, 0, 1, 0, 0, 0, 0]],
  ];
  for (const [n, bytes] of cases) {
    const end = writeLength(out, 0, n);
    assert.deepEqual([...out.subarray(0, end)], bytes, `length ${n}`);
    const cursor = new RdbCursor(out.subarray(0, end));
    assert.equal(cursor.length(), n);
  }
});

Deno.test("canonical 32-bit integers are stored as integers, every other spelling as bytes", () => {
  assert.deepEqual(valueBytes("0"), [0xc0, 0x00]);
  assert.deepEqual(valueBytes("42"), [0xc0, 0x2a]);
  assert.deepEqual(valueBytes("-1"), [0xc0, 0xff]);
  assert.deepEqual(valueBytes("1000"), [0xc1, 0xe8, 0x03]);
  assert.deepEqual(valueBytes("-70000"), [0xc2, 0x90, 0xee, 0xfe, 0xff]);
  assert.deepEqual(valueBytes("2147483647"), [0xc2, 0xff, 0xff, 0xff, 0x7f]);
  // Not canonical, or out of range: kept as the exact bytes.
  for (const s of ["2147483648", "007", "-0", "+1", " 1", "1 ", "1e3", "-", ""]) {
    assert.equal(canonicalInt32(s), null, s);
    assert.equal(valueBytes(s)[0], s.length, `${JSON.stringify(s)} is a plain string`);
  }
});

Deno.test("long strings are LZF-compressed when that saves at least four bytes", () => {
  const zeros = "0".repeat(40);
  assert.equal(valueBytes(zeros)[0], 0xc3);
  // Twenty bytes are never tried; an incompressible string stays as it is.
  assert.equal(valueBytes("0".repeat(20))[0], 20);
  assert.equal(valueBytes("abcdefghijklmnopqrstuvwxyz")[0], 26);
  // Compression off (Redis's rdbcompression no).
  assert.equal(valueBytes(zeros, false)[0], 40);
});

Deno.test("every encoding the writer chooses reads back as the same bytes", () => {
  const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
  const values = [
    "",
    "v",
    "42",
    "-2147483648",
    "2147483648",
    "007",
    "x".repeat(70_000),
    all,
    all.repeat(3),
    "\r\n\0".repeat(30),
  ];
  const rdb = new RdbWriter(OPTIONS);
  rdb.selectDb(0, values.length, 1);
  values.forEach((value, i) => rdb.string(`key${i}`, value, i === 1 ? 1_800_000_000_123 : null));
  const file = concatBytes([rdb.take().slice(), rdb.finish().slice()]);
  const keys = readAll(file);
  values.forEach((value, i) => {
    assert.deepEqual(keys.get(`key${i}`), [value, i === 1 ? 1_800_000_000_123 : null]);
  });
});

Deno.test("a dump.rdb written by redis-server reads back with its keys, values and expiry", () => {
  const keys = readAll(REDIS_DUMP);
  assert.deepEqual(
    Object.fromEntries([...keys].map(([k, [v]]) => [k, v])),
    REDIS_DUMP_KEYS,
  );
  assert.equal(keys.get("ttl")?.[1], REDIS_DUMP_TTL_AT);
  assert.equal(keys.get("n")?.[1], null);
  const aux = new Map<string, string>();
  walkRdb(REDIS_DUMP, { aux: (name, value) => aux.set(name, value) }, {
    values: false,
    databases: 1,
  });
  assert.deepEqual([...aux.keys()], ["redis-ver", "redis-bits", "ctime", "used-mem", "aof-base"]);
  assert.equal(aux.get("redis-ver"), "7.0.15");
});

Deno.test("the writer's header has Redis 7.0's AUX fields, in Redis's order", () => {
  const rdb = new RdbWriter({ redisVersion: "7.0.0", ctime: 1_800_000_000, usedMemory: 1234 });
  const file = concatBytes([rdb.take().slice(), rdb.finish().slice()]);
  const aux: string[] = [];
  walkRdb(file, { aux: (name, value) => aux.push(`${name}=${value}`) }, {
    values: false,
    databases: 1,
  });
  assert.deepEqual(aux, [
    "redis-ver=7.0.0",
    "redis-bits=64",
    "ctime=1800000000",
    "used-mem=1234",
    "aof-base=0",
  ]);
  assert.equal(new TextDecoder().decode(file.subarray(0, 9)), "REDIS0010");
});

Deno.test("walkRdb() names the key and the type it cannot store, and a database it lacks", () => {
  const list = concatBytes([
    REDIS_DUMP.subarray(0, 9),
    new Uint8Array([0x0e, 0x06, ...new TextEncoder().encode("queue!"), 0x01, 0x02, 0xff]),
  ]);
  assert.throws(
    () => walkRdb(list, {}, { values: false, databases: 1 }),
    (error) =>
      error instanceof RdbError && error.problem === "unsupported" && error.offset === 9 &&
      /key "queue!" is a list \(RDB type 14\), and this server stores only strings/.test(
        error.detail,
      ),
  );
  const rdb = new RdbWriter(OPTIONS);
  rdb.selectDb(3, null, 0);
  rdb.string("elsewhere", "v", null);
  const file = concatBytes([rdb.take().slice(), rdb.finish().slice()]);
  assert.throws(
    () => walkRdb(file, {}, { values: false, databases: 1 }),
    /key "elsewhere" is in database 3, and this server has only database 0/,
  );
});

Deno.test("memcached flags encode as length, key, flags, and decode back", () => {
  const flags: [string, number][] = [["flagged", 0xdeadbeef], ["k", 5], ["\0\r\n", 1]];
  const value = encodeMemcacheFlags(flags);
  assert.equal(value.slice(0, 13), "\x07flagged\x80\xde\xad\xbe\xef");
  assert.deepEqual([...decodeMemcacheFlags(value)], flags);
});

Deno.test("an old file (RDB version 6, expiry in seconds, no AUX fields) reads back", () => {
  // What Redis 2.8 wrote for `SET k v` with `EXPIREAT k 1800000000`, and `SET n 7`.
  const body = [
    ...new TextEncoder().encode("REDIS0006"),
    0xfe,
    0x00, // SELECTDB 0
    0xfd,
    0x00,
    0xd2,
    0x49,
    0x6b, // EXPIRETIME, seconds, int32 little-endian
    0x00,
    0x01,
    0x6b,
    0x01,
    0x76, // "k" = "v"
    0x00,
    0x01,
    0x6e,
    0xc0,
    0x07, // "n" = 7
    0xff,
  ];
  const file = new Uint8Array([...body, 0, 0, 0, 0, 0, 0, 0, 0]);
  const summary = walkRdb(file, {}, { values: false, databases: 1 });
  assert.equal(summary.version, 6);
  assert.equal(summary.keys, 2);
  assert.deepEqual([...readAll(file)], [["k", ["v", 1_800_000_000_000]], ["n", ["7", null]]]);
});

Deno.test("RDB versions outside 6 to 10 are refused by name", () => {
  const file = (version: string) => new TextEncoder().encode(`REDIS${version}\xff`);
  assert.throws(
    () => walkRdb(file("0011"), {}, { values: false, databases: 1 }),
    /RDB version 11 is newer than this server reads \(6 to 10/,
  );
  assert.throws(
    () => walkRdb(file("0005"), {}, { values: false, databases: 1 }),
    /RDB version 5 is older than this server reads/,
  );
});
