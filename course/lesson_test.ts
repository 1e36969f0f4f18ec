import assert from "node:assert/strict";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import { lessonOf } from "./grade.ts";
import { LABS } from "./labs.ts";
import { parseLesson } from "./lesson.ts";
// Lab 3's channel opens OpenSSL once per process, when its module loads (channel/openssl.ts), and
// keeps it open. Loading it here, before any test runs, keeps that out of each test's resource check.
import "../labs/03-secure/channel/openssl.ts";
import { namesCheck } from "./run_checks.ts";

Deno.test("parseLesson() reads steps and the checks each names, across wrapped lines", () => {
  const steps = parseLesson([
    "# Lab",
    "### 1. First",
    "Text with **bold** that is not a check.",
    "",
    "Check: **PING replies +PONG**, **a long",
    "name that wraps**, **WATCH makes EXEC reply \\*-1**.",
    "## Try it",
    "Check: **not in a step**",
    "### 2. Second",
    "Checks: **two**",
  ].join("\n"));
  assert.deepEqual(steps, [
    {
      number: 1,
      title: "First",
      checks: ["PING replies +PONG", "a long name that wraps", "WATCH makes EXEC reply *-1"],
    },
    { number: 2, title: "Second", checks: ["two"] },
  ]);
});

/** Test names written in a lab's test files, for checks a lesson names outside the suite. */
async function testNames(dir: string): Promise<string> {
  let text = "";
  for await (const entry of Deno.readDir(`${REPO_ROOT}${dir}`)) {
    if (entry.isDirectory) text += await testNames(`${dir}/${entry.name}`);
    else if (entry.name.endsWith("_test.ts")) {
      text += await Deno.readTextFile(`${REPO_ROOT}${dir}/${entry.name}`);
    }
  }
  return text;
}

for (const lab of LABS.filter((lab) => lab.lessonOrder)) {
  Deno.test(`every check the ${lab.id} lesson names exists`, async () => {
    await using run = await lab.prepare(false);
    const suite = run.checks;
    const tests = await testNames(lab.dir);
    const lesson = await lessonOf(lab);
    assert.ok(lesson.length > 0, `${lab.dir}/README.md has no numbered steps`);
    for (const step of lesson) {
      assert.ok(step.checks.length > 0, `Step ${step.number} names no check`);
      for (const name of step.checks) {
        const prefix = name.replace(/\s*(\.\.\.|…)$/, "");
        const found = suite.some((check) => namesCheck(name, check)) ||
          ['"', "'", "`"].some((quote) => tests.includes(quote + prefix));
        assert.ok(found, `Step ${step.number} names a check nobody runs: "${name}"`);
      }
    }
  });
}

Deno.test("parseLesson() does not take a shell comment in a code block for a heading", () => {
  const steps = parseLesson([
    "### 5. The door",
    "```sh",
    "redis-cli PING",
    "# ERR this server only speaks the secure channel",
    "```",
    "",
    "Check: **a plaintext client gets a clear error**",
  ].join("\n"));
  assert.deepEqual(steps, [
    { number: 5, title: "The door", checks: ["a plaintext client gets a clear error"] },
  ]);
});
