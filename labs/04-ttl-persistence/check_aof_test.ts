import assert from "node:assert/strict";
import { join } from "node:path";
import { concatBytes } from "../../shared/resp/bytes.ts";
import { RespWriter } from "../../shared/resp/encoder.ts";
import { REPO_ROOT } from "../../shared/testing/processes.ts";
import { checkAof } from "./check_aof.ts";

const encoder = new TextEncoder();

function resp(...commands: string[][]): Uint8Array {
  const out = new RespWriter();
  for (const command of commands) {
    out.arrayHeader(command.length);
    for (const arg of command) out.bulk(arg);
  }
  return out.take().slice();
}

async function withFile(bytes: Uint8Array, fn: (path: string) => Promise<void> | void) {
  const dir = await Deno.makeTempDir({ prefix: "check_aof_test_" });
  try {
    const path = join(dir, "appendonly.aof");
    Deno.writeFileSync(path, bytes);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function check(path: string, fix = false): { code: number; out: string } {
  const lines: string[] = [];
  const { exitCode } = checkAof(path, { fix, print: (line) => lines.push(line) });
  return { code: exitCode, out: lines.join("\n") };
}

const GOOD = resp(["SET", "a", "1"], ["SET", "b", "\r\n\0"], ["DEL", "a"]);

Deno.test("check-aof says a good log is valid", async () => {
  await withFile(GOOD, (path) => {
    const { code, out } = check(path);
    assert.equal(code, 0);
    assert.equal(
      out,
      `AOF analyzed: filename=${path}, size=${GOOD.length}, ok_up_to=${GOOD.length}, ` +
        `ok_up_to_line=20, diff=0\nAOF ${path} is valid`,
    );
  });
});

Deno.test("check-aof finds a torn tail, and --fix cuts exactly it", async () => {
  const torn = encoder.encode("*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$10\r\nonly");
  await withFile(concatBytes([GOOD, torn]), (path) => {
    const before = check(path);
    assert.equal(before.code, 1);
    assert.match(
      before.out,
      new RegExp(`ok_up_to=${GOOD.length}, ok_up_to_line=20, diff=${torn.length}`),
    );
    assert.match(
      before.out,
      /Torn tail at byte offset 76: an incomplete command \(29 bytes\)/,
    );
    assert.match(before.out, /is not valid\. Use the --fix option to try fixing it\.$/);

    const fixed = check(path, true);
    assert.equal(fixed.code, 0);
    assert.match(fixed.out, /Cutting 29 bytes from byte offset 76: \*3\\r\\n\$3\\r\\nSET/);
    assert.match(fixed.out, /Successfully truncated AOF .* from 105 to 76 bytes$/);
    assert.deepEqual(Deno.readFileSync(path), GOOD);
    assert.equal(check(path).code, 0);
  });
});

Deno.test("check-aof names the offset of corruption in the middle; --fix cuts from there", async () => {
  const first = resp(["SET", "a", "1"]);
  // A length one too short: the CRLF check catches it inside the second command.
  const bad = encoder.encode("*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\nxy\r\n");
  const bytes = concatBytes([first, bad, resp(["SET", "c", "3"])]);
  await withFile(bytes, (path) => {
    const { code, out } = check(path);
    assert.equal(code, 1);
    assert.match(out, new RegExp(`ok_up_to=${first.length}, ok_up_to_line=7, `));
    assert.match(out, /Bad command at byte offset 52: a line does not end with \\r\\n/);
    assert.deepEqual(Deno.readFileSync(path), bytes, "without --fix nothing changes");

    const fixed = check(path, true);
    assert.equal(fixed.code, 0);
    assert.match(fixed.out, /!!! Everything after byte offset 27 is lost/);
    assert.deepEqual(Deno.readFileSync(path), first);
  });
});

Deno.test("check-aof refuses a snapshot and a missing file", async () => {
  await withFile(encoder.encode("REDIS0010\xfa"), (path) => {
    const { code, out } = check(path);
    assert.equal(code, 1);
    assert.match(
      out,
      /is a snapshot \(an RDB file\), not an append-only file: check it with redis-check-rdb/,
    );
  });
  assert.equal(check("/nonexistent/appendonly.aof").code, 2);
});

async function runCli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      `${REPO_ROOT}labs/04-ttl-persistence/check_aof.ts`,
      ...args,
    ],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

Deno.test("the check-aof command line: help, usage errors, exit codes", async () => {
  const help = await runCli("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task lab4:check-aof \[--fix\] FILE/);
  const badFlag = await runCli("--frobnicate", "x");
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /--frobnicate/);
  assert.equal((await runCli()).code, 2);
  await withFile(concatBytes([GOOD, encoder.encode("*2\r\n$3\r\nGET")]), async (path) => {
    const broken = await runCli(path);
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /is not valid/);
    const fixed = await runCli("--fix", path);
    assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
    assert.equal((await runCli(path)).code, 0);
  });
});
