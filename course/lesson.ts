/**
 * Reads a lab's lesson (its README) for the steps and the checks each step names.
 *
 * The lesson is the one place that says which check proves which step:
 *
 * ```md
 * ### 4. The keyspace: SET, GET, DEL, EXISTS
 * ...
 * Check: **SET replies +OK and GET returns the value**, **DEL removes keys and ...**.
 * ```
 *
 * `deno task check` runs the checks in lesson order from this, so the README and the checker can
 * never disagree; a test in `course/` fails if a lesson names a check its suite does not have.
 *
 * @module
 */

/** One numbered step of a lesson. */
export interface LessonStep {
  /** The step's number, from its heading. */
  number: number;
  /** The heading's words after the number. */
  title: string;
  /** The names of the suite checks the step names, in the order it names them. */
  checks: string[];
}

const HEADING = /^###\s+(\d+)\.\s+(.+?)\s*$/;

/**
 * Finds the numbered steps of a lesson and the checks each names.
 *
 * A step's checks are the bold phrases in its paragraphs that start with "Check" (the paragraph
 * runs to the next blank line), with Markdown's backslash escapes removed.
 *
 * @param markdown The README's text.
 * @returns The steps, in order.
 */
export function parseLesson(markdown: string): LessonStep[] {
  const steps: LessonStep[] = [];
  let current: LessonStep | undefined;
  let paragraph: string[] = [];
  const endParagraph = () => {
    const text = paragraph.join(" ");
    paragraph = [];
    if (current === undefined || !/^Checks?\b/.test(text)) return;
    for (const match of text.matchAll(/\*\*(.+?)\*\*/g)) {
      current.checks.push(match[1].replace(/\\(.)/g, "$1"));
    }
  };
  let inCode = false;
  for (const line of markdown.split("\n")) {
    // A fenced code block may hold lines such as "# a shell comment": they are not headings.
    if (/^\s*(```|~~~)/.test(line)) inCode = !inCode;
    if (inCode || /^\s*(```|~~~)/.test(line)) {
      endParagraph();
      continue;
    }
    if (line.trim() === "" || /^#{1,3}\s/.test(line)) endParagraph();
    else paragraph.push(line.trim());
    const heading = HEADING.exec(line);
    if (heading) {
      current = { number: Number(heading[1]), title: heading[2], checks: [] };
      steps.push(current);
    } else if (/^#{1,3}\s/.test(line)) {
      current = undefined;
    }
  }
  endParagraph();
  return steps;
}

/**
 * Finds the steps of a lesson that is one section of a README, written as a numbered list: each
 * item a step, its title in bold first, then the checks it names, in bold after the word "Checks"
 * (lab 4's memcached port, under "### Steps for the memcached port").
 *
 * ```md
 * 1. **Frame lines and data blocks** (...). Checks: **a command split across ...**, **...**.
 * ```
 *
 * @param markdown The README's text.
 * @param heading The section's heading, without its `#`s.
 * @returns The steps, in order; none if the section is missing.
 */
export function parseListLesson(markdown: string, heading: string): LessonStep[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.replace(/^#+\s+/, "").trim() === heading);
  if (start < 0 || !/^#/.test(lines[start])) return [];
  const items: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,3}\s/.test(line)) break;
    if (/^\d+\.\s/.test(line)) items.push(line);
    else if (items.length > 0 && /^\s+\S/.test(line)) items[items.length - 1] += ` ${line.trim()}`;
  }
  const steps: LessonStep[] = [];
  for (const item of items) {
    const head = /^(\d+)\.\s+\*\*(.+?)\*\*/.exec(item);
    if (head === null) continue;
    const named = item.slice(item.search(/\bChecks?\b/) + 1);
    const checks = /\bChecks?\b/.test(item)
      // Markdown's escapes are a backslash before punctuation; `\r\n` in a name is literal.
      ? [...named.matchAll(/\*\*(.+?)\*\*/g)].map((m) => m[1].replace(/\\([!-/:-@[-`{-~])/g, "$1"))
      : [];
    steps.push({ number: Number(head[1]), title: head[2], checks });
  }
  return steps;
}
