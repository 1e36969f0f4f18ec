/**
 * What a failed check says: {@link CheckFailure} carries the conversation that led to it, and
 * {@link describeError} words what a check threw for a student. Its own module, so that the
 * adapters in `labs.ts` and the runner in `run_checks.ts` both use it without importing each other.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import { showValue } from "../shared/testing/raw_client.ts";

/**
 * A failed check, with the conversation that led to it. Suites throw plain assertions; the
 * adapters in `labs.ts` wrap them in this, adding the bytes each connection exchanged.
 */
export class CheckFailure extends Error {
  /** The error's name, as stack traces and logs print it. */
  override name = "CheckFailure";
  /**
   * Wraps what a check threw.
   *
   * @param cause What the check threw.
   * @param conversation The last bytes sent and received, as report lines.
   */
  constructor(override readonly cause: unknown, readonly conversation: string[]) {
    super(describeError(cause));
  }
}

/** How a comparison that `node:assert` made reads in a report; others keep their own message. */
const ASSERTION_VERBS: Record<string, string> = {
  strictEqual: "to be",
  deepStrictEqual: "to be",
  notStrictEqual: "not to be",
  notDeepStrictEqual: "not to be",
  match: "to match",
  doesNotMatch: "not to match",
};

/**
 * Says what a check threw, in words that never leak JavaScript's internals. A `node:assert`
 * comparison says only "Expected values to be strictly deep-equal:" above a diff made for
 * programmers; here both values are shown as the replies they stand for.
 *
 * @param error What was thrown.
 * @returns The message.
 */
export function describeError(error: unknown): string {
  if (error instanceof CheckFailure) return error.message;
  if (error instanceof AssertionError) {
    // node:assert appends a generic diff of the same two values; the message already shows them.
    if (!error.generatedMessage) return error.message.split("\n+ actual - expected")[0].trimEnd();
    const verb = ASSERTION_VERBS[error.operator];
    if (verb === undefined) return error.message.trim();
    return `Expected ${showValue(error.actual)} ${verb} ${showValue(error.expected)}`;
  }
  if (error instanceof TypeError) {
    // The check could not use the reply it got (a string method called on an error reply, say):
    // JavaScript's words for that ("x.match is not a function") mean nothing to a student; the
    // reply itself, in the last exchange below, does. The suites read replies through
    // replyText()/replyArray(), so this is a suite's own slip, said plainly.
    return "The reply is not of the type this check reads; the last exchange shows it";
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
