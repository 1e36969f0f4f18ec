/**
 * The grader against the submissions a class really hands in, run as an instructor runs it:
 * `deno task grade ...` as a subprocess with deno.json's permissions.
 *
 * Each submission is a tutorial-sized Python server this file writes itself ({@link TINY_SERVER}),
 * made to misbehave one way: started by a wrapper script that does not `exec` it, crashing
 * halfway, listening on `::1` only, keeping only its last three keys, answering nothing, never
 * starting. Each must get the right verdict and exit code in bounded time, and leave no process
 * behind: every server carries a tag on its command line, and each test ends by looking for it.
 *
 * The reports are checked too: every failure shows the request and the reply's bytes, never
 * JavaScript's internals, and JSON, JUnit (parsed by Python's XML parser) and Gradescope's
 * results.json have the shape their readers expect.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasProgram } from "../shared/testing/processes.ts";
import { copyRepo, type RepoCopy, shown, task, type TaskRun } from "./task_support.ts";

/**
 * A Redis-style server of the size a tutorial writes: a thread per client, PING, ECHO, SET (its
 * options ignored), GET, DEL, EXISTS, a TTL that is always -1 and a SAVE that saves nothing, and
 * `-ERR unknown command` for the rest. Flags make it misbehave.
 */
const TINY_SERVER = `
import argparse, os, socket, sys, threading, traceback
from collections import OrderedDict

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--keep", type=int, default=0, help="keep only the last N keys")
p.add_argument("--crash-after", type=int, default=0, help="die after N commands")
p.add_argument("--silent", action="store_true", help="read commands, never reply")
p.add_argument("--tag", default="", help="names this process, so a test can find it")
args = p.parse_args()
store = OrderedDict()
lock = threading.Lock()
served = [0]
ARITY = {b"PING": (1, 2), b"ECHO": (2, 2), b"GET": (2, 2), b"SET": (3, 5), b"DEL": (2, 99),
         b"EXISTS": (2, 99), b"TTL": (2, 2), b"SAVE": (1, 1)}

def read_command(f):
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.split()
    items = []
    for _ in range(int(line[1:])):
        n = int(f.readline()[1:])
        items.append(f.read(n + 2)[:-2])
    return items

def bulk(v):
    return b"$-1\\r\\n" if v is None else b"$%d\\r\\n%s\\r\\n" % (len(v), v)

def reply(cmd):
    name = cmd[0].upper()
    low, high = ARITY.get(name, (1, 99))
    if name not in ARITY:
        return b"-ERR unknown command '%s'\\r\\n" % cmd[0]
    if not low <= len(cmd) <= high:
        return b"-ERR wrong number of arguments for '%s' command\\r\\n" % cmd[0].lower()
    if name == b"PING":
        return b"+PONG\\r\\n" if len(cmd) == 1 else bulk(cmd[1])
    if name == b"ECHO":
        return bulk(cmd[1])
    if name == b"SET":
        store.pop(cmd[1], None)
        store[cmd[1]] = cmd[2]
        while args.keep and len(store) > args.keep:
            store.popitem(last=False)
        return b"+OK\\r\\n"
    if name == b"GET":
        return bulk(store.get(cmd[1]))
    if name == b"TTL":  # no expiry at all: every key lives forever
        return b":-1\\r\\n" if cmd[1] in store else b":-2\\r\\n"
    if name == b"SAVE":  # says it saved; keeps nothing
        return b"+OK\\r\\n"
    if name == b"DEL":
        return b":%d\\r\\n" % sum(store.pop(k, None) is not None for k in cmd[1:])
    return b":%d\\r\\n" % sum(k in store for k in cmd[1:])

def serve(conn):
    f = conn.makefile("rb")
    try:
        while True:
            try:
                cmd = read_command(f)
            except ValueError:
                conn.sendall(b"-ERR Protocol error\\r\\n")
                return
            if cmd is None:
                return
            if args.silent or not cmd:
                continue
            with lock:
                served[0] += 1
                if args.crash_after and served[0] > args.crash_after:
                    try:
                        raise RuntimeError("the tiny server fell over on purpose")
                    except RuntimeError:
                        traceback.print_exc()
                        sys.stderr.flush()
                        os._exit(1)
                out = reply(cmd)
            conn.sendall(out)
    except OSError:
        pass
    finally:
        conn.close()

family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((args.host, args.port))
s.listen(64)
print("listening on %s:%d" % (args.host, args.port), flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/**
 * A wrapper of the kind students write: it starts the server as a child (no `exec`) and another
 * child besides, so stopping the shell alone would leave both running with the grader's pipes.
 */
const WRAPPER = `#!/bin/sh
python3 -c "import time; time.sleep(600)" "$TAG" &
python3 server.py "$@"
`;

const hasPython = hasProgram("python3");

/** A submission folder holding the tiny server and the wrapper, inside the repository copy. */
async function submission(repo: RepoCopy, name: string): Promise<string> {
  const dir = join(repo.path, "submissions", name);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "server.py"), TINY_SERVER);
  await Deno.writeTextFile(join(dir, "run.sh"), WRAPPER);
  return dir;
}

/** The processes whose command line holds `tag`: what a run left behind. */
async function processesTagged(tag: string): Promise<string[]> {
  const ps = await new Deno.Command("ps", { args: ["-eo", "pid=,args="] }).output();
  return new TextDecoder().decode(ps.stdout).split("\n").filter((line) => line.includes(tag));
}

/**
 * The `--cmd` that starts a submission from its folder, with a fresh tag among its arguments so
 * that the test can find every process it left behind.
 *
 * @param dir The submission's folder.
 * @param args The server's arguments, placeholders included.
 * @returns The tag and the command.
 */
function serverCommand(dir: string, args: string): { tag: string; cmd: string } {
  const tag = `tag-${crypto.randomUUID()}`;
  const before = args === "" ? "" : `${args} `;
  return { tag, cmd: `cd '${dir}' && python3 server.py ${before}--tag ${tag}` };
}

/**
 * Runs `deno task grade`, checks it ended within `withinMs` and left no tagged process, and
 * returns what it printed.
 */
async function gradeRun(
  repo: RepoCopy,
  tag: string,
  withinMs: number,
  ...args: string[]
): Promise<TaskRun & { ms: number }> {
  const started = performance.now();
  const run = await task(repo.path, "grade", ...args);
  const ms = performance.now() - started;
  assert.ok(ms < withinMs, `took ${Math.round(ms)} ms, more than ${withinMs}\n${shown(run)}`);
  // The group was killed before the grader exited; give the kernel a moment to reap it.
  let left = await processesTagged(tag);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    left = await processesTagged(tag);
  }
  assert.deepEqual(left, [], `processes left behind\n${shown(run)}`);
  return { ...run, ms };
}

/** The checks a JSON report lists, by name. */
interface JsonCheck {
  name: string;
  status: "passed" | "failed" | "not run";
  points: number;
  score: number;
  ms: number;
  error: string | null;
  conversation: string[];
}

/** The fields of a JSON report these tests read. */
interface JsonReport {
  verdict: string;
  exitCode: number;
  seed: number;
  score: number;
  maxScore: number;
  serverLost: string | null;
  couldNotRun: string | null;
  steps: { step: number | null; score: number; maxScore: number }[];
  checks: JsonCheck[];
}

function check(report: JsonReport, prefix: string): JsonCheck {
  const found = report.checks.find((c) => c.name.startsWith(prefix));
  assert.ok(found, `no check named "${prefix}..."`);
  return found;
}

const TEST = { ignore: !hasPython, sanitizeResources: true, sanitizeOps: true };
const SKIPPED = hasPython ? "" : " (skipped: python3 is not installed)";

Deno.test({
  ...TEST,
  name: `the grader stops a server a non-exec wrapper started, and every child of it${SKIPPED}`,
  fn: async (t) => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "wrapper");
    await t.step("the search for leftovers finds a tagged process (so it can fail)", async () => {
      const tag = `tag-${crypto.randomUUID()}`;
      // One process, whatever launcher python3 goes through here (pyenv's shim is a second one).
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "await new Promise((resolve) => setTimeout(resolve, 600_000))", tag],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        for (let i = 0; i < 250 && (await processesTagged(tag)).length === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.equal((await processesTagged(tag)).length, 1);
      } finally {
        child.kill("SIGKILL");
        await child.status;
      }
    });
    await t.step("sh run.sh: exit 1, bounded, nothing left", async () => {
      const tag = `tag-${crypto.randomUUID()}`;
      const run = await gradeRun(
        repo,
        tag,
        60_000,
        "lab1",
        "--timeout",
        "1000",
        "--cmd",
        `cd '${dir}' && TAG=${tag} sh run.sh --port {port} --tag ${tag}`,
      );
      assert.equal(run.code, 1, shown(run));
      assert.match(run.stdout, /^ {2}ok {3}PING replies \+PONG$/m, shown(run));
    });
    await t.step("a {dir} placeholder is a fresh directory, removed afterwards", async () => {
      const tag = `tag-${crypto.randomUUID()}`;
      const cmd = `test -d {dir} && test -z "$(ls -A {dir})" && echo seen > {dir}/mark && ` +
        `cd '${dir}' && exec python3 server.py --port {port} --tag ${tag}`;
      const run = await gradeRun(repo, tag, 60_000, "lab1", "--timeout", "1000", "--cmd", cmd);
      assert.equal(run.code, 1, shown(run));
      assert.match(run.stdout, /grading 127\.0\.0\.1:\d+/, shown(run));
    });
  },
});

Deno.test({
  ...TEST,
  name: `the grader names a crash once, with the traceback, and runs nothing after it${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "crash");
    const tag = `tag-${crypto.randomUUID()}`;
    const run = await gradeRun(
      repo,
      tag,
      60_000,
      "lab1",
      "--format",
      "json",
      "--cmd",
      `cd '${dir}' && python3 server.py --port {port} --crash-after 12 --tag ${tag}`,
    );
    assert.equal(run.code, 1, shown(run));
    const report: JsonReport = JSON.parse(run.stdout);
    assert.equal(report.verdict, "failed");
    assert.match(report.serverLost ?? "", /^The server exited with status 1\./);
    assert.match(report.serverLost ?? "", /RuntimeError: the tiny server fell over on purpose/);
    const failed = report.checks.filter((c) => c.status === "failed");
    assert.equal(failed.length, 1, JSON.stringify(failed, null, 2));
    assert.ok(report.checks.filter((c) => c.status === "not run").length > 10);
    // The text report went to stderr, and said it once.
    assert.equal(run.stderr.match(/The server exited/g)?.length, 1, run.stderr);
    assert.doesNotMatch(run.stderr + run.stdout, /Connection refused/);
  },
});

