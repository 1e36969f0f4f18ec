import assert from "node:assert/strict";
import { ErrorReply, NULL_ARRAY, SimpleString } from "../resp/reply.ts";
import { formatJson } from "./json.ts";

Deno.test("formatJson() puts the command and a status reply in one object", () => {
  assert.equal(
    formatJson(["SET", "a", "b"], new SimpleString("OK")),
    '{"command":["SET","a","b"],"response":"OK"}',
  );
});

Deno.test("formatJson() reports an error reply in an error field", () => {
  assert.equal(
    formatJson(["FOO"], new ErrorReply("ERR unknown command 'FOO'")),
    `{"command":["FOO"],"error":"ERR unknown command 'FOO'"}`,
  );
});

Deno.test("formatJson() maps integers to numbers, nulls to null and arrays to arrays", () => {
  assert.equal(
    formatJson(["X"], [1, null, NULL_ARRAY, [], ["a", 2]]),
    '{"command":["X"],"response":[1,null,null,[],["a",2]]}',
  );
});

Deno.test("formatJson() keeps every digit of a 64-bit integer", () => {
  const line = formatJson(["INCR", "n"], 9223372036854775807n);
  assert.equal(line, '{"command":["INCR","n"],"response":9223372036854775807}');
  assert.deepEqual(JSON.parse(line).command, ["INCR", "n"]);
});

Deno.test("formatJson() decodes bulk strings and the command as UTF-8 text", () => {
  // "é" travels as the two bytes 0xc3 0xa9; JSON shows the character.
  const line = formatJson(["GET", "cl\xc3\xa9"], "na\xc3\xafve\r\n");
  assert.deepEqual(JSON.parse(line), { command: ["GET", "clé"], response: "naïve\r\n" });
});

Deno.test("formatJson() marks an error inside an array with an error object", () => {
  assert.equal(
    formatJson(["EXEC"], [new SimpleString("OK"), new ErrorReply("ERR syntax error")]),
    '{"command":["EXEC"],"response":["OK",{"error":"ERR syntax error"}]}',
  );
});
