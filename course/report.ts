/**
 * A grading run written down for machines: JSON for scripts, JUnit XML for CI dashboards, and
 * Gradescope's `results.json`, from one {@link GradeReport}.
 *
 * Points come from the suites (a check that holds thousands of keys is worth more than one that
 * sends a PING) and add up per lesson step, so a report can say "step 3: 4/6" as well as which
 * check failed. A check that did not run because the server was gone scores nothing, like a
 * failure, but says why.
 *
 * @module
 */

import type { CheckResult } from "./run_checks.ts";

/** Everything one grading run found. */
export interface GradeReport {
  /** The lab, such as `lab2`. */
  lab: string;
  /** The lab's title. */
  title: string;
  /** What was graded: an address, or the command that started it. */
  target: string;
  /** The seed the keys and values came from (`--seed` reproduces them). */
  seed: number;
  /** One result per check, those not run included. */
  results: CheckResult[];
  /** Why the checks stopped: the server exited or stopped answering. */
  serverLost?: string;
  /** Why no check could run: the server never started, or the grader failed. */
  couldNotRun?: string;
}

/** The report formats `--format` takes. */
export const FORMATS = ["text", "json", "junit", "gradescope"] as const;

/** One of {@link FORMATS}. */
export type Format = typeof FORMATS[number];

/** The file extension a format's report is saved with in batch mode. */
export const EXTENSIONS: Record<Format, string> = {
  text: "txt",
  json: "json",
  junit: "xml",
  gradescope: "json",
};

/**
 * What a run's exit code says: 0 every check passed, 1 a check failed (or did not run because
 * the server died), 3 nothing could be checked: the server never started, or the grader failed.
 * (2 stays the usage error every course tool uses.)
 *
 * @param report The run.
 * @returns 0, 1 or 3.
 */
export function exitCode(report: GradeReport): 0 | 1 | 3 {
  if (report.couldNotRun !== undefined) return 3;
  return report.results.every((r) => r.ok) ? 0 : 1;
}

/** The words for {@link exitCode}, for tables and documents. */
export function verdict(report: GradeReport): "passed" | "failed" | "could not run" {
  const code = exitCode(report);
  return code === 0 ? "passed" : code === 1 ? "failed" : "could not run";
}

/**
 * Points scored and possible.
 *
 * @param results The checks.
 * @returns `score` and `max`.
 */
export function score(results: readonly CheckResult[]): { score: number; max: number } {
  let total = 0;
  let max = 0;
  for (const r of results) {
    max += r.check.points;
    if (r.ok) total += r.check.points;
  }
  return { score: total, max };
}

/** The name a lesson step goes by in reports: `Step 2. Replies`, or the extra checks. */
function stepTitle(result: CheckResult): string {
  return result.lesson
    ? `Step ${result.lesson.number}. ${result.lesson.title}`
    : "More checks (edge cases and earlier labs)";
}

/** A check's failure in plain text: the error, then the last bytes exchanged. */
function failureText(result: CheckResult, serverLost?: string): string {
  if (result.status === "not run") return `Not run: ${serverLost ?? "an earlier check failed"}`;
  if (result.ok) return "";
  return [result.error ?? "", ...(result.conversation?.length ? ["last exchange:"] : [])]
    .concat(result.conversation ?? []).join("\n");
}

/**
 * The report as JSON: the run, a total, points per step, and every check.
 *
 * @param report The run.
 * @returns Indented JSON.
 */
export function toJson(report: GradeReport): string {
  const steps = new Map<string, { step: number | null; title: string; results: CheckResult[] }>();
  for (const r of report.results) {
    const title = stepTitle(r);
    const entry = steps.get(title) ?? { step: r.lesson?.number ?? null, title, results: [] };
    entry.results.push(r);
    steps.set(title, entry);
  }
  const { score: total, max } = score(report.results);
  return JSON.stringify(
    {
      lab: report.lab,
      title: report.title,
      target: report.target,
      seed: report.seed,
      verdict: verdict(report),
      exitCode: exitCode(report),
      score: total,
      maxScore: max,
      serverLost: report.serverLost ?? null,
      couldNotRun: report.couldNotRun ?? null,
      steps: [...steps.values()].map(({ step, title, results }) => ({
        step,
        title,
        ...renameScore(score(results)),
      })),
      checks: report.results.map((r) => ({
        name: r.check.name,
        step: r.lesson?.number ?? null,
        status: r.status,
        points: r.check.points,
        score: r.ok ? r.check.points : 0,
        ms: Math.round(r.ms),
        error: r.error ?? null,
        conversation: r.conversation ?? [],
      })),
    },
    null,
    2,
  );
}

function renameScore(s: { score: number; max: number }): { score: number; maxScore: number } {
  return { score: s.score, maxScore: s.max };
}

