/**
 * Running a benchmark tool as a child process, bounded in time.
 *
 * @module
 */

/** What a finished program left behind. */
export interface ProgramOutcome {
  /** Its exit code. */
  code: number;
  /** Everything it printed to standard output. */
  stdout: string;
  /** Everything it printed to standard error. */
  stderr: string;
  /** Whether it was killed for running too long. */
  timedOut: boolean;
}

/**
 * Runs a program to completion, and kills it if it outlives `timeoutMs`, so that a server that
 * stops answering cannot hang the whole comparison.
 *
 * @param program Its name or path.
 * @param args Its arguments.
 * @param timeoutMs The limit.
 * @returns Its exit code and output.
 */
export async function runProgram(
  program: string,
  args: string[],
  timeoutMs: number,
): Promise<ProgramOutcome> {
  const child = new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // exited in the meantime
    }
  }, timeoutMs);
  try {
    const { code, stdout, stderr } = await child.output();
    const text = new TextDecoder();
    return { code, stdout: text.decode(stdout), stderr: text.decode(stderr), timedOut };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Says why a program failed, in one line: the timeout, or its most telling line of output.
 *
 * @param outcome What {@link runProgram} returned.
 * @param timeoutMs The limit it ran under.
 * @returns Such as `exited with code 1: Error from server: ERR unknown command 'INCR'`.
 */
export function failureReason(outcome: ProgramOutcome, timeoutMs: number): string {
  if (outcome.timedOut) return `timed out after ${timeoutMs / 1000} s`;
  const lines = `${outcome.stderr}\n${outcome.stdout}`.split("\n").map((l) => l.trim());
  const telling = lines.find((l) => /error|fail/i.test(l)) ?? lines.find((l) => l !== "");
  return `exited with code ${outcome.code}${telling ? `: ${telling}` : ""}`;
}
