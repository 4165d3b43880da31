/**
 * Tabular output the way lxc 5.0 renders it (olekukonko/tablewriter for table and compact,
 * encoding/csv, encoding/json, yaml.v2), so scripts written against `lxc image list` work here.
 */
import { stringify } from "yaml";
import { UsageError } from "../core/errors.ts";

export const FORMATS = ["table", "compact", "csv", "json", "yaml"] as const;
export type Format = typeof FORMATS[number];

/** Checks a --format value; commander's choices() normally catches it first. */
export function checkFormat(format: string, allowed: readonly string[] = FORMATS): Format {
  if (!allowed.includes(format)) {
    throw new UsageError(`Invalid format "${format}": use one of ${allowed.join(", ")}`);
  }
  return format as Format;
}

/** Rows sorted as lxc sorts them: by the first differing cell, empty cells last. */
export function sortRows(rows: string[][]): string[][] {
  return [...rows].sort((a, b) => {
    let x = 0;
    while (x < a.length - 1 && a[x] === b[x]) x++;
    if (a[x] === b[x]) return 0;
    if (a[x] === "") return 1;
    if (b[x] === "") return -1;
    return a[x] < b[x] ? -1 : 1;
  });
}

const width = (s: string) => [...s].length;
const padRight = (s: string, w: number) => s + " ".repeat(Math.max(0, w - width(s)));
/** tablewriter centres headers with the odd space on the right. */
function center(s: string, w: number): string {
  const gap = Math.max(0, w - width(s));
  const left = Math.floor(gap / 2);
  return " ".repeat(left) + s + " ".repeat(gap - left);
}

interface Grid {
  widths: number[];
  header: string[][];
  rows: string[][][];
}

/** Splits cells into lines (a cell may hold several, e.g. the ALIASES column). */
function grid(headers: string[], rows: string[][]): Grid {
  const split = (row: string[]) => headers.map((_, i) => (row[i] ?? "").split("\n"));
  const header = split(headers);
  const cells = rows.map(split);
  const widths = headers.map((_, i) =>
    Math.max(...[header, ...cells].flatMap((r) => r[i].map(width)))
  );
  return { widths, header, rows: cells };
}

function lines(cells: string[][], fmt: (cell: string, i: number) => string): string[][] {
  const height = Math.max(...cells.map((c) => c.length));
  return Array.from({ length: height }, (_, l) => cells.map((c, i) => fmt(c[l] ?? "", i)));
}

/** The boxed table: +---+ rules, centred header, a rule after every row. */
export function renderTable(headers: string[], rows: string[][]): string {
  const g = grid(headers, rows);
  const rule = "+" + g.widths.map((w) => "-".repeat(w + 2)).join("+") + "+\n";
  const line = (cells: string[]) => "|" + cells.map((c) => ` ${c} `).join("|") + "|\n";
  let out = rule;
  for (const l of lines(g.header, (c, i) => center(c, g.widths[i]))) out += line(l);
  out += rule;
  for (const row of g.rows) {
    for (const l of lines(row, (c, i) => padRight(c, g.widths[i]))) out += line(l);
    out += rule;
  }
  return out;
}

/** lxc's compact format: no borders or rules, two spaces around every cell. */
export function renderCompact(headers: string[], rows: string[][]): string {
  const g = grid(headers, rows);
  const line = (cells: string[]) => " " + cells.map((c) => ` ${c} `).join("") + " \n";
  let out = "";
  for (const l of lines(g.header, (c, i) => center(c, g.widths[i]))) out += line(l);
  for (const row of g.rows) {
    for (const l of lines(row, (c, i) => padRight(c, g.widths[i]))) out += line(l);
  }
  return out;
}

/** Rows only, no header, quoted as Go's encoding/csv quotes. */
export function renderCsv(rows: string[][]): string {
  const field = (f: string) =>
    f !== "" && (/[",\r\n]/.test(f) || /^\s/u.test(f)) ? `"${f.replaceAll('"', '""')}"` : f;
  return rows.map((r) => r.map(field).join(",") + "\n").join("");
}

/** One line of JSON, escaped like Go's encoding/json (HTML characters as \u escapes). */
export function renderJson(raw: unknown): string {
  return JSON.stringify(raw).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  ) + "\n";
}

/** YAML in yaml.v2's layout: lists not indented under their key, no line folding. */
export function renderYaml(raw: unknown): string {
  return stringify(raw, { indentSeq: false, lineWidth: 0 });
}

/** Renders rows (already sorted) or the raw objects in the chosen format. */
export function render(format: Format, headers: string[], rows: string[][], raw: unknown): string {
  switch (format) {
    case "table":
      return renderTable(headers, rows);
    case "compact":
      return renderCompact(headers, rows);
    case "csv":
      return renderCsv(rows);
    case "json":
      return renderJson(raw);
    case "yaml":
      return renderYaml(raw);
  }
}