Deno.test({
  ...TEST,
  name: `the grader finds a server that listens on ::1 only${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "ipv6");
    const { tag, cmd } = serverCommand(dir, "--host ::1 --port {port}");
    const run = await gradeRun(repo, tag, 60_000, "lab1", "--timeout", "1000", "--cmd", cmd);
    assert.equal(run.code, 1, shown(run));
    assert.match(run.stdout, /grading \[::1\]:\d+/, shown(run));
    assert.match(run.stdout, /^ {2}ok {3}SET replies \+OK and GET returns the value$/m);
  },
});

Deno.test({
  ...TEST,
  name:
    `a server that keeps only its last 3 keys fails the keyspace checks, and only those${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "forgetful");
    const { tag, cmd } = serverCommand(dir, "--keep 3 --port {port}");
    const json = join(repo.path, "forgetful.json");
    const run = await gradeRun(
      repo,
      tag,
      60_000,
      "lab1",
      "--timeout",
      "1000",
      "--format",
      "json",
      "--output",
      json,
      "--cmd",
      cmd,
    );
    assert.equal(run.code, 1, shown(run));
    const report: JsonReport = JSON.parse(await Deno.readTextFile(json));
    // The same server with no bound passes these; with the bound, only the big keyspace fails.
    for (const name of ["SET replies +OK", "SET replaces", "DEL removes", "EXISTS counts"]) {
      assert.equal(check(report, name).status, "passed", name);
    }
    const write = check(report, "the server holds 5,000 keys");
    assert.equal(write.status, "failed");
    // It fails where it first forgets: deleting keys it no longer has, or reading them back.
    assert.match(
      write.error ?? "",
      /^\d[\d,]* of [\d,]+ (overwrites and deletes failed|keys written by this check read back wrong)/,
    );
    assert.match(write.error ?? "", /\n(DEL|GET) cachelab:\S+ .*replied (:0|\(nil\)), expected /);
    assert.equal(check(report, "the 5,000 keys written earlier").status, "failed");
    // Its points are the suite's weight, not 1.
    assert.equal(write.points, 5);
    assert.equal(write.score, 0);
  },
});

