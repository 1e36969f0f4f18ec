/**
 * The comparison as a picture: for every workload, one bar per lab showing its throughput as a
 * fraction of `redis-server`'s in the same run, with a line at 1.0×.
 *
 * It is plain SVG written by hand (no library): a few rectangles, lines and labels, so the chart
 * renders on GitHub, in any browser, and diffs readably when `deno task bench` regenerates it.
 *
 * @module
 */

import { type Cell, REDIS_ID, type Report } from "./report.ts";

/** Colours for the lab columns, in order; redis-server is the 1.0× line itself. */
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#9c755f"];

const WIDTH = 900;
const LEFT = 250;
const RIGHT = 70;
const TOP = 70;
const BAR = 11;
const GAP = 3;
const ROW_GAP = 12;

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function ratio(cell: Cell | undefined, redis: Cell | undefined): number | undefined {
  if (cell?.kind !== "measured" || redis?.kind !== "measured" || redis.rps <= 0) return undefined;
  return cell.rps / redis.rps;
}

/**
 * Draws each lab's throughput as a ratio to `redis-server`, one group of bars per workload.
 *
 * @param report A comparison that includes `redis-server`.
 * @returns An SVG document.
 */
export function renderChart(report: Report): string {
  const labs = report.servers.filter((s) => s.id !== REDIS_ID);
  const rows = report.rows.filter((row) =>
    labs.some((lab) => ratio(row.cells.get(lab.id), row.cells.get(REDIS_ID)) !== undefined)
  );
  const groupHeight = labs.length * (BAR + GAP) + ROW_GAP;
  const height = TOP + rows.length * groupHeight + 40;
  const max = Math.max(
    1.2,
    ...rows.flatMap((row) =>
      labs.map((lab) => ratio(row.cells.get(lab.id), row.cells.get(REDIS_ID)) ?? 0)
    ),
  );
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (value: number) => LEFT + (value / max) * plotWidth;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
      `viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>Throughput of each lab as a ratio to redis-server</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="26" font-size="15" font-weight="bold">Requests per second, as a ratio to ` +
      `redis-server in the same run (${report.date.toISOString().slice(0, 10)})</text>`,
  );
  labs.forEach((lab, i) => {
    const lx = 20 + i * 160;
    out.push(
      `<rect x="${lx}" y="40" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${lx + 18}" y="50">${escapeXml(lab.title)}</text>`,
    );
  });
  for (const tick of [0, 0.5, 1, 1.5, 2, 2.5, 3].filter((t) => t <= max)) {
    const tx = x(tick).toFixed(1);
    out.push(
      `<line x1="${tx}" y1="${TOP - 6}" x2="${tx}" y2="${height - 34}" stroke="${
        tick === 1 ? "#333" : "#ddd"
      }" stroke-width="${tick === 1 ? 1.5 : 1}"${tick === 1 ? ' stroke-dasharray="5 3"' : ""}/>`,
      `<text x="${tx}" y="${height - 18}" text-anchor="middle" fill="#555">${tick}×</text>`,
    );
  }
  rows.forEach((row, r) => {
    const top = TOP + r * groupHeight;
    out.push(
      `<text x="${LEFT - 8}" y="${top + (labs.length * (BAR + GAP)) / 2 + 4}" ` +
        `text-anchor="end">${escapeXml(row.label)}</text>`,
    );
    labs.forEach((lab, i) => {
      const value = ratio(row.cells.get(lab.id), row.cells.get(REDIS_ID));
      if (value === undefined) return;
      const y = top + i * (BAR + GAP);
      out.push(
        `<rect x="${LEFT}" y="${y}" width="${(x(value) - LEFT).toFixed(1)}" height="${BAR}" ` +
          `fill="${PALETTE[i % PALETTE.length]}"/>`,
        `<text x="${(x(value) + 4).toFixed(1)}" y="${y + BAR - 1}" font-size="10" ` +
          `fill="#333">${value.toFixed(2)}×</text>`,
      );
    });
  });
  out.push(`</svg>`, "");
  return out.join("\n");
}
