import { test } from "node:test";
import assert from "node:assert/strict";
import { matchFilter, parseFilter } from "../../src/serve/filter.ts";

const image = {
  architecture: "x86_64",
  type: "container",
  public: true,
  size: 1234,
  properties: { os: "Debian", release: "bookworm", description: "Debian 12 amd64", "a.b": "x" },
  aliases: [{ name: "debian/12" }],
};
const m = (f: string) => matchFilter(image, parseFilter(f));

test("parseFilter() gives no clauses for an empty filter, which matches everything", () => {
  assert.deepEqual(parseFilter(""), []);
  assert.deepEqual(parseFilter("   "), []);
  assert.ok(m(""));
});

test("matchFilter() compares strings as anchored case-insensitive regular expressions", () => {
  assert.ok(m("architecture eq x86_64"));
  assert.ok(m("properties.os eq debian"));
  assert.ok(!m("properties.os eq deb"));
  assert.ok(m("properties.os eq deb.*"));
  assert.ok(m("properties.os eq ^deb"));
  assert.ok(m("properties.os ne ubuntu"));
  assert.ok(m(`properties.description eq "Debian 12 amd64"`));
  assert.ok(m(`properties.description eq "debian 12 .*"`));
  assert.ok(m("properties.a.b eq x"));
  assert.ok(!m("properties.missing eq x"));
  assert.ok(!m("aliases eq debian/12"));
});

test("matchFilter() applies not, and, or from left to right", () => {
  assert.ok(m("not type eq virtual-machine"));
  assert.ok(!m("type eq container and architecture eq aarch64"));
  assert.ok(m("architecture eq aarch64 or type eq container"));
  assert.ok(!m("architecture eq aarch64 or type eq container and properties.os eq ubuntu"));
  assert.ok(m("public eq true and size eq 1234"));
});

test("parseFilter() rejects malformed filters and costly expressions", () => {
  for (
    const bad of [
      "architecture",
      "architecture eq",
      "architecture is x",
      "type eq a xor type eq b",
      "type eq a and",
      `properties.description eq "unterminated`,
      "properties.os eq (a+)+$",
      "properties.os eq a*b*c*d*e*",
      "properties.os eq (",
      `properties.os eq ${"a".repeat(300)}`,
    ]
  ) {
    assert.throws(() => parseFilter(bad), /^InvalidInputError: Invalid filter: /, bad);
  }
});
