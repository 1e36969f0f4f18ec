/**
 * Turns a lab's reference code into an exercise: every marked piece becomes a TODO.
 *
 * A marker is one ordinary comment line in the reference, right above the code it marks:
 *
 * ```ts
 * // exercise step 4: return the value, or null for a missing key
 * handler: ({ db }, args) => db.get(args[1]) ?? null,
 * ```
 *
 * A reader of the reference sees a comment that says which lesson step the code belongs to, and
 * nothing else changes. In the student's copy the marked code is gone:
 *
 * ```ts
 * // TODO (lesson step 4): return the value, or null for a missing key
 * handler: todoHandler(4, "return the value, or null for a missing key"),
 * ```
 *
 * Three kinds of code can be marked, because they are the shapes a lab's steps take:
 *
 * - a command's `handler:` property: it becomes a handler that answers
 *   `-ERR not implemented yet: lesson step 4 (...)`;
 * - a `function` declaration whose body returns a reply: the body becomes
 *   `return notImplemented(4, "...")`;
 * - a few statements ended by a `// exercise starter: CODE` line: they become `CODE`, the
 *   simpler thing the student starts from (lab 2's accept loop starts as lab 1's, serving one
 *   client at a time). Several starter lines in a row are a starter of several lines.
 *
 * Either way the workspace's server starts and answers every command, so the student can run the
 * check from the first minute and see which step to do next.
 *
 * @module
 */

/** A marker found in a file. */
export interface Marker {
  /**
   * The lesson the step belongs to when it is not the lab's own: `memcache` in
   * `// exercise memcache step 2: ...`, for the steps of lab 4's memcached port, which its lesson
   * numbers on their own.
   */
  lesson?: string;
  /** The lesson step the marked code implements. */
  step: number;
  /** The marker's text: what to do. */
  hint: string;
  /** The marker's line, counting from 1. */
  line: number;
}

const MARKER = /^(\s*)\/\/ exercise (?:([a-z]+) )?step (\d+): (.+?)\s*$/;
const STARTER = /^(\s*)\/\/ exercise starter: (.+?)\s*$/;
/**
 * How far below its marker a starter line may be: room for one mechanism written as a reader
 * would want it, comments included (lab 1's RESP3 types, a memcached command line's parse), while
 * a starter that lost its marker still fails fast rather than swallowing half a file.
 */
const MAX_BLOCK_LINES = 24;

/**
 * Lists the markers in a source file.
 *
 * @param source The file's text.
 * @returns The markers, in order.
 */
export function findMarkers(source: string): Marker[] {
  const markers: Marker[] = [];
  source.split("\n").forEach((text, i) => {
    const match = MARKER.exec(text);
    if (match === null) return;
    const marker: Marker = { step: Number(match[3]), hint: match[4], line: i + 1 };
    if (match[2] !== undefined) marker.lesson = match[2];
    markers.push(marker);
  });
  return markers;
}

/**
 * Finds where a TypeScript expression or block that starts at `start` ends: the first `,`, `;`
 * or unmatched closing bracket outside any nested bracket, string, template or comment. Enough of
 * a tokenizer for the code a lab marks; not a TypeScript parser.
 */
function scanExpression(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'" || c === "`") {
      i = skipString(text, i);
    } else if (c === "/" && text[i + 1] === "/") {
      i = text.indexOf("\n", i);
      if (i < 0) return text.length;
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i) + 1;
    } else if (c === "(" || c === "[" || c === "{") {
      depth++;
    } else if (c === ")" || c === "]" || c === "}") {
      if (depth === 0) return i;
      depth--;
      // A function body that closes at depth 0 ends the declaration.
      if (depth === 0 && c === "}" && text[start] === "{") return i + 1;
    } else if ((c === "," || c === ";") && depth === 0) {
      return i;
    }
  }
  return text.length;
}

function skipString(text: string, start: number): number {
  const quote = text[start];
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (quote === "`" && text[i] === "$" && text[i + 1] === "{") {
      i = scanExpression(text, i + 2);
    } else if (text[i] === quote) return i;
  }
  return text.length;
}

