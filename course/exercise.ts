/**
 * Writes a student's workspace for a lab: the reference lab's code with every marked piece turned
 * into a TODO (see `markers.ts`).
 *
 * ```
 * deno task exercise lab1            writes exercises/01-single-client/
 * deno task exercise lab1 --force    also overwrites files you have changed (the old workspace
 *                                    is saved first, as exercises/01-single-client.bak-<time>/)
 * deno task exercise lab1 --through 3    steps 1 to 3 done already: TODOs from step 4 on
 * ```
 *
 * The workspace holds the lab's own modules and its lesson; tests and the suite stay in the
 * reference, and imports of shared code and earlier labs are pointed back at this repository, so
 * the student writes exactly the code the lesson is about. Running it again only adds what is
 * missing: a file the student has changed is kept unless `--force` is given.
 *
 * @module
 */

import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { parseCommandLine, usageError } from "../shared/cli.ts";
import { REPO_ROOT } from "../shared/testing/processes.ts";
import { entryIn, findLab, type Lab, labFolder, LABS } from "./labs.ts";
import { exercise, linesPerStep, type Marker } from "./markers.ts";

/** What happened to one file of the workspace. */
export interface WrittenFile {
  /** The path inside the workspace. */
  path: string;
  /** `created`, `unchanged`, `kept` (the student changed it) or `overwritten` (`--force`). */
  outcome: "created" | "unchanged" | "kept" | "overwritten";
  /** The TODOs in it. */
  markers: Marker[];
  /** Lines of code the student writes in it, by lesson step (see `linesPerStep`). */
  lines: Map<number, number>;
}

/** Files of a lab that are not the student's to write: tests and the suites (`client_suite.ts`). */
function isReferenceOnly(path: string): boolean {
  return path.endsWith("_test.ts") || /(?:^|\/|_)suite\.ts$/.test(path);
}

async function* walk(dir: string, prefix = ""): AsyncGenerator<string> {
  const entries = [];
  for await (const entry of Deno.readDir(join(dir, prefix))) entries.push(entry);
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) yield* walk(dir, path);
    else if (entry.isFile && /\.(ts|md)$/.test(entry.name)) yield path;
  }
}

/**
 * Points a copied file's relative imports that leave the lab's directory at the same modules as
 * before, seen from the file's new place. Imports inside the lab stay as they are, so they reach
 * the student's own copies.
 */
