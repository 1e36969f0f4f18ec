/**
 * A non-loopback IPv4 address of this machine, for tests of protected mode: a connection to it
 * from this machine arrives from that address, so the server sees a client that is not on the
 * loopback interface without a second machine.
 *
 * @module
 */

/**
 * Finds this machine's first IPv4 address outside `127.0.0.0/8`.
 *
 * `Deno.networkInterfaces()` needs `--allow-sys`, which the test tasks do not grant; a child
 * `deno eval` with only that permission asks instead (the tasks do grant `--allow-run`).
 *
 * @returns The address, or `null` if the machine has none (a container with only `lo`) or it
 *   cannot be asked.
 */
export async function nonLoopbackIPv4(): Promise<string | null> {
  const script = "console.log(JSON.stringify(Deno.networkInterfaces()" +
    '.filter((i) => i.family === "IPv4").map((i) => i.address)))';
  try {
    const { success, stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--allow-sys=networkInterfaces", script],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).output();
    if (!success) return null;
    const addresses: unknown = JSON.parse(new TextDecoder().decode(stdout));
    if (!Array.isArray(addresses)) return null;
    const found = addresses.find((a): a is string =>
      typeof a === "string" && !a.startsWith("127.")
    );
    return found ?? null;
  } catch {
    return null;
  }
}

/** The reason a test that needs {@link nonLoopbackIPv4} is skipped. */
export const NO_NON_LOOPBACK =
  "skipped: this machine has no IPv4 address outside 127.0.0.0/8 to connect from";
