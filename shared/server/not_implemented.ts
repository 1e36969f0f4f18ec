/**
 * What an exercise workspace puts where the reference code was taken out.
 *
 * `deno task exercise lab1` copies a lab into `exercises/` and replaces each marked piece of the
 * reference with a call to one of these. The workspace's server still starts and answers every
 * command; a command whose handler is still a TODO answers with an error that says which lesson
 * step to do next, instead of crashing or hanging the client:
 *
 * ```
 * GET name   ->   -ERR not implemented yet: lesson step 4 (return the value, or null)
 * ```
 *
 * @module
 */

import { ErrorReply, type Reply } from "../resp/reply.ts";
import type { Session } from "./session.ts";

/**
 * The error a TODO answers with.
 *
 * @param step The lesson step that implements it.
 * @param hint What to do, in a few words.
 * @returns `-ERR not implemented yet: lesson step N (hint)`.
 */
export function notImplemented(step: number, hint: string): ErrorReply {
  return new ErrorReply(`ERR not implemented yet: lesson step ${step} (${hint})`);
}

/**
 * A command handler that is still a TODO.
 *
 * @param step The lesson step that implements it.
 * @param hint What to do, in a few words.
 * @returns A handler that always answers {@link notImplemented}.
 */
export function todoHandler(
  step: number,
  hint: string,
): (session: Session, args: string[]) => Reply {
  return () => notImplemented(step, hint);
}

/** Thrown by a TODO that is not a command handler, such as a piece of the accept loop. */
export class NotImplementedError extends Error {
  /**
   * Names the step that replaces this TODO.
   *
   * @param step The lesson step that implements it.
   * @param hint What to do, in a few words.
   */
  constructor(step: number, hint: string) {
    super(`Not implemented yet: lesson step ${step} (${hint})`);
    this.name = "NotImplementedError";
  }
}