Deno.test({
  ...TEST,
  name: `a server that keeps nothing across a restart fails lab 4's persistence check${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "amnesiac");
    const { tag, cmd } = serverCommand(dir, "--port {port}");
    // Nothing here should time out: a check's time limit only has to outlast a busy machine.
    const run = await gradeRun(
      repo,
      tag,
      120_000,
      "lab4",
      "--timeout",
      "5000",
      "--format",
      "json",
      "--cmd",
      cmd,
    );
    assert.equal(run.code, 1, shown(run));
    const report: JsonReport = JSON.parse(run.stdout);
    assert.equal(report.serverLost, null, run.stdout);
    const restart = check(report, "1,000 keys and their TTLs, saved with SAVE");
    assert.equal(restart.status, "failed", JSON.stringify(restart, null, 2));
    // Every SET and the SAVE said +OK; what failed is what came back after the restart.
    assert.match(
      restart.error ?? "",
      /^2,000 of 2,000 GETs and TTLs read back wrong after a restart/,
    );
    assert.match(
      restart.error ?? "",
      /\nGET cachelab:\S+ \(key 1\) after the restart replied \(nil\)/,
    );
    // The server was started twice: both starts are in its output, and neither is left running.
    assert.equal(report.serverLost, null);
  },
});

Deno.test({
  ...TEST,
  name:
    `a server that refuses a limit's {flags} fails that check only, and is started again${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "no-limits");
    const { tag, cmd } = serverCommand(dir, "--port {port} {flags}");
    const run = await gradeRun(
      repo,
      tag,
      90_000,
      "lab2",
      "--timeout",
      "1000",
      "--format",
      "json",
      "--cmd",
      cmd,
    );
    assert.equal(run.code, 1, shown(run));
    const report: JsonReport = JSON.parse(run.stdout);
    const limit = check(report, "--maxclients 2");
    assert.equal(limit.status, "failed");
    // argparse refuses --maxclients: the restart with it fails, and says how.
    assert.match(limit.error ?? "", /server exited with status 2 before it listened/);
    // Started again without it, the server is still there for every other check.
    assert.equal(report.serverLost, null);
    assert.equal(report.checks.filter((c) => c.status === "not run").length, 0);
  },
});

