import { test } from "node:test";
import assert from "node:assert/strict";
import { formatImagePut, parseImagePut, putOf } from "../../src/core/image_put.ts";
import { MetadataError } from "../../src/core/errors.ts";
import { record } from "../cli/harness.ts";

const rec = record("abc123", { properties: { os: "alpine", description: "Alpine" } });

test("formatImagePut() lays the fields out like `lxc image show`", () => {
  assert.equal(
    formatImagePut(putOf(rec)),
    "auto_update: false\nproperties:\n  description: Alpine\n  os: alpine\npublic: false\n" +
      "expires_at: 1970-01-01T00:00:00Z\nprofiles:\n- default\n",
  );
});

test("parseImagePut() reads back what formatImagePut() wrote", () => {
  const put = { ...putOf(rec), public: true, properties: { v: "1.10", t: "yes", n: "null" } };
  assert.deepEqual(parseImagePut(formatImagePut(put)), put);
});

test("parseImagePut() keeps property values as written and reads YAML 1.1 booleans", () => {
  const put = parseImagePut("public: yes\nauto_update: off\nproperties:\n  v: 1.10\n  e:\n");
  assert.equal(put.public, true);
  assert.equal(put.auto_update, false);
  assert.deepEqual(put.properties, { v: "1.10", e: "" });
});

test("parseImagePut() gives missing keys LXD's PUT defaults", () => {
  assert.deepEqual(parseImagePut("public: true\n"), {
    auto_update: false,
    properties: {},
    public: true,
    expires_at: "",
    profiles: ["default"],
  });
  assert.deepEqual(parseImagePut("profiles: []\n").profiles, []);
  assert.deepEqual(parseImagePut("profiles: null\n").profiles, ["default"]);
});

test("parseImagePut() accepts a JSON body", () => {
  const put = parseImagePut('{"public": true, "properties": {"os": "x"}, "profiles": ["a"]}');
  assert.equal(put.public, true);
  assert.deepEqual(put.properties, { os: "x" });
  assert.deepEqual(put.profiles, ["a"]);
});

test("parseImagePut() reports YAML syntax errors with the line number", () => {
  assert.throws(
    () => parseImagePut("public: true\nproperties:\n  os: a: b\n", { file: "stdin" }),
    (e: unknown) =>
      e instanceof MetadataError && e.file === "stdin" && e.line === 3 &&
      /^stdin line 3, column \d+: /.test(e.message),
  );
});

test("parseImagePut() refuses unknown keys, naming the line", () => {
  assert.throws(
    () => parseImagePut("public: true\ncolour: red\n"),
    (e: unknown) =>
      e instanceof MetadataError && e.line === 2 && /unknown key "colour"/.test(e.message),
  );
});

test("parseImagePut() refuses a changed read-only field but allows an unchanged one", () => {
  assert.throws(
    () => parseImagePut("architecture: i686\n", { current: rec }),
    (e: unknown) =>
      e instanceof MetadataError && e.line === 1 &&
      /"architecture" cannot be changed/.test(e.message),
  );
  const same = `fingerprint: ${rec.fingerprint}\nsize: ${rec.size}\ncached: false\n` +
    `uploaded_at: 2026-01-02T15:04:05.000000000Z\naliases: []\npublic: true\n`;
  assert.equal(parseImagePut(same, { current: rec }).public, true);
  assert.throws(() => parseImagePut("size: 1\n", { current: rec }), /"size" cannot be changed/);
});

test("parseImagePut() refuses wrongly typed values", () => {
  assert.throws(() => parseImagePut("public: maybe\n"), /"public" must be true or false/);
  assert.throws(() => parseImagePut("properties: [a]\n"), /"properties" must be a map/);
  assert.throws(() => parseImagePut("properties:\n  a: {b: c}\n"), /property "a" must be a string/);
  assert.throws(() => parseImagePut("profiles: abc\n"), /"profiles" must be a list/);
  assert.throws(() => parseImagePut("expires_at: tomorrow\n"), /not an RFC 3339 time/);
  assert.throws(() => parseImagePut("- a\n"), /expected a map/);
  assert.throws(() => parseImagePut("# only a comment\n"), /the document is empty/);
  assert.throws(() => parseImagePut("public: true\npublic: false\n"), MetadataError);
});