export function rewriteImports(
  source: string,
  from: string,
  to: string,
  labDir: string,
): string {
  return source.replace(
    /(\bfrom\s+|\bimport\s*\(\s*|\bnew URL\(\s*)(["'])(\.\.?\/[^"']+)\2/g,
    (whole, lead: string, quote: string, specifier: string) => {
      const target = join(dirname(from), specifier);
      if (!relative(labDir, target).startsWith("..")) return whole;
      let path = relative(dirname(to), target);
      if (!path.startsWith(".")) path = `./${path}`;
      return `${lead}${quote}${path}${quote}`;
    },
  );
}

/**
 * Points a copied lesson's relative links at files the workspace does not have back at the
 * repository: a test, the suite, a file of another lab or of `shared/`. A link to a file the
 * workspace has (the student's own copy) stays as it is, and so do web links and anchors.
 *
 * @param markdown The lesson's text.
 * @param from The lesson's path in the repository.
 * @param to The copy's path in the workspace.
 * @param labDir The lab's directory in the repository.
 * @param copied Whether a path inside the lab (relative to `labDir`) is in the workspace.
 * @returns The text with those links rewritten.
 */
export function rewriteLinks(
  markdown: string,
  from: string,
  to: string,
  labDir: string,
  copied: (path: string) => boolean,
): string {
  return markdown.replace(
    /(\]\()([^)\s#]+)(#[^)\s]*)?(\s+"[^"]*")?\)/g,
    (whole, lead: string, target: string, anchor = "", title = "") => {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("/")) return whole;
      const resolved = join(dirname(from), target);
      const inLab = relative(labDir, resolved);
      if (!inLab.startsWith("..") && copied(inLab)) return whole;
      let path = relative(dirname(to), resolved);
      if (!path.startsWith(".")) path = `./${path}`;
      return `${lead}${path}${anchor}${title})`;
    },
  );
}

/** Whether a path inside a lab is copied into the workspace: a directory, or a module or note. */
function isCopied(labDir: string, path: string): boolean {
  if (isReferenceOnly(path.replace(/\/$/, ""))) return false;
  try {
    const info = Deno.statSync(join(labDir, path));
    return info.isDirectory || /\.(ts|md)$/.test(path);
  } catch {
    return false;
  }
}

/**
 * Writes (or completes) a lab's workspace.
 *
 * @param lab The lab.
 * @param options Where (default `exercises/<lab folder>` in this repository), whether to
 *   overwrite changed files, and through which lesson step to keep the reference code (default 0:
 *   every marked piece is a TODO).
 * @returns What happened to each file, and where the old workspace was saved if `force`
 *   overwrote any of it.
 */
export async function writeWorkspace(
  lab: Lab,
  options: { out?: string; force?: boolean; through?: number } = {},
): Promise<WrittenFile[] & { backup?: string }> {
  const labDir = join(REPO_ROOT, lab.dir);
  const outDir = options.out ?? join(REPO_ROOT, "exercises", labFolder(lab));
  const stubs = join(REPO_ROOT, "shared/server/not_implemented.ts");
  const written: WrittenFile[] & { backup?: string } = [];
  // The files to write, decided first: only when one of them overwrites the student's work is the
  // old workspace saved, once, before anything is written.
  const pending: { to: string; text: string }[] = [];
  for await (const path of walk(labDir)) {
    if (isReferenceOnly(path)) continue;
    const from = join(labDir, path);
    const to = join(outDir, path);
    let text = await Deno.readTextFile(from);
    let markers: Marker[] = [];
    const lesson = lab.part?.markers;
    const lines = path.endsWith(".ts") ? linesPerStep(text, lesson) : new Map<number, number>();
    if (path.endsWith(".ts")) {
      text = rewriteImports(text, from, to, labDir);
      let stubPath = relative(dirname(to), stubs);
      if (!stubPath.startsWith(".")) stubPath = `./${stubPath}`;
      ({ text, markers } = exercise(text, stubPath, options.through ?? 0, lesson));
    } else {
      text = rewriteLinks(text, from, to, labDir, (p) => isCopied(labDir, p));
    }
    let existing: string | undefined;
    try {
      existing = await Deno.readTextFile(to);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    let outcome: WrittenFile["outcome"] = "created";
    if (existing === text) outcome = "unchanged";
    else if (existing !== undefined) outcome = options.force ? "overwritten" : "kept";
    if (outcome === "created" || outcome === "overwritten") pending.push({ to, text });
    written.push({ path, outcome, markers, lines });
  }
  if (written.some((file) => file.outcome === "overwritten")) {
    // --force must not cost a student their work: the whole old workspace goes beside it first.
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
    written.backup = `${outDir}.bak-${stamp}`;
    await copyDirectory(outDir, written.backup);
  }
  for (const { to, text } of pending) {
    await Deno.mkdir(dirname(to), { recursive: true });
    await Deno.writeTextFile(to, text);
  }
  return written;
}

async function copyDirectory(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyDirectory(join(from, entry.name), join(to, entry.name));
    else if (entry.isFile) await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}

const TASK = "deno task exercise";

const USAGE = `Usage: deno task exercise <lab> [--force] [--through K]

Writes your workspace for a lab into exercises/: the lab's code with the parts the lesson
teaches replaced by TODOs. Running it again adds missing files and keeps the ones you changed.

  <lab>          ${LABS.map((lab) => lab.id).join(", ")}
  --force        overwrite files you have changed, too (the old workspace is saved first,
                 as exercises/<lab>.bak-<time>/)
  --through K    keep the finished code of lesson steps 1 to K: TODOs start at step K+1
                 (0, the default, leaves every step to you)
  --help         show this help

lab4-memcache is lab 4's memcached port: its steps, in lab 4's workspace, with lab 4's own
steps done for you.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({ usage: TASK, help: USAGE }, () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        force: { type: "boolean", default: false },
        through: { type: "string", default: "0" },
        help: { type: "boolean", default: false },
      },
    }));
  const lab = positionals.length === 1 ? findLab(positionals[0]) : undefined;
  if (lab === undefined) {
    usageError(`Name one lab: ${LABS.map((l) => l.id).join(", ")}`, TASK);
  }
  const through = Number(values.through);
  if (!(Number.isInteger(through) && through >= 0)) {
    usageError(`Invalid --through: "${values.through}" is not a whole number of steps`, TASK);
  }
  const folder = `exercises/${labFolder(lab)}`;
  const files = await writeWorkspace(lab, { force: values.force, through });
  for (const file of files) {
    const fresh = file.outcome === "created" || file.outcome === "overwritten";
    const todos = fresh && file.markers.length > 0 ? ` (${file.markers.length} TODO)` : "";
    console.log(`  ${file.outcome.padEnd(11)} ${folder}/${file.path}${todos}`);
  }
  if (files.backup !== undefined) {
    console.log(`\nYour old workspace is saved in ${relative(REPO_ROOT, files.backup)}/.`);
  }
  if (files.some((f) => f.outcome === "kept")) {
    console.log(`\nFiles you changed were kept; add --force to start them over.`);
  }
  // This lesson's steps; another lesson's TODOs in the same workspace (lab 4's memcached port's,
  // in lab 4's) are that lesson's to list, with its own numbers.
  const lesson = lab.part?.markers;
  const markers = files.flatMap((f) => f.markers);
  const stepsOf = (ours: boolean) =>
    [...new Set(markers.filter((m) => (m.lesson === lesson) === ours).map((m) => m.step))]
      .sort((a, b) => a - b);
  const steps = stepsOf(true);
  const others = LABS.filter((other) => other.dir === lab.dir && other !== lab)
    .map((other) => `${other.id} steps ${stepsOf(false).join(", ")}`);
  const todos =
    (steps.length > 0 ? `TODOs for lesson steps ${steps.join(", ")}` : "No TODOs left") +
    (stepsOf(false).length > 0 ? ` (and for ${others.join(", ")})` : "");
  // What the whole lab asks of a student, whatever --through kept: lines of code per step.
  const perStep = new Map<number, number>();
  for (const file of files) {
    for (const [step, n] of file.lines) perStep.set(step, (perStep.get(step) ?? 0) + n);
  }
  const total = [...perStep.values()].reduce((sum, n) => sum + n, 0);
  const table = [...perStep].sort(([a], [b]) => a - b).map(([step, n]) => `step ${step}: ${n}`);
  const kept = through > 0 ? ` (steps 1 to ${through} are done for you)` : "";
  console.log(`
${lab.title}: your workspace is ${folder}/ (lesson: ${folder}/README.md).
${todos}${kept}. Start it with
  deno run ${[...lab.denoFlags, entryIn(lab, folder), ...lab.startArgs ?? []].join(" ")}
and check your work, step by step:
  deno task check ${lab.id}
Lines of code you write in this lab, ${total} in all: ${table.join(", ")}.`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
