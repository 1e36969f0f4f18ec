/**
 * Real memcached tools against this lab's memcached port: `memcapable` (libmemcached's protocol
 * checker, `memccapable` in Debian's `libmemcached-tools`) and `memcslap` (its load generator).
 * Each is skipped, with a message, when the tool is not installed.
 *
 * `memcapable -a` runs only its ASCII tests: this server speaks memcached's text protocol, not the
 * binary one, which memcached itself has deprecated.
 *
 * @module
 */

import assert from "node:assert/strict";
import { hasProgram } from "../../../shared/testing/processes.ts";
import { ExpiringKeyspace } from "../keyspace.ts";
import { type MemcacheServer, startMemcacheServer } from "./mod.ts";

/** The first of these names that is installed, or `undefined`. */
function findProgram(...names: string[]): string | undefined {
  return names.find(hasProgram);
}

const memcapable = findProgram("memcapable", "memccapable");
const memcslap = findProgram("memcslap", "memslap");

/** Starts the memcached port in this process, on a free port, over a fresh keyspace. */
function start(db = new ExpiringKeyspace()): MemcacheServer {
  return startMemcacheServer({
    host: "127.0.0.1",
    port: 0,
    db,
    propagate: () => {},
    beforeWrite: () => undefined,
    log: () => {},
  });
}

/** Runs a program to completion and returns its exit code and output. */
async function run(program: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

Deno.test({
  name: memcapable
    ? "memcapable -a passes every ASCII protocol test"
    : "memcapable -a passes every ASCII protocol test (skipped: memcapable is not installed)",
  ignore: memcapable === undefined,
  async fn() {
    const server = start();
    try {
      const { port } = server.address;
      const result = await run(memcapable ?? "", [
        "-a",
        "-t",
        "5",
        "-h",
        "127.0.0.1",
        "-p",
        `${port}`,
      ]);
      const output = result.stdout + result.stderr;
      assert.equal(result.code, 0, output);
      assert.match(output, /All tests passed/);
      // 27 ASCII tests in libmemcached 1.1; each must say [pass], none [FAIL] or [skip].
      const passed = output.match(/^ascii .*\[pass\]$/gm) ?? [];
      assert.ok(passed.length >= 27, output);
      assert.doesNotMatch(output, /\[(FAIL|skip)\]/);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: memcslap
    ? "memcslap's set, get and mget runs complete with no errors"
    : "memcslap's set, get and mget runs complete with no errors (skipped: memcslap is not installed)",
  ignore: memcslap === undefined,
  async fn() {
    const db = new ExpiringKeyspace();
    const server = start(db);
    try {
      const concurrency = 4;
      const executions = 500;
      for (const test of ["set", "get", "mget"]) {
        const result = await run(memcslap ?? "", [
          `--servers=127.0.0.1:${server.address.port}`,
          `--concurrency=${concurrency}`,
          `--execute-number=${executions}`,
          `--test=${test}`,
        ]);
        const output = result.stdout + result.stderr;
        assert.equal(result.code, 0, output);
        // memcslap exits 0 even when requests fail; it prints the failures, and counts only
        // the requests that succeeded.
        assert.doesNotMatch(output, /error|fail/i);
        const done = new RegExp(`Time to ${test}\\s+${concurrency * executions} keys`);
        assert.match(output, done, output);
      }
      assert.ok(db.size > 0, "memcslap stored nothing");
      assert.equal(server.store.stats.get_misses, 0, "memcslap read keys it never stored");
    } finally {
      await server.close();
    }
  },
});
