/**
 * Driving `redis-benchmark`, the C load generator that ships with Redis.
 *
 * It is the course's primary yardstick: it costs the machine very little CPU per request, so on a
 * 2-core machine most of the CPU goes to the server being measured. With `-q --csv` it prints one
 * line per test:
 *
 * ```
 * "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
 * "SET","93457.94","0.287","0.096","0.279","0.407","0.551","1.871"
 * "GET","96153.85","0.279","0.088","0.271","0.399","0.535","1.223"
 * ```
 *
 * @module
 */

/** One test's line of `redis-benchmark --csv` output. */
export interface BenchmarkLine {
  /** Such as `SET` or `GET`. */
  test: string;
  /** Requests per second. */
  rps: number;
  /** Median latency in milliseconds. */
  p50Ms: number;
  /** 99th percentile latency in milliseconds. */
  p99Ms: number;
}

/** How to load a server with `redis-benchmark`. */
export interface BenchmarkSpec {
  /** Tests to run, as `-t` takes them, such as `["set", "get"]`. */
  tests: readonly string[];
  /** Requests per test (`-n`). */
  requests: number;
  /** Concurrent connections (`-c`). */
  clients: number;
  /** Commands per batch (`-P`); 1 is one request at a time. */
  pipeline: number;
  /** Random keys from `key:000000000000` up (`-r`); keeps the data set realistic. */
  keyspace: number;
  /** Bytes per SET value (`-d`). */
  valueSize: number;
}

/**
 * Builds the `redis-benchmark` arguments for a spec.
 *
 * @param host The server's host.
 * @param port The server's port.
 * @param spec What to run.
 * @returns The arguments, without the program name.
 * @example
 * ```ts
 * redisBenchmarkArgs("127.0.0.1", 6379, { tests: ["set"], requests: 1000, clients: 1, pipeline: 1, keyspace: 100, valueSize: 3 });
 * // ["-h", "127.0.0.1", "-p", "6379", "-t", "set", "-n", "1000", "-c", "1", "-r", "100", "-d", "3", "-q", "--csv"]
 * ```
 */
export function redisBenchmarkArgs(host: string, port: number, spec: BenchmarkSpec): string[] {
  return [
    "-h",
    host,
    "-p",
    String(port),
    "-t",
    spec.tests.join(","),
    "-n",
    String(spec.requests),
    "-c",
    String(spec.clients),
    ...(spec.pipeline > 1 ? ["-P", String(spec.pipeline)] : []),
    "-r",
    String(spec.keyspace),
    "-d",
    String(spec.valueSize),
    "-q",
    "--csv",
  ];
}

/** Splits one CSV line whose fields are all double-quoted and hold no quotes or commas. */
function fields(line: string): string[] {
  return line.split(",").map((f) => f.trim().replace(/^"(.*)"$/, "$1"));
}

/**
 * Parses `redis-benchmark -q --csv` output. Lines that are not test results (the header, an
 * "Error from server" message) are ignored, and columns are found by their header names, so a
 * version that adds columns still parses.
 *
 * @param text Everything the program printed on stdout.
 * @returns One entry per test, in the order printed.
 * @throws {SyntaxError} When there is no CSV header, or a result has no number for `rps`.
 */
export function parseBenchmarkCsv(text: string): BenchmarkLine[] {
  const lines = text.split(/\r?\n/).filter((l) => l.startsWith('"'));
  const header = lines.findIndex((l) => l.startsWith('"test"'));
  if (header < 0) {
    throw new SyntaxError(
      `Cannot parse redis-benchmark output: no CSV header in ${JSON.stringify(text)}`,
    );
  }
  const names = fields(lines[header]);
  const column = (name: string) => names.indexOf(name);
  const [rps, p50, p99] = [column("rps"), column("p50_latency_ms"), column("p99_latency_ms")];
  const results: BenchmarkLine[] = [];
  for (const line of lines.slice(header + 1)) {
    const f = fields(line);
    const value = Number(f[rps]);
    if (rps < 0 || !Number.isFinite(value)) {
      throw new SyntaxError(`Cannot parse redis-benchmark line ${JSON.stringify(line)}: no rps`);
    }
    results.push({
      test: f[0],
      rps: value,
      p50Ms: p50 < 0 ? NaN : Number(f[p50]),
      p99Ms: p99 < 0 ? NaN : Number(f[p99]),
    });
  }
  return results;
}