/**
 * The report as Gradescope's `results.json`: a total, and one test per check with its points.
 * Gradescope shows `output` to the student, so a failure carries the bytes that were exchanged.
 *
 * @param report The run.
 * @returns Indented JSON.
 */
export function toGradescope(report: GradeReport): string {
  const { score: total, max } = score(report.results);
  const notes = [`${report.title}. Seed ${report.seed} (rerun with --seed ${report.seed}).`];
  if (report.couldNotRun) notes.push(report.couldNotRun);
  if (report.serverLost) notes.push(report.serverLost);
  return JSON.stringify(
    {
      score: total,
      max_score: max,
      output: notes.join("\n\n"),
      tests: report.results.map((r) => ({
        name: `${stepTitle(r)}: ${r.check.name}`,
        score: r.ok ? r.check.points : 0,
        max_score: r.check.points,
        status: r.ok ? "passed" : "failed",
        output: failureText(r, report.serverLost),
      })),
    },
    null,
    2,
  );
}

/**
 * Escapes text for XML, both in content and in attributes, and drops what XML 1.0 cannot carry
 * at all (control characters other than tab and newlines): a server's reply may hold any byte.
 *
 * @param text Any text.
 * @returns The escaped text.
 */
export function escapeXml(text: string): string {
  return text
    // deno-lint-ignore no-control-regex -- these are exactly the characters XML forbids
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g, "\ufffd")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/**
 * The report as JUnit XML: one `<testsuite>` for the lab, one `<testcase>` per check with its
 * lesson step as the class name, `<failure>` for a failed check and `<skipped>` for one that did
 * not run. A server that never started is one `<testcase>` in `<error>`.
 *
 * @param report The run.
 * @returns The XML document.
 */
export function toJunit(report: GradeReport): string {
  const cases: string[] = [];
  for (const r of report.results) {
    const head = `    <testcase classname="${escapeXml(`${report.lab}.${stepTitle(r)}`)}" ` +
      `name="${escapeXml(r.check.name)}" time="${(r.ms / 1000).toFixed(3)}"`;
    if (r.status === "passed") cases.push(`${head}/>`);
    else if (r.status === "not run") {
      cases.push(
        `${head}>\n      <skipped message="${escapeXml(failureText(r, report.serverLost))}"/>\n` +
          `    </testcase>`,
      );
    } else {
      cases.push(
        `${head}>\n      <failure message="${escapeXml(r.error?.split("\n")[0] ?? "failed")}">` +
          `${escapeXml(failureText(r))}</failure>\n    </testcase>`,
      );
    }
  }
  if (report.couldNotRun !== undefined) {
    cases.push(
      `    <testcase classname="${escapeXml(report.lab)}" name="the server starts" time="0">\n` +
        `      <error message="${escapeXml(report.couldNotRun.split("\n")[0])}">` +
        `${escapeXml(report.couldNotRun)}</error>\n    </testcase>`,
    );
  }
  const count = (status: string) => report.results.filter((r) => r.status === status).length;
  const seconds = (report.results.reduce((sum, r) => sum + r.ms, 0) / 1000).toFixed(3);
  const attributes = `tests="${cases.length}" failures="${count("failed")}" ` +
    `errors="${report.couldNotRun === undefined ? 0 : 1}" skipped="${count("not run")}" ` +
    `time="${seconds}"`;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${escapeXml(report.title)}" ${attributes}>`,
    `  <testsuite name="${escapeXml(report.lab)}" ${attributes}>`,
    `    <properties>`,
    `      <property name="seed" value="${report.seed}"/>`,
    `      <property name="target" value="${escapeXml(report.target)}"/>`,
    `    </properties>`,
    ...cases,
    `  </testsuite>`,
    `</testsuites>`,
    "",
  ].join("\n");
}

/**
 * The closing lines of a text report: the count, the points, the verdict.
 *
 * @param report The run.
 * @returns Lines of text.
 */
export function textSummary(report: GradeReport): string {
  if (report.couldNotRun !== undefined) {
    return `\n${report.lab}: could not run: ${report.couldNotRun}`;
  }
  const count = (status: string) => report.results.filter((r) => r.status === status).length;
  const { score: total, max } = score(report.results);
  const notRun = count("not run");
  return `\n${report.lab}: ${report.results.length} checks, ${count("passed")} passed, ` +
    `${count("failed")} failed${notRun ? `, ${notRun} not run` : ""}\n` +
    `score: ${total}/${max} points (seed ${report.seed})`;
}

/**
 * Renders a report in a machine-readable format.
 *
 * @param report The run.
 * @param format `json`, `junit` or `gradescope` (`text` is printed as the run goes).
 * @returns The document.
 */
export function render(report: GradeReport, format: Exclude<Format, "text">): string {
  if (format === "json") return toJson(report) + "\n";
  if (format === "junit") return toJunit(report);
  return toGradescope(report) + "\n";
}
