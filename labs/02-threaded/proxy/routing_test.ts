import assert from "node:assert/strict";
import { ErrorReply } from "../../../shared/resp/reply.ts";
import { FORWARDED, refusalOf } from "./routing.ts";

const refused = (...args: string[]) => refusalOf(args[0].toLowerCase(), args)?.message;

Deno.test("refusalOf() forwards the data commands on the allow-list", () => {
  for (const args of [["GET", "k"], ["HSET", "h", "f", "v"], ["MULTI"], ["MEMORY", "USAGE", "k"]]) {
    assert.equal(refused(...args), undefined, args.join(" "));
  }
});

Deno.test("refusalOf() refuses admin commands, naming the way to allow one", () => {
  for (
    const args of [["FLUSHALL"], ["EVAL", "x", "0"], ["ACL", "SETUSER", "u"], ["MEMORY", "PURGE"]]
  ) {
    assert.match(
      refused(...args) ?? "",
      /^ERR '[a-z]+' is not forwarded by this proxy: .*--allow-commands/,
    );
  }
  const allowed = new Set([...FORWARDED, "flushall"]);
  assert.equal(refusalOf("flushall", ["FLUSHALL"], allowed), undefined);
});

Deno.test("refusalOf() answers a name it does not know as Redis does, and keeps its old refusals", () => {
  assert.deepEqual(
    refusalOf("nosuch", ["nosuch", "a"]),
    new ErrorReply("ERR unknown command 'nosuch', with args beginning with: 'a' "),
  );
  assert.match(refused("SELECT", "1") ?? "", /not supported by this proxy: it would change/);
  assert.match(refused("XREAD", "BLOCK", "0", "STREAMS", "s", "$") ?? "", /would block/);
  assert.equal(refused("XREAD", "STREAMS", "s", "0"), undefined);
});