Deno.test({
  ...TEST,
  name: `a silent server is called silent after one check, not timed out forty times${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "silent");
    const { tag, cmd } = serverCommand(dir, "--silent --port {port}");
    // Two reads of 500 ms (the check, the probe) and the start: far below 40 checks' worth.
    const run = await gradeRun(repo, tag, 20_000, "lab2", "--timeout", "500", "--cmd", cmd);
    assert.equal(run.code, 1, shown(run));
    assert.match(run.stdout, /got "" \(timed out\)/);
    assert.match(run.stdout, /The server stopped answering: nothing came back to a PING/);
    assert.match(run.stdout, /^lab2: \d+ checks, 0 passed, 1 failed, \d+ not run$/m);
  },
});

Deno.test({
  ...TEST,
  name:
    `failures show the request and the reply's bytes, and a wrong reply is not waited on${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "tutorial");
    const { tag, cmd } = serverCommand(dir, "--port {port}");
    // A 3 s read timeout: a check that waited for it would show in its time. (Two checks do wait
    // for it, rightly: this server never answers a malformed frame, so they time out.)
    const run = await gradeRun(
      repo,
      tag,
      90_000,
      "lab2",
      "--timeout",
      "3000",
      "--format",
      "json",
      "--cmd",
      cmd,
    );
    assert.equal(run.code, 1, shown(run));
    const report: JsonReport = JSON.parse(run.stdout);
    // What once read "info.match is not a function" and "Expected values to be strictly
    // deep-equal:" with nothing after it.
    const leaks = /\[object Object\]|is not a function|strictly deep-equal|'object' !== 'string'/;
    for (const c of report.checks.filter((c) => c.status === "failed")) {
      assert.doesNotMatch(c.error ?? "", leaks, `${c.name}: ${c.error}`);
      assert.ok(c.conversation.some((line) => /^\s*sent /.test(line)), c.name);
    }
    const info = check(report, "INFO clients counts connected clients");
    assert.equal(info.status, "failed");
    assert.ok(
      info.conversation.some((l) => /^\s*received +"-ERR unknown command 'CLIENT'\\r\\n"/.test(l)),
      info.conversation.join("\n"),
    );
    const unknown = check(report, "an unknown command gets Redis's error");
    assert.equal(unknown.status, "failed");
    assert.match(unknown.error ?? "", /got "-ERR unknown command 'FOO'\\r\\n"$/);
    assert.ok(unknown.ms < 2_500, `a complete wrong reply waited ${unknown.ms} ms`);
  },
});

