import assert from "node:assert/strict";
import { renderChart } from "./chart.ts";
import { readmeSection, replaceBenchRegion, type Report } from "./report.ts";

function report(): Report {
  return {
    date: new Date("2026-11-22T08:00:00Z"),
    quick: false,
    machine: {
      cores: 2,
      cpuModel: "test",
      memoryGiB: undefined,
      loadAverage: undefined,
      platform: "linux",
      deno: "2.9.6",
      redisServer: "7.0.15",
      redisBenchmark: "7.0.15",
    },
    servers: [
      { id: "redis", title: "redis-server" },
      { id: "lab1", title: "lab1 <one>" },
      { id: "lab2", title: "lab2" },
    ],
    rows: [
      {
        label: "SET, -c 50",
        tool: "redis-benchmark",
        cells: new Map([
          ["redis", { kind: "measured", rps: 100_000 }],
          ["lab1", { kind: "skipped", reason: "one client at a time" }],
          ["lab2", { kind: "measured", rps: 105_000 }],
        ]),
      },
      {
        label: "redis only",
        tool: "redis-benchmark",
        cells: new Map([["redis", { kind: "measured", rps: 1 }]]),
      },
    ],
    notes: [],
    commands: [],
  };
}

Deno.test("renderChart() draws one bar per measured lab with its ratio to redis-server", () => {
  const svg = renderChart(report());
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /1\.05×<\/text>/);
  assert.equal(svg.match(/<rect x="250"/g)?.length, 1, "one bar: lab1 was skipped");
  assert.doesNotMatch(svg, /redis only/, "a row without any lab result is left out");
  assert.match(svg, /lab1 &lt;one&gt;/, "titles are escaped");
  assert.ok(svg.trimEnd().endsWith("</svg>"));
});

Deno.test("replaceBenchRegion() swaps only what stands between the markers", () => {
  const text = "intro\n<!-- bench:start -->\nold table\n<!-- bench:end -->\nafter\n";
  assert.equal(
    replaceBenchRegion(text, "new table"),
    "intro\n<!-- bench:start -->\n\nnew table\n\n<!-- bench:end -->\nafter\n",
  );
  assert.throws(() => replaceBenchRegion("no markers", "x"), SyntaxError);
});

Deno.test("readmeSection() holds the table and points at the chart", () => {
  const section = readmeSection(report());
  assert.match(section, /\| SET, -c 50 +\| +100,000 \|/);
  assert.match(section, /105,000 \(1\.05×\)/);
  assert.match(section, /!\[.*\]\(docs\/bench\.svg\)/);
});