/** What {@link exercise} produced from one file. */
export interface ExerciseFile {
  /** The student's version of the file. */
  text: string;
  /** The markers that were turned into TODOs. */
  markers: Marker[];
}

/**
 * Replaces every marked piece of code with a TODO.
 *
 * @param source The reference file's text.
 * @param stubImport The module specifier of `shared/server/not_implemented.ts` as seen from the
 *   student's copy of the file.
 * @param through Keep the reference code of lesson steps 1 to this one: a student starting at a
 *   later step, or the step-order proof (`step_order_test.ts`), needs the earlier steps done.
 *   0 (the default) turns every marker into a TODO.
 * @param lesson Whose steps `through` counts: the lab's own (the default), or a lesson of its own
 *   such as `memcache`. The lab's own workspace leaves every step of such a lesson to do; that
 *   lesson's workspace builds on the lab's finished steps, and keeps their code.
 * @returns The student's file and the markers it turned into TODOs.
 * @throws {SyntaxError} If a marker is not followed by code it knows how to replace.
 */
export function exercise(
  source: string,
  stubImport: string,
  through = 0,
  lesson?: string,
): ExerciseFile {
  return transform(source, stubImport, through, lesson, true);
}

/** Whether a marker's code is still to write in a workspace of `lesson`, through step `through`. */
function isTodo(marker: Marker, through: number, lesson: string | undefined): boolean {
  if (marker.lesson === lesson) return marker.step > through;
  return lesson === undefined;
}

/**
 * {@link exercise}, or with `complete` false only the TODOs: without the stubs' import and the
 * lines that quiet unused names, which are no code a student writes (for {@link linesPerStep}).
 */
