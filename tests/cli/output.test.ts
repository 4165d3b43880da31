import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkFormat,
  renderCompact,
  renderCsv,
  renderJson,
  renderTable,
  renderYaml,
  sortRows,
} from "../../src/cli/output.ts";
import { formatMB, infoDate, listDate, timeIsSet } from "../../src/cli/cells.ts";
import { UsageError } from "../../src/core/errors.ts";

test("renderTable() draws lxc's boxed table with centred headers and a rule after each row", () => {
  const out = renderTable(["ALIAS", "FINGERPRINT"], [["a", "0123456789ab"], [
    "longer (1 more)",
    "",
  ]]);
  assert.equal(
    out,
    [
      "+-----------------+--------------+",
      "|      ALIAS      | FINGERPRINT  |",
      "+-----------------+--------------+",
      "| a               | 0123456789ab |",
      "+-----------------+--------------+",
      "| longer (1 more) |              |",
      "+-----------------+--------------+",
      "",
    ].join("\n"),
  );
});

test("renderTable() with no rows prints only the header box", () => {
  assert.equal(renderTable(["A", "BB"], []), "+---+----+\n| A | BB |\n+---+----+\n");
});

test("renderTable() spreads a multi-line cell over several lines of one row", () => {
  const out = renderTable(["ALIASES", "T"], [["a\nbb", "x"]]);
  assert.equal(
    out,
    "+---------+---+\n| ALIASES | T |\n+---------+---+\n| a       | x |\n| bb      |   |\n" +
      "+---------+---+\n",
  );
});

test("renderCompact() has no borders and two spaces around every cell", () => {
  assert.equal(
    renderCompact(["NAME", "T"], [["a", "xyz"]]),
    "  NAME   T   \n  a     xyz  \n",
  );
});

test("renderCsv() quotes like Go's encoding/csv and prints no header", () => {
  assert.equal(
    renderCsv([["a", "b,c", 'say "hi"', " lead", "two\nlines", ""]]),
    'a,"b,c","say ""hi"""," lead","two\nlines",\n',
  );
});

test("renderJson() prints one line and escapes HTML characters as Go does", () => {
  assert.equal(renderJson([{ d: "<a&b>" }]), '[{"d":"\\u003ca\\u0026b\\u003e"}]\n');
  assert.deepEqual(JSON.parse(renderJson([{ d: "<a&b>" }])), [{ d: "<a&b>" }]);
});

test("renderYaml() writes lists unindented under their key, like yaml.v2", () => {
  assert.equal(
    renderYaml([{ a: "", profiles: ["default"], when: "1970-01-01T00:00:00Z" }]),
    '- a: ""\n  profiles:\n  - default\n  when: 1970-01-01T00:00:00Z\n',
  );
});

test("sortRows() orders by the first differing cell with empty cells last", () => {
  const rows = [["", "b"], ["z", "a"], ["a", "c"], ["a", "b"], ["", "a"]];
  assert.deepEqual(sortRows(rows), [["a", "b"], ["a", "c"], ["z", "a"], ["", "a"], ["", "b"]]);
});

test("checkFormat() refuses an unknown format with a UsageError", () => {
  assert.equal(checkFormat("csv"), "csv");
  assert.throws(() => checkFormat("xml"), UsageError);
  assert.throws(() => checkFormat("csv", ["table", "json"]), /use one of table, json/);
});

test("formatMB() prints size/1024² with two decimals, ties to even like Go", () => {
  assert.equal(formatMB(0), "0.00MB");
  assert.equal(formatMB(464), "0.00MB");
  assert.equal(formatMB(1048576), "1.00MB");
  assert.equal(formatMB(1290000), "1.23MB");
  assert.equal(formatMB(131072), "0.12MB"); // exactly 0.125: Go rounds to even
  assert.equal(formatMB(393216), "0.38MB"); // exactly 0.375
  assert.equal(formatMB(5 * 1024 ** 3), "5120.00MB");
});

test("listDate() and infoDate() use lxc's Go layouts in UTC", () => {
  assert.equal(listDate("2026-01-02T15:04:05Z"), "Jan 2, 2026 at 3:04pm (UTC)");
  assert.equal(listDate("2026-11-24T00:09:32.847136778Z"), "Nov 24, 2026 at 12:09am (UTC)");
  assert.equal(listDate("2026-06-30T12:00:00+02:00"), "Jun 30, 2026 at 10:00am (UTC)");
  assert.equal(infoDate("2023-11-14T22:13:20Z"), "2023/11/14 22:13 UTC");
});

test("timeIsSet() treats the epoch and year 1 as unset", () => {
  assert.equal(timeIsSet("1970-01-01T00:00:00Z"), false);
  assert.equal(timeIsSet("0001-01-01T00:00:00Z"), false);
  assert.equal(timeIsSet("2023-11-14T22:13:20Z"), true);
});
