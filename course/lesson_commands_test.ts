/**
 * The `deno task` commands the README, the lessons and the benchmark notes show, run as printed:
 * each task must exist in `deno.json`, and each command line must parse, flags and all. A flag
 * renamed in the code and not in a lesson fails here, where a student would otherwise meet it.
 *
 * A server or a benchmark cannot run inside a test for every line, so each command runs with
 * `--help` added after the task's name: the task's own parser reads every flag first, refuses one
 * it does not know (exit 2), and only then prints its help (exit 0). The test tasks are left out,
 * which would run the suite within the suite.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../shared/testing/processes.ts";

/** The Markdown files whose shell blocks a reader copies from. */
async function courseMarkdown(): Promise<string[]> {
  const files = ["README.md", "SECURITY.md", "bench/README.md"];
  for await (const entry of Deno.readDir(join(REPO_ROOT, "labs"))) {
    if (entry.isDirectory) files.push(`labs/${entry.name}/README.md`);
  }
  return files;
}

/**
 * Splits a shell line into words as a shell would for these simple lines: quotes kept together,
 * a comment or a pipe, redirection or `&&` ends the command.
 */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      word = (word ?? "") + line.slice(i + 1, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    } else if (c === " " || c === "\t") {
      if (word !== null) words.push(word);
      word = null;
    } else if (word === null && (c === "#" || c === "|" || c === ">" || c === "&" || c === ";")) {
      break;
    } else {
      word = (word ?? "") + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** Every `deno task` line in a file's shell blocks, continuation lines joined. */
function taskLines(markdown: string): string[] {
  const lines: string[] = [];
  for (const block of markdown.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n\s*/g, " ");
    for (const line of joined.split("\n")) {
      if (line.trim().startsWith("deno task ")) lines.push(line.trim());
    }
  }
  return lines;
}

Deno.test("shellWords() keeps quotes together and stops at a comment or a pipe", () => {
  assert.deepEqual(shellWords(`deno task lab4 --save "" --dir /tmp/x   # terminal 1`), [
    "deno",
    "task",
    "lab4",
    "--save",
    "",
    "--dir",
    "/tmp/x",
  ]);
  assert.deepEqual(shellWords("deno task grade lab2 --cmd 'python3 s.py --port {port}' | tee"), [
    "deno",
    "task",
    "grade",
    "lab2",
    "--cmd",
    "python3 s.py --port {port}",
  ]);
  assert.deepEqual(shellWords("deno task check lab1 && echo done"), [
    "deno",
    "task",
    "check",
    "lab1",
  ]);
});

Deno.test("every deno task command the course shows names a task and parses as printed", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json")));
  const tasks = new Set(Object.keys(config.tasks));
  const commands: { file: string; line: string; words: string[] }[] = [];
  for (const file of await courseMarkdown()) {
    const text = await Deno.readTextFile(join(REPO_ROOT, file));
    for (const line of taskLines(text)) commands.push({ file, line, words: shellWords(line) });
  }
  assert.ok(commands.length > 50, `found only ${commands.length} commands`);
  const failures: string[] = [];
  for (const { file, line, words } of commands) {
    const task = words[2];
    if (!tasks.has(task)) failures.push(`${file}: no task "${task}": ${line}`);
  }
  assert.equal(failures.length, 0, failures.join("\n"));

  // Each distinct command once; a few at a time, as each is a process of its own.
  const runnable = [
    ...new Map(
      commands.filter(({ words }) => !words[2].startsWith("test"))
        .map((command) => [command.words.join("\u0000"), command]),
    ).values(),
  ];
  const text = new TextDecoder();
  for (let i = 0; i < runnable.length; i += 4) {
    await Promise.all(
      runnable.slice(i, i + 4).map(async ({ file, line, words }) => {
        const { code, stderr } = await new Deno.Command(Deno.execPath(), {
          // Right after the task's name: a client stops reading flags at its command's first word.
          args: ["task", words[2], "--help", ...words.slice(3)],
          cwd: REPO_ROOT,
          env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).output();
        if (code !== 0) failures.push(`${file}: exit ${code}: ${line}\n${text.decode(stderr)}`);
      }),
    );
  }
  assert.equal(failures.length, 0, failures.join("\n"));
});