function transform(
  source: string,
  stubImport: string,
  through: number,
  lesson: string | undefined,
  complete: boolean,
): ExerciseFile {
  const markers = findMarkers(source).filter((marker) => isTodo(marker, through, lesson));
  if (markers.length === 0) return { text: source, markers };
  const lines = source.split("\n");
  // What each TODO took out, by marker, and whether it left room for a statement (quietUnused).
  const removed: Removed[] = [];
  // Work from the last marker up, so earlier line numbers stay valid.
  for (const [n, marker] of [...markers.entries()].reverse()) {
    const index = marker.line; // the line after the marker (0-based)
    const indent = MARKER.exec(lines[marker.line - 1])?.[1] ?? "";
    const rest = lines.slice(index).join("\n");
    const hint = JSON.stringify(marker.hint);
    let replaced: string;
    const block = lines.slice(index, index + MAX_BLOCK_LINES);
    const starterAt = block.findIndex((line) => STARTER.test(line) || MARKER.test(line));
    const starter = starterAt >= 0 ? STARTER.exec(block[starterAt]) : null;
    const handler = /^(\s*)handler:\s*/.exec(rest);
    const fn = /^(\s*)(?:export\s+)?(?:async\s+)?function\s+\w+\s*\(/.exec(rest);
    if (starter) {
      // A starter of several lines is several starter lines in a row.
      const starters = [starter[2]];
      let after = index + starterAt + 1;
      for (let more; (more = STARTER.exec(lines[after] ?? "")) && more[1] === starter[1]; after++) {
        starters.push(more[2]);
      }
      removed[n] = { code: block.slice(0, starterAt).join("\n"), site: true };
      replaced = [
        `${starter[1]}${SITE}${n}`,
        ...starters.map((code) => `${starter[1]}${code}`),
        ...lines.slice(after),
      ].join("\n");
    } else if (handler) {
      const end = scanExpression(rest, handler[0].length);
      removed[n] = { code: rest.slice(handler[0].length, end), site: false };
      replaced = `${handler[1]}${SITE}${n}\n` +
        `${handler[1]}handler: todoHandler(${marker.step}, ${hint})` + rest.slice(end);
    } else if (fn) {
      // The body is the first "{" after the parameter list, which may destructure `{ db }`.
      const closeParams = scanExpression(rest, fn[0].length);
      const open = rest.indexOf("{", closeParams);
      const end = scanExpression(rest, open);
      removed[n] = { code: rest.slice(open + 1, end - 1), site: true };
      replaced = rest.slice(0, open) +
        `{\n${fn[1]}  ${SITE}${n}\n${fn[1]}  return notImplemented(${marker.step}, ${hint});\n` +
        `${fn[1]}}` + rest.slice(end);
    } else {
      throw new SyntaxError(
        `Cannot make an exercise of line ${marker.line + 1}: a marker must stand above a ` +
          `"handler:" property, a function declaration, or lines ended by "// exercise starter:"`,
      );
    }
    lines.splice(
      marker.line - 1,
      lines.length,
      `${indent}// TODO (${marker.lesson ? `${marker.lesson} ` : ""}lesson step ${marker.step}): ` +
        marker.hint,
      ...replaced.split("\n"),
    );
  }
  if (!complete) {
    return { text: lines.filter((line) => !SITE_LINE.test(line)).join("\n"), markers };
  }
  return { text: addImport(quietUnused(lines, removed), stubImport), markers };
}

/** The code a TODO took out, and whether the TODO has room for a statement. */
interface Removed {
  code: string;
  site: boolean;
}

/** Where a TODO may take a statement: a line of its own, until {@link quietUnused} fills it. */
const SITE = "@exercise-site ";
const SITE_LINE = /^(\s*)@exercise-site (\d+)$/;

/** Words that are never names the student's code could leave unused. */
const KEYWORDS = new Set(
  ("await break case catch class const continue default delete do else export extends false " +
    "finally for function if import in instanceof let new null of return static super switch " +
    "this throw true try typeof undefined var void while yield as async from type readonly")
    .split(" "),
);

/**
 * The workspace must type-check with the project's settings, `noUnusedLocals` and
 * `noUnusedParameters` among them, but taking code out leaves names that only it used: an import,
 * a parameter, a private helper. Each TODO that has room for a statement gets one `void [...]`
 * line naming those in its scope (the names the finished code uses: a hint, not the code); what
 * only a handler used is named once at the end of the file. The student deletes the line when
 * their code uses the names.
 */
function quietUnused(lines: string[], removed: Removed[]): string {
  const code = lines.map(stripComment);
  const named = new Set<string>();
  const atEnd: string[] = [];
  const out = [...lines];
  for (let i = lines.length - 1; i >= 0; i--) {
    const site = SITE_LINE.exec(lines[i]);
    if (site === null) continue;
    const { code: taken, site: statement } = removed[Number(site[2])];
    const scope = enclosingFunction(code, i, site[1].length);
    // A parameter or local is this function's own; a name of the file is quieted once.
    const names = unusedNames(code, taken, scope).filter(({ name, local }) => {
      if (local) return true;
      if (named.has(name)) return false;
      named.add(name);
      return true;
    });
    out.splice(i, 1);
    if (statement) {
      if (names.length === 0) continue;
      const listed = names.map(({ name }) => name.startsWith("#") ? `this.${name}` : name);
      out.splice(
        i,
        0,
        `${site[1]}void [${listed.join(", ")}]; ` +
          `// used by the finished code: delete this line once yours uses them`,
      );
      continue;
    }
    // A handler is an expression, with no room for a statement: what only it used is named
    // once at the end of the file, and a parameter of the function around it gets a "_".
    for (const { name, local } of names) {
      if (!local) atEnd.push(name);
      else if (!name.startsWith("#") && scope !== undefined) {
        const declared = new RegExp(`(?<![\\w$.])${name.replace("$", "\\$")}(?![\\w$])`);
        // Its first mention is its declaration, in the header.
        const at = out.findIndex((line, k) =>
          k >= scope[0] && k <= scope[2] && declared.test(stripComment(line))
        );
        if (at >= 0) out[at] = out[at].replace(declared, `_${name}`);
      }
    }
  }
  if (atEnd.length > 0) {
    out.push(
      "",
      "// Used by the finished code of this file's TODOs: delete this line once yours uses them.",
      `void [${atEnd.join(", ")}];`,
    );
  }
  return out.join("\n");
}

/**
 * A line's code: without its `//` comment, and with its strings emptied (a rough cut, enough to
 * count names: a name inside a template's `${}` is missed, which at worst quiets a used name).
 */
function stripComment(line: string): string {
  const trimmed = line.trimStart();
  if (trimmed.startsWith("//") || trimmed.startsWith("*") || trimmed.startsWith("/*")) return "";
  if (SITE_LINE.test(line)) return "";
  const code = line.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
  const comment = code.indexOf("//");
  return comment < 0 ? code : code.slice(0, comment);
}

/**
 * The lines `[from, to]` of the function around line `at`, and the line its header ends on; or
 * `undefined` at the top level.
 */
function enclosingFunction(
  code: string[],
  at: number,
  indent: number,
): [number, number, number] | undefined {
  const indentOf = (line: string) => line.length - line.trimStart().length;
  let limit = indent;
  for (let i = at - 1; i >= 0; i--) {
    const line = code[i];
    if (line.trim() === "" || indentOf(line) >= limit) continue;
    limit = indentOf(line);
    // A block that is not a function's body (an `if`, a loop) is not the scope we want.
    const header = /[{(]\s*$/.test(line) &&
      !/^\s*(?:\}\s*)?(?:if|for|while|switch|catch|else|try|do)\b/.test(line);
    if (!header) continue;
    // A header over several lines (parameters, a return type) starts at the first line with its
    // indent: walk up past each line that closes a bracket, and the lines inside it.
    let from = i;
    while (from > 0 && /^\s*[)}\]]/.test(code[from])) {
      from--;
      while (from > 0 && (code[from].trim() === "" || indentOf(code[from]) > limit)) from--;
    }
    let to = at;
    while (to < code.length - 1 && !(indentOf(code[to]) === limit && /^\s*\}/.test(code[to]))) to++;
    return [from, to, i];
  }
  return undefined;
}

