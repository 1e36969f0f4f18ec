/**
 * Every relative link in a lesson leads somewhere: in the repository, and in the copy of the
 * lesson a student reads in their workspace (`deno task exercise` points links at files the
 * workspace lacks back at the repository, see `rewriteLinks`). A link with an anchor must name a
 * heading of the file it leads to.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import { writeWorkspace } from "./exercise.ts";
import { LABS } from "./labs.ts";

/** The inline links of a Markdown text, outside fenced code blocks and code spans. */
export function markdownLinks(markdown: string): string[] {
  const links: string[] = [];
  let inCode = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) {
      inCode = !inCode;
      continue;
    }
    if (inCode) continue;
    const text = line.replace(/`[^`]*`/g, "");
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) links.push(match[1]);
  }
  return links;
}

/** The anchors GitHub gives a Markdown file's headings. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let inCode = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) inCode = !inCode;
    const heading = inCode ? null : /^#{1,6}\s+(.+?)\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1].toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** The links of a Markdown file that lead nowhere, each with the reason. */
async function brokenLinks(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(file);
  const broken: string[] = [];
  for (const link of markdownLinks(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // a web link
    const [path, anchor] = link.split("#", 2);
    const target = path === "" ? file : join(dirname(file), path);
    let isFile: boolean;
    try {
      isFile = (await Deno.stat(target)).isFile;
    } catch {
      broken.push(`${link}: no such file or directory`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!isFile || !target.endsWith(".md")) {
      broken.push(`${link}: an anchor in a file that is not Markdown`);
    } else if (!headingAnchors(await Deno.readTextFile(target)).has(anchor)) {
      broken.push(`${link}: ${relative(REPO_ROOT, target)} has no heading "#${anchor}"`);
    }
  }
  return broken;
}

Deno.test("markdownLinks() finds inline links, not those in code", () => {
  assert.deepEqual(
    markdownLinks(
      '[a](a.ts) and [b](../b.md#x "t"), `[c](c.ts)`\n```\n[d](d.ts)\n```\n![e](e.svg)',
    ),
    ["a.ts", "../b.md#x", "e.svg"],
  );
});

Deno.test("headingAnchors() makes GitHub's anchors", () => {
  assert.deepEqual(
    [...headingAnchors(
      "# Lab 2 — Many clients\n## Course mode: exercises, checks\n## Steps\n## Steps",
    )],
    ["lab-2--many-clients", "course-mode-exercises-checks", "steps", "steps-1"],
  );
});

Deno.test("every relative link in the course's Markdown leads to a file and a heading", async () => {
  const files = ["README.md", "SECURITY.md", "bench/README.md"];
  for (const lab of LABS.filter((l) => /^lab\d$/.test(l.id))) files.push(`${lab.dir}/README.md`);
  const broken: string[] = [];
  for (const file of files) {
    for (const why of await brokenLinks(join(REPO_ROOT, file))) broken.push(`${file}: ${why}`);
  }
  assert.deepEqual(broken, []);
});

Deno.test("every relative link in a workspace's copy of the lesson resolves", async () => {
  const out = await Deno.makeTempDir({ prefix: "cachelab-links-" });
  try {
    const broken: string[] = [];
    for (const lab of LABS.filter((l) => /^lab\d$/.test(l.id))) {
      const dir = join(out, lab.id);
      await writeWorkspace(lab, { out: dir });
      for (const why of await brokenLinks(join(dir, "README.md"))) {
        broken.push(`${lab.id}'s workspace README.md: ${why}`);
      }
    }
    assert.deepEqual(broken, []);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
