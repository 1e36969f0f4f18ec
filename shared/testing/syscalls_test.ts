/**
 * strace's log as `readSyscalls()` reads it: a log written by hand with every shape of line, then
 * a real program under `straceCommand()`, whose fsyncs and rename must be seen in order.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hasProgram } from "./processes.ts";
import { readSyscalls, straceCommand } from "./syscalls.ts";

Deno.test("readSyscalls joins interrupted calls and reads descriptor and quoted paths", () => {
  const log = [
    `9915  fsync(22</data/temp-1.rdb>)         = 0`,
    `9913  rename("/data/temp-1.rdb", "/data/dump.rdb") = 0`,
    `9913  fsync(15</data/appendonly.aof> <unfinished ...>`,
    `9914  fdatasync(14</data>)              = -1 EIO (Input/output error)`,
    `9913  <... fsync resumed>)              = 0`,
    `9916  renameat2(AT_FDCWD</srv>, "a b", AT_FDCWD</srv>, "c\\"d", RENAME_NOREPLACE) = 0`,
    `9916  +++ exited with 0 +++`,
  ].join("\n");
  assert.deepEqual(readSyscalls(log), [
    { name: "fsync", paths: ["/data/temp-1.rdb"], ok: true },
    { name: "rename", paths: ["/data/temp-1.rdb", "/data/dump.rdb"], ok: true },
    { name: "fdatasync", paths: ["/data"], ok: false },
    { name: "fsync", paths: ["/data/appendonly.aof"], ok: true },
    { name: "renameat2", paths: ["a b", 'c\\"d'], ok: true },
  ]);
});

Deno.test({
  name: "straceCommand() shows a program's fsyncs and renames, in order" +
    (hasProgram("strace") ? "" : " (skipped: strace is not installed)"),
  ignore: !hasProgram("strace"),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cachelab-strace-" });
    try {
      const log = join(dir, "strace.log");
      const script = [
        `const f = await Deno.open(${
          JSON.stringify(join(dir, "t"))
        }, { write: true, create: true });`,
        `await f.write(new Uint8Array([1])); await f.syncData(); f.close();`,
        `await Deno.rename(${JSON.stringify(join(dir, "t"))}, ${JSON.stringify(join(dir, "u"))});`,
        `const d = await Deno.open(${JSON.stringify(dir)}); await d.sync(); d.close();`,
      ].join("\n");
      const [program, ...args] = [
        ...straceCommand(log),
        Deno.execPath(),
        "eval",
        script,
      ];
      const { code } = await new Deno.Command(program, { args, stdout: "null" }).output();
      assert.equal(code, 0);
      // glibc may rename with rename(), renameat() or renameat2(): one name for all three.
      const calls = readSyscalls(await Deno.readTextFile(log))
        .filter((call) => call.paths.some((path) => path.startsWith(dir)))
        .map((call) => ({ ...call, name: call.name.replace(/^rename.*/, "rename") }));
      assert.deepEqual(calls, [
        { name: "fdatasync", paths: [join(dir, "t")], ok: true },
        { name: "rename", paths: [join(dir, "t"), join(dir, "u")], ok: true },
        { name: "fsync", paths: [dir], ok: true },
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