Deno.test({
  ...TEST,
  name: `exit 3 when the server never starts, 1 with --fail-fast; --seed repeats a run${SKIPPED}`,
  fn: async (t) => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "codes");
    await t.step("a server that exits at once: 3, with its output", async () => {
      const { tag, cmd } = serverCommand(dir, "");
      const run = await gradeRun(repo, tag, 30_000, "lab1", "--cmd", cmd);
      assert.equal(run.code, 3, shown(run));
      assert.match(run.stdout, /could not run: The server exited with status 2 before it listened/);
      assert.match(run.stdout, /the following arguments are required: --port/);
    });
    await t.step("--fail-fast: one failure, the rest not run, in every format", async () => {
      const { tag, cmd } = serverCommand(dir, "--port {port}");
      const run = await gradeRun(
        repo,
        tag,
        30_000,
        "lab1",
        "--fail-fast",
        "--format",
        "json",
        "--cmd",
        cmd,
      );
      assert.equal(run.code, 1, shown(run));
      const report: JsonReport = JSON.parse(run.stdout);
      const statuses = report.checks.map((c) => c.status);
      const failedAt = statuses.indexOf("failed");
      assert.ok(failedAt > 0);
      assert.ok(statuses.slice(0, failedAt).every((s) => s === "passed"));
      assert.ok(statuses.slice(failedAt + 1).every((s) => s === "not run"));
      assert.equal(report.serverLost, "Stopped at the first failure (--fail-fast).");
    });
    await t.step("--seed: the same keys on the same seed, and the seed printed", async () => {
      const { tag, cmd } = serverCommand(dir, "--keep 3 --port {port}");
      const errors = [];
      for (let i = 0; i < 2; i++) {
        const run = await gradeRun(
          repo,
          tag,
          60_000,
          "lab1",
          "--timeout",
          "1000",
          "--seed",
          "4242",
          "--format",
          "json",
          "--cmd",
          cmd,
        );
        const report: JsonReport = JSON.parse(run.stdout);
        assert.equal(report.seed, 4242);
        assert.match(run.stderr, /\(seed 4242\)/);
        errors.push(check(report, "the server holds 5,000 keys").error);
      }
      assert.equal(errors[0], errors[1]);
    });
  },
});