/**
 * The names `removedCode` used that the file now declares and never uses: declared once and
 * mentioned nowhere else. `local` when it is a parameter or local of `scope`, the enclosing
 * function (such names are often reused by other functions, so only that function counts).
 */
function unusedNames(
  code: string[],
  removedCode: string,
  scope?: [number, number, number],
): { name: string; local: boolean }[] {
  // A comment line may mention a name the code does not use.
  const removed = removedCode.split("\n").filter((line) => !/^\s*(?:\/\/|\*|\/\*)/.test(line))
    .join("\n");
  const words = new Set(
    [...removed.matchAll(/(?<![\w$])#[A-Za-z_$][\w$]*|(?<![.\w$#])[A-Za-z_$][\w$]*/g)]
      .map((m) => m[0]),
  );
  const file = code.join("\n");
  const local = scope === undefined ? "" : code.slice(scope[0], scope[1] + 1).join("\n");
  const header = scope === undefined ? "" : code.slice(scope[0], scope[2] + 1).join("\n");
  const unused: { name: string; local: boolean }[] = [];
  for (const name of words) {
    if (KEYWORDS.has(name) || (!name.startsWith("#") && name in globalThis)) continue;
    // A property (`.now`) is not the name; a private member's use is always `this.#x`, so neither
    // its declaration nor a write (`this.#x = 2`) counts.
    const pattern = new RegExp(
      name.startsWith("#")
        ? `(?<=\\.)${name}(?![\\w$])(?!\\s*=[^=])`
        : `(?<![\\w$#.])${name.replace("$", "\\$")}(?![\\w$])`,
      "g",
    );
    const inFile = [...file.matchAll(pattern)].length;
    const inScope = [...local.matchAll(pattern)].length;
    if (name.startsWith("#")) {
      if (inFile === 0 && file.includes(name)) unused.push({ name, local: true });
    } else if (inScope === 1 && declares(local, header, name)) {
      unused.push({ name, local: true });
    } else if (inScope === 0 && inFile === 1 && declaresAtTop(file, name)) {
      unused.push({ name, local: false });
    }
  }
  return unused;
}

/** Whether the file's one mention of `name` declares it at the top level: an import or a binding. */
function declaresAtTop(file: string, name: string): boolean {
  const n = name.replace("$", "\\$");
  return new RegExp(
    `^import\\s*(?:type\\s+)?\\{[^}]*(?<![\\w$])${n}(?![\\w$])[^}]*\\}|` +
      `^(?:export\\s+)?(?:async\\s+)?(?:const|let|var|function|class)\\s+${n}(?![\\w$])`,
    "m",
  ).test(file);
}

/**
 * Whether a function's one mention of `name` declares it: a local binding in its `body`, or a
 * parameter in its `header` (typed, `db: number`, or with a default, `db = 0`).
 */
function declares(body: string, header: string, name: string): boolean {
  const n = name.replace("$", "\\$");
  const local = new RegExp(
    `(?:const|let|var)\\s+${n}(?![\\w$])|` +
      `(?:const|let|var)\\s*[{[][^=]*(?<![\\w$.])${n}(?![\\w$:])`,
  );
  return local.test(body) || new RegExp(
    `\\{[^{}]*(?<![\\w$.])${n}(?![\\w$])[^{}]*\\}\\s*:|` +
      `[(,]\\s*(?:readonly\\s+)?${n}\\??\\s*[:=]|` +
      `\\(\\s*\\[[^\\]]*(?<![\\w$.])${n}(?![\\w$])[^\\]]*\\]|` +
      `\\([^()]*(?<![\\w$.])${n}(?![\\w$])[^()]*\\)\\s*(?::[^=]*)?=>`,
  ).test(header);
}

/** Adds the stubs' import after the file's last top-level import: only the names it uses. */
function addImport(text: string, specifier: string): string {
  // A stub the reference imports already (its own error handling may name one) is not imported twice.
  const used = ["NotImplementedError", "notImplemented", "todoHandler"].filter((name) =>
    new RegExp(`\\b${name}\\(`).test(text) &&
    !new RegExp(`^import\\s*\\{[^}]*\\b${name}\\b[^}]*\\}`, "m").test(text)
  );
  if (used.length === 0) return text;
  const statement = `import { ${used.join(", ")} } from ${JSON.stringify(specifier)};\n`;
  const imports = [...text.matchAll(/^import[^;]*;\n/gm)];
  const last = imports.at(-1);
  if (last?.index === undefined) return statement + text;
  const at = last.index + last[0].length;
  return text.slice(0, at) + statement + text.slice(at);
}

/**
 * How many lines of code the student writes for each lesson step of one file: the lines of the
 * reference that the TODOs of that step take out, counting neither blank lines nor comments (the
 * step's own hints are comments). Measured by writing the file through the step before and
 * through the step, and counting what the second has that the first lacks.
 *
 * @param source The reference file's text.
 * @param lesson The lesson whose steps to count (see {@link exercise}): the lab's own by default.
 * @returns Lines per step, for the steps this file has markers for.
 */
export function linesPerStep(source: string, lesson?: string): Map<number, number> {
  const counts = new Map<number, number>();
  const ours = findMarkers(source).filter((marker) => marker.lesson === lesson);
  const steps = [...new Set(ours.map((marker) => marker.step))];
  for (const step of steps) {
    // Another lesson's markers are the same on both sides: only this lesson's step differs.
    const before = transform(source, "", step - 1, lesson, false).text.split("\n");
    const after = transform(source, "", step, lesson, false).text.split("\n");
    const left = new Map<string, number>();
    for (const line of before) left.set(line, (left.get(line) ?? 0) + 1);
    let written = 0;
    for (const line of after) {
      const unmatched = left.get(line) ?? 0;
      if (unmatched > 0) left.set(line, unmatched - 1);
      else if (line.trim() !== "" && !line.trim().startsWith("//")) written++;
    }
    counts.set(step, written);
  }
  return counts;
}
