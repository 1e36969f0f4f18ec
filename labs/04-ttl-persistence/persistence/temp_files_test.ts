/**
 * What a crash leaves behind: the `temp-*` files of a save that never finished. Lab 4's real
 * server, started on a data directory holding some, removes its own kind and nothing else.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startLabServer } from "../../../shared/testing/processes.ts";
import { RawClient } from "../../../shared/testing/raw_client.ts";
import { LAB4_DENO_FLAGS, LAB4_ENTRY, scratchDir } from "../test_support.ts";
import { removeStaleTempFiles } from "./files.ts";

Deno.test("the server removes the temp files a crashed run left, names them, and keeps the rest", async () => {
  const dir = scratchDir();
  // A crashed server's process id, as tempPath() puts it in the names.
  const pid = 4321;
  const leftovers = [
    `temp-bgsave-${pid}.rdb`,
    `temp-rewriteaof-${pid}.aof`,
    `temp-snapshot-${pid}.rdb`,
  ];
  // Names a person or another program could have chosen: not the server's pattern.
  const others = ["temp-notes.txt", `my-temp-snapshot-${pid}.rdb`, `temp-snapshot-${pid}.rdb.bak`];
  for (const name of [...leftovers, ...others]) Deno.writeTextFileSync(join(dir, name), "x");
  // The pattern, but a directory: not a file this server wrote.
  Deno.mkdirSync(join(dir, `temp-bgsave-${pid}.aof`));

  await using server = await startLabServer(LAB4_ENTRY, {
    args: ["--dir", dir, "--save", "", "--appendonly", "no"],
    denoFlags: [...LAB4_DENO_FLAGS],
  });
  await using client = await RawClient.connect(server.addr);
  await client.send("PING\r\n");
  await client.expect("+PONG\r\n");

  const left = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
  assert.deepEqual(left, [...others, `temp-bgsave-${pid}.aof`].sort());
  assert.ok(
    server.log().includes(
      `Removed temporary files left by an earlier run in ${dir}: ${leftovers.join(", ")}\n`,
    ),
    server.log(),
  );
});

Deno.test("removeStaleTempFiles() logs nothing when there is nothing to remove", () => {
  const dir = scratchDir();
  Deno.writeTextFileSync(join(dir, "dump.rdb"), "x");
  const lines: string[] = [];
  assert.deepEqual(removeStaleTempFiles(dir, (line) => lines.push(line)), []);
  assert.deepEqual(lines, []);
  assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["dump.rdb"]);
});
