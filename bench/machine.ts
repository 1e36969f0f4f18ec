/**
 * What a benchmark ran on, so that a table of numbers says where it came from.
 *
 * Absolute requests per second mean little without the machine: the same server does twice as
 * much on a faster CPU, and on a 2-core machine the load generator and the server compete for the
 * same cores. So every report starts with the core count, the CPU model, the memory, the load
 * before the run (another busy process skews everything), and the versions of what was measured.
 *
 * @module
 */

/** The machine and the software versions behind a report. */
export interface MachineInfo {
  /** Logical CPUs available to this process. */
  cores: number;
  /** From `/proc/cpuinfo`, or "unknown" where there is none. */
  cpuModel: string;
  /** Total memory in GiB, from `/proc/meminfo`, or `undefined` where there is none. */
  memoryGiB: number | undefined;
  /** The 1-minute load average before the run, from `/proc/loadavg`. */
  loadAverage: number | undefined;
  /** Operating system and architecture, such as `linux x86_64`. */
  platform: string;
  /** Such as `2.9.6`. */
  deno: string;
  /** Such as `7.0.15`, or `undefined` if `redis-server` is not installed. */
  redisServer: string | undefined;
  /** Such as `7.0.15`, or `undefined` if `redis-benchmark` is not installed. */
  redisBenchmark: string | undefined;
}

/**
 * Reads a `/proc` file. Deno 2 counts `/proc` among the special files that only `--allow-all` may
 * read directly; the bench task grants `--allow-run` instead, so the fallback asks `cat`.
 */
async function readProc(path: string): Promise<string | undefined> {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    // not permitted (or no such file): try a child process
  }
  try {
    const { success, stdout } = await new Deno.Command("cat", {
      args: [path],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `program --version` and returns the first match of `pattern`, if the program exists. */
async function versionOf(program: string, pattern: RegExp): Promise<string | undefined> {
  try {
    const { stdout } = await new Deno.Command(program, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(stdout).match(pattern)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Collects the machine description. Needs `--allow-run` (for `/proc` and the Redis tools'
 * versions); what cannot be read is reported as unknown.
 *
 * @returns What a report's header shows.
 */
export async function describeMachine(): Promise<MachineInfo> {
  const cpuinfo = await readProc("/proc/cpuinfo") ?? "";
  const meminfo = await readProc("/proc/meminfo") ?? "";
  const loadavg = await readProc("/proc/loadavg");
  const memKiB = Number(meminfo.match(/^MemTotal:\s+(\d+) kB/m)?.[1]);
  return {
    cores: navigator.hardwareConcurrency,
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? "unknown",
    memoryGiB: Number.isFinite(memKiB) ? memKiB / 1024 / 1024 : undefined,
    loadAverage: loadavg === undefined ? undefined : Number(loadavg.split(" ")[0]),
    platform: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    redisServer: await versionOf("redis-server", /\bv=(\S+)/),
    redisBenchmark: await versionOf("redis-benchmark", /redis-benchmark (\S+)/),
  };
}

/** CPU time of the whole machine since boot, in clock ticks, from `/proc/stat`. */
interface MachineTicks {
  /** Time this machine's processes ran. */
  busy: number;
  /** Time the hypervisor gave this virtual machine's CPUs to other machines. */
  steal: number;
  /** Everything, idle included. */
  total: number;
}

async function machineTicks(): Promise<MachineTicks | undefined> {
  const line = (await readProc("/proc/stat"))?.split("\n")[0];
  if (!line?.startsWith("cpu ")) return undefined;
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
  // counted in user, so only the first eight add up to the total.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/)
    .slice(1, 9).map((n) => Number(n) || 0);
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

/**
 * CPU time used by this process and by every child it has waited for, in clock ticks, from
 * `/proc/PID/stat` (utime, stime, cutime, cstime). A server, a `redis-benchmark` or a load
 * generator started by the comparison is counted here once it has exited and been waited for.
 */
async function ownTicks(): Promise<number | undefined> {
  const stat = await readProc(`/proc/${Deno.pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name in parentheses may hold spaces; the numbered fields start after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  // Fields 14 to 17 of the man page; the slice starts at field 3.
  return fields[11] + fields[12] + fields[13] + fields[14];
}

/** Shares of all cores' time, from 0 to 1, that went to someone else during a measurement. */
export interface CpuCompetition {
  /** Other processes on this machine. */
  others: number;
  /** Other virtual machines on the same host ("steal" time), on a virtual machine. */
  steal: number;
}

/**
 * Watches how much of the machine's CPU went to someone else while a benchmark ran.
 *
 * A benchmark on a shared machine measures the server *and* whatever else was running. Between
 * {@link CpuWatch.start} and {@link CpuWatch.competition}, the busy time of the whole machine
 * minus the CPU time of this process and its finished children is what other processes took; on
 * a virtual machine, "steal" time is what the hypervisor gave to other machines. Close to 0 %: the
 * numbers are the servers'. Well above: someone was competing for the cores.
 *
 * @example
 * ```ts
 * const watch = await CpuWatch.start();
 * await measureSomething(); // its child processes must have exited by now
 * await watch.competition(); // { others: 0.02, steal: 0 }: others used 2 % of all cores
 * ```
 */
export class CpuWatch {
  #machine: MachineTicks | undefined;
  #own: number | undefined;

  private constructor(machine: MachineTicks | undefined, own: number | undefined) {
    this.#machine = machine;
    this.#own = own;
  }

  /**
   * Takes the starting reading.
   *
   * @returns A running watch.
   */
  static async start(): Promise<CpuWatch> {
    return new CpuWatch(await machineTicks(), await ownTicks());
  }

  /**
   * The shares of all cores' time since {@link start} that went to someone else.
   *
   * @returns Each from 0 to 1, or `undefined` where `/proc` cannot be read.
   */
  async competition(): Promise<CpuCompetition | undefined> {
    const [machine, own] = [await machineTicks(), await ownTicks()];
    if (!machine || !this.#machine || own === undefined || this.#own === undefined) {
      return undefined;
    }
    const total = machine.total - this.#machine.total;
    if (total <= 0) return undefined;
    const share = (ticks: number) => Math.min(1, Math.max(0, ticks / total));
    return {
      others: share(machine.busy - this.#machine.busy - (own - this.#own)),
      steal: share(machine.steal - this.#machine.steal),
    };
  }
}