/** Reads a document with Python's XML parser, which refuses anything not well-formed. */
async function parseXml(path: string): Promise<{ code: number; out: string }> {
  const script = "import sys, xml.etree.ElementTree as E\n" +
    "root = E.parse(sys.argv[1]).getroot()\n" +
    "suite = root.find('testsuite')\n" +
    "cases = suite.findall('testcase')\n" +
    "print(root.tag, suite.get('tests'), len(cases), suite.get('failures'), " +
    "len([c for c in cases if c.find('failure') is not None]), " +
    "len([c for c in cases if c.find('skipped') is not None]))";
  const output = await new Deno.Command("python3", { args: ["-c", script, path] }).output();
  const decoder = new TextDecoder();
  return { code: output.code, out: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
}

Deno.test({
  ...TEST,
  name: `JUnit parses as XML and Gradescope's results.json has its shape, bytes and all${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const dir = await submission(repo, "formats");
    const { tag, cmd } = serverCommand(dir, "--port {port} --crash-after 1000");
    const xml = join(repo.path, "junit.xml");
    const junit = await gradeRun(
      repo,
      tag,
      60_000,
      "lab1",
      "--timeout",
      "1000",
      "--format",
      "junit",
      "--output",
      xml,
      "--cmd",
      cmd,
    );
    assert.equal(junit.code, 1, shown(junit));
    const parsed = await parseXml(xml);
    assert.equal(parsed.code, 0, parsed.out);
    const [root, tests, cases, failures, failed, skipped] = parsed.out.trim().split(" ");
    assert.equal(root, "testsuites");
    assert.equal(tests, cases);
    assert.equal(failures, failed);
    assert.ok(Number(failed) > 0 && Number(skipped) > 0, parsed.out);

    const results = join(repo.path, "results.json");
    const gs = await gradeRun(
      repo,
      tag,
      60_000,
      "lab1",
      "--timeout",
      "1000",
      "--format",
      "gradescope",
      "--output",
      results,
      "--cmd",
      cmd,
    );
    assert.equal(gs.code, 1, shown(gs));
    const doc = JSON.parse(await Deno.readTextFile(results));
    assert.equal(typeof doc.score, "number");
    assert.equal(typeof doc.max_score, "number");
    assert.ok(doc.score > 0 && doc.score < doc.max_score);
    let sum = 0;
    for (const test of doc.tests) {
      assert.deepEqual(Object.keys(test).sort(), [
        "max_score",
        "name",
        "output",
        "score",
        "status",
      ]);
      assert.ok(test.status === "passed" || test.status === "failed");
      assert.equal(test.score, test.status === "passed" ? test.max_score : 0);
      sum += test.score;
    }
    assert.equal(sum, doc.score);
    const inline = doc.tests.find((t: { name: string }) =>
      t.name.includes("an unknown command gets Redis's error")
    );
    assert.match(inline.output, /^sent +"\*3\\r\\n\$3\\r\\nFOO\\r\\n/m);
  },
});

Deno.test({
  ...TEST,
  name: `--batch grades every folder with a grade.json, and prints one summary table${SKIPPED}`,
  fn: async () => {
    await using repo = await copyRepo();
    const tag = `tag-${crypto.randomUUID()}`;
    for (
      const [name, flags] of [["alice", ""], ["bob", "--crash-after 5"], ["carol", "--keep 3"]]
    ) {
      const dir = await submission(repo, name);
      const cmd = `python3 server.py --port {port} --tag ${tag} ${flags}`;
      await Deno.writeTextFile(join(dir, "grade.json"), JSON.stringify({ cmd }));
    }
    await Deno.mkdir(join(repo.path, "submissions", "dave"));
    await Deno.writeTextFile(join(repo.path, "submissions", "dave", "grade.json"), "{}");
    await Deno.mkdir(join(repo.path, "submissions", "not-a-submission"));
    const reports = join(repo.path, "reports");
    const run = await gradeRun(
      repo,
      tag,
      120_000,
      "lab1",
      "--timeout",
      "1000",
      "--batch",
      "submissions",
      "--format",
      "gradescope",
      "--output",
      reports,
    );
    // dave's manifest is broken: his submission could not run, the worst verdict.
    assert.equal(run.code, 3, shown(run));
    const table = run.stdout.slice(run.stdout.indexOf("lab1: 4 submissions graded"));
    const rows = table.split("\n").slice(2).filter((l) => l.trim());
    assert.match(rows[0], /^student +verdict +score +passed +failed +not run +seconds$/);
    assert.match(rows[1], /^alice +failed +\d+\/\d+ /);
    assert.match(rows[2], /^bob +failed +\d+\/\d+ +\d+ +1 +[1-9]\d* /);
    assert.match(rows[3], /^carol +failed +\d+\/\d+ /);
    assert.match(rows[4], /^dave +could not run +0\/0 /);
    assert.equal(rows.length, 5);
    const files = [];
    for await (const entry of Deno.readDir(reports)) files.push(entry.name);
    assert.deepEqual(files.sort(), ["alice.json", "bob.json", "carol.json", "dave.json"]);
    const carol = JSON.parse(await Deno.readTextFile(join(reports, "carol.json")));
    assert.ok(
      carol.tests.some((t: { name: string; status: string }) =>
        t.name.includes("5,000 keys") && t.status === "failed"
      ),
    );
  },
});
