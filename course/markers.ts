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
 *   client at a time).
 *
 * Either way the workspace's server starts and answers every command, so the student can run the
 * check from the first minute and see which step to do next.
 *
 * @module
 */

/** A marker found in a file. */
export interface Marker {
  /** The lesson step the marked code implements. */
  step: number;
  /** The marker's text: what to do. */
  hint: string;
  /** The marker's line, counting from 1. */
  line: number;
}

const MARKER = /^(\s*)\/\/ exercise step (\d+): (.+?)\s*$/;
const STARTER = /^(\s*)\/\/ exercise starter: (.+?)\s*$/;
/** How far below its marker a starter line may be. */
const MAX_BLOCK_LINES = 20;

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
    if (match) markers.push({ step: Number(match[2]), hint: match[3], line: i + 1 });
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
 * @returns The student's file and the markers it turned into TODOs.
 * @throws {SyntaxError} If a marker is not followed by code it knows how to replace.
 */
export function exercise(source: string, stubImport: string, through = 0): ExerciseFile {
  const markers = findMarkers(source).filter((marker) => marker.step > through);
  if (markers.length === 0) return { text: source, markers };
  const lines = source.split("\n");
  // Work from the last marker up, so earlier line numbers stay valid.
  for (const marker of [...markers].reverse()) {
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
      replaced = [`${starter[1]}${starter[2]}`, ...lines.slice(index + starterAt + 1)].join("\n");
    } else if (handler) {
      const end = scanExpression(rest, handler[0].length);
      replaced = `${handler[1]}handler: todoHandler(${marker.step}, ${hint})` + rest.slice(end);
    } else if (fn) {
      // The body is the first "{" after the parameter list, which may destructure `{ db }`.
      const closeParams = scanExpression(rest, fn[0].length);
      const open = rest.indexOf("{", closeParams);
      const end = scanExpression(rest, open);
      replaced = rest.slice(0, open) +
        `{\n${fn[1]}  return notImplemented(${marker.step}, ${hint});\n${fn[1]}}` +
        rest.slice(end);
    } else {
      throw new SyntaxError(
        `Cannot make an exercise of line ${marker.line + 1}: a marker must stand above a ` +
          `"handler:" property, a function declaration, or lines ended by "// exercise starter:"`,
      );
    }
    lines.splice(
      marker.line - 1,
      lines.length,
      `${indent}// TODO (lesson step ${marker.step}): ${marker.hint}`,
      ...replaced.split("\n"),
    );
  }
  return { text: addImport(lines.join("\n"), stubImport), markers };
}

/** Adds the stubs' import after the file's last top-level import. */
function addImport(text: string, specifier: string): string {
  const names = "NotImplementedError, notImplemented, todoHandler";
  const statement = `import { ${names} } from ${JSON.stringify(specifier)};\n`;
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
 * @returns Lines per step, for the steps this file has markers for.
 */
export function linesPerStep(source: string): Map<number, number> {
  const counts = new Map<number, number>();
  const steps = [...new Set(findMarkers(source).map((marker) => marker.step))];
  for (const step of steps) {
    const before = exercise(source, "", step - 1).text.split("\n");
    const after = exercise(source, "", step).text.split("\n");
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
