import assert from "node:assert/strict";
import { hasProgram } from "../../../shared/testing/processes.ts";
import { hexDump } from "./hex_dump.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

Deno.test("hexDump() lays out a short frame like hexdump -C", () => {
  assert.deepEqual(hexDump(bytes("*1\r\n$4\r\nPING\r\n"), { indent: "" }), [
    "00000000  2a 31 0d 0a 24 34 0d 0a  50 49 4e 47 0d 0a        |*1..$4..PING..|",
  ]);
});

Deno.test("hexDump() starts a new line every sixteen bytes and escapes unprintable bytes", () => {
  const data = Uint8Array.from({ length: 20 }, (_, i) => i * 13);
  assert.deepEqual(hexDump(data), [
    "  00000000  00 0d 1a 27 34 41 4e 5b  68 75 82 8f 9c a9 b6 c3  |...'4AN[hu......|",
    "  00000010  d0 dd ea f7                                       |....|",
  ]);
});

Deno.test("hexDump() cuts a long buffer at maxBytes and says how much it left out", () => {
  const lines = hexDump(new Uint8Array(100), { maxBytes: 32, indent: "" });
  assert.equal(lines.length, 3);
  assert.equal(lines[2], "... 68 more bytes not shown");
});

Deno.test("hexDump() of nothing is no lines", () => {
  assert.deepEqual(hexDump(new Uint8Array(0)), []);
});

Deno.test({
  name: "hexDump() matches the real hexdump -C byte for byte",
  ignore: !hasProgram("hexdump"),
  fn: async () => {
    const data = Uint8Array.from({ length: 256 + 7 }, (_, i) => (i * 7919) & 0xff);
    const child = new Deno.Command("hexdump", { args: ["-C"], stdin: "piped", stdout: "piped" })
      .spawn();
    const writer = child.stdin.getWriter();
    await writer.write(data);
    await writer.close();
    const { stdout } = await child.output();
    // hexdump -C ends with a line holding the total length, and folds repeated lines into `*`
    // (which this data has none of).
    const expected = new TextDecoder().decode(stdout).trimEnd().split("\n").slice(0, -1);
    assert.deepEqual(hexDump(data, { indent: "" }), expected);
  },
});
