import assert from "node:assert/strict";
import { join } from "node:path";
import { HISTORY_ENV, historyPath, isSensitive, loadHistory, saveHistory } from "./history.ts";

Deno.test("isSensitive() keeps passwords out of the history like redis-cli", () => {
  assert.equal(isSensitive(["AUTH", "hunter2"]), true);
  assert.equal(isSensitive(["auth", "default", "hunter2"]), true);
  assert.equal(isSensitive(["ACL", "SETUSER", "ada", ">pw"]), true);
  assert.equal(isSensitive(["CONFIG", "SET", "requirepass", "pw"]), true);
  assert.equal(isSensitive(["HELLO", "2", "AUTH", "ada", "pw"]), true);
  assert.equal(isSensitive(["SET", "auth", "x"]), false);
  assert.equal(isSensitive(["CONFIG", "SET", "maxmemory", "1mb"]), false);
  assert.equal(isSensitive(["HELLO", "2"]), false);
});

Deno.test("saveHistory() and loadHistory() keep the newest commands, newest first", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "history");
    assert.equal(saveHistory(path, ["GET b", "SET b 2", "SET a 1"]), true);
    assert.equal(Deno.readTextFileSync(path), "SET a 1\nSET b 2\nGET b\n");
    assert.equal((Deno.statSync(path).mode ?? 0) & 0o777, 0o600);
    assert.deepEqual(loadHistory(path), ["GET b", "SET b 2", "SET a 1"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loadHistory() and saveHistory() fail soft", () => {
  assert.deepEqual(loadHistory("/nonexistent/dir/history"), []);
  assert.equal(saveHistory("/nonexistent/dir/history", ["PING"]), false);
});

Deno.test("historyPath() honours CACHELAB_HISTFILE and turns history off when it is empty", () => {
  const saved = Deno.env.get(HISTORY_ENV);
  try {
    Deno.env.set(HISTORY_ENV, "/tmp/elsewhere");
    assert.equal(historyPath(), "/tmp/elsewhere");
    Deno.env.set(HISTORY_ENV, "");
    assert.equal(historyPath(), undefined);
    Deno.env.delete(HISTORY_ENV);
    const home = Deno.env.get("HOME");
    assert.equal(historyPath(), home ? join(home, ".cachelab_history") : undefined);
  } finally {
    if (saved === undefined) Deno.env.delete(HISTORY_ENV);
    else Deno.env.set(HISTORY_ENV, saved);
  }
});
