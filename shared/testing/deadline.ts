/**
 * A bound on how long a test waits for something, so a broken server fails the test with a
 * message instead of hanging the whole run.
 *
 * @module
 */

/**
 * Waits for `promise`, failing after `ms` with what was awaited.
 *
 * @param promise What the test waits for.
 * @param what Finishes the sentence "Timed out waiting for ...".
 * @param ms How long to wait.
 * @returns What the promise resolved to.
 * @example
 * ```ts
 * await within(once(redis, "end"), "ioredis to see its connection end", 10_000);
 * ```
 */
export async function within<T>(promise: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
