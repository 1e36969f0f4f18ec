/**
 * What lab 4's tests need to start its server: permissions, and a scratch data directory.
 *
 * @module
 */

/** Lab 4's server reads and writes its data directory; `deno task lab4` grants the same. */
export const LAB4_DENO_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

/** The server's entry point, from the repository root. */
export const LAB4_ENTRY = "labs/04-ttl-persistence/server.ts";

/**
 * A fresh temporary directory, removed when the test module unloads: where a server started by a
 * test keeps its snapshot and log, never the repository's `./data`.
 *
 * @returns Its path.
 */
export function scratchDir(): string {
  const dir = Deno.makeTempDirSync({ prefix: "cachelab-lab4-" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already gone.
    }
  });
  return dir;
}

/**
 * Arguments that start lab 4 with persistence off, in a scratch directory.
 *
 * @param more Further flags.
 * @returns The arguments.
 */
export function lab4Args(...more: string[]): string[] {
  return ["--dir", scratchDir(), "--save", "", "--appendonly", "no", ...more];
}
