/** The benchmark's output: one plain-text table per section, and the same data as JSON. */
import type { Row, SectionResult } from "./lib.ts";

function num(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  const digits = unit === "MB" ? 1 : unit === "s" ? 2 : 2;
  return `${v.toFixed(digits)} ${unit}`;
}

function cells(r: Row): string[] {
  return [
    r.label,
    num(r.imago, r.unit),
    num(r.peer, r.unit),
    r.ratio === undefined ? "-" : `${r.ratio.toFixed(2)}x`,
    r.target?.text ?? "-",
    r.verdict,
  ];
}

/** Renders a section as an aligned table with its notes under it. */
export function formatSection(name: string, res: SectionResult): string {
  const head = ["measurement", "imago", `peer: ${res.peer}`, "imago/peer", "target", "verdict"];
  const body = res.rows.map(cells);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [
    `== ${name}: ${res.title}`,
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...body.map(line),
    ...res.notes.map((n) => `   note: ${n}`),
    "",
  ].join("\n");
}

/** One line per row for a closing note, e.g. "import unified xz: 1.20 s vs 4.00 s (0.30x); …". */
export function summaryLine(name: string, r: Row): string {
  const ratio = r.ratio === undefined ? "" : ` (${r.ratio.toFixed(2)}x)`;
  const vs = r.peer === undefined ? "" : ` vs ${num(r.peer, r.unit)}`;
  return `${name} ${r.label}: ${num(r.imago, r.unit)}${vs}${ratio}; target ${
    r.target?.text ?? "-"
  }: ${r.verdict}`;
}
