/**
 * The rules of the layout, checked on the real module graph (`deno info --json`, type-only
 * imports included):
 *
 * - no import cycles: each module can be read after the ones it imports;
 * - `shared/` never imports a lab: later labs import earlier ones and `shared/`, never the reverse;
 * - a lab's product code never imports test or benchmark support (`shared/testing/`, `bench/`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

const ROOT = fromFileUrl(new URL("..", import.meta.url));

/** Every entry point a user or a tool runs. */
const ENTRIES = [
  ...["01-single-client", "02-threaded", "03-secure", "04-ttl-persistence"].flatMap((lab) => [
    `labs/${lab}/server.ts`,
    `labs/${lab}/client.ts`,
  ]),
  "labs/02-threaded/proxy.ts",
  "labs/02-threaded/race.ts",
  "labs/04-ttl-persistence/check_aof.ts",
  "course/exercise.ts",
  "course/check.ts",
  "course/grade.ts",
  "bench/compare.ts",
  "bench/crash_soak.ts",
];

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** The project's own modules reachable from the entries, each with what it imports. */
async function moduleGraph(entries: readonly string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const entry of entries) {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(success, `deno info ${entry} failed`);
    const { modules } = JSON.parse(new TextDecoder().decode(stdout)) as { modules: InfoModule[] };
    for (const module of modules) {
      if (!module.specifier.startsWith("file:")) continue;
      const imports = (module.dependencies ?? [])
        .flatMap((d) => [d.code?.specifier, d.type?.specifier])
        .filter((s): s is string => s?.startsWith("file:") === true)
        .map(local);
      graph.set(local(module.specifier), [...new Set(imports)]);
    }
  }
  return graph;
}

function local(specifier: string): string {
  return relative(ROOT, fromFileUrl(specifier));
}

/**
 * Every cycle found by a depth-first walk: a path that comes back to a module still being walked.
 *
 * @param graph Module to its imports.
 * @returns Each cycle as `a -> b -> a`.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, "walking" | "done">();
  const path: string[] = [];
  const cycles: string[] = [];
  const visit = (module: string): void => {
    state.set(module, "walking");
    path.push(module);
    for (const next of graph.get(module) ?? []) {
      if (state.get(next) === "walking") {
        cycles.push([...path.slice(path.indexOf(next)), next].join(" -> "));
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    path.pop();
    state.set(module, "done");
  };
  for (const module of graph.keys()) if (!state.has(module)) visit(module);
  return cycles;
}

Deno.test("the cycle finder finds a cycle, and none where there is none", () => {
  assert.deepEqual(findCycles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]]])), [
    "a -> b -> c -> a",
  ]);
  assert.deepEqual(findCycles(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]])), []);
});

Deno.test("the module graph has no cycles, shared/ imports no lab, and no lab imports test or bench code", async () => {
  const graph = await moduleGraph(ENTRIES);
  assert.ok(graph.size > 100, `only ${graph.size} modules found`);
  assert.deepEqual(findCycles(graph), []);
  const wrong: string[] = [];
  for (const [module, imports] of graph) {
    const product = !module.endsWith("_test.ts") && !module.startsWith("shared/testing/") &&
      !module.startsWith("bench/") && !module.startsWith("course/") &&
      !/(^|\/)(suite|test_support|testing|test_servers|channel_testing|fault_injection)\.ts$/
        .test(module) &&
      !module.includes("_suite.ts");
    for (const imported of imports) {
      if (module.startsWith("shared/") && imported.startsWith("labs/")) {
        wrong.push(`${module} imports the lab module ${imported}`);
      }
      if (
        product && (imported.startsWith("bench/") || imported.startsWith("shared/testing/"))
      ) {
        wrong.push(`${module} is product code and imports ${imported}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

/**
 * Every module but the tests: the labs, the course, the shared code, the test kit and the
 * benchmarks. One is left out: the ioredis helper, whose functions hand out the npm package's own
 * client class, which no module of ours can document.
 */
async function documentedModules(): Promise<string[]> {
  const { stdout } = await new Deno.Command("git", { args: ["ls-files", "*.ts"], cwd: ROOT })
    .output();
  return new TextDecoder().decode(stdout).split("\n").filter((path) =>
    path.endsWith(".ts") && !path.endsWith("_test.ts") && path !== "shared/testing/ioredis.ts"
  );
}

Deno.test("deno doc --lint finds nothing to fix in any module but the tests", async () => {
  const modules = await documentedModules();
  assert.ok(modules.length > 100, `found only ${modules.length} modules`);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...modules],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  assert.equal(code, 0, text.decode(stdout) + text.decode(stderr));
});
