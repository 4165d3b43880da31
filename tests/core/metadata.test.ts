import { test } from "node:test";
import assert from "node:assert/strict";
import { MetadataError } from "../../src/core/errors.ts";
import { parseMetadata } from "../../src/core/metadata.ts";

const GOOD = `architecture: amd64
creation_date: 1700000000
expiry_date: 1800000000
unknown_key: [ignored]
properties:
  description: Alpine 3.19 amd64 (20240101_13:00)
  os: Alpine
  release: "3.19"
  version: 1.10
  serial: 20240101
  stable: yes
  empty:
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when:
      - create
      - start
      - rename
    create_only: true
    template: hosts.tpl
    properties:
      default: 127.0.0.1
`;

/** The MetadataError `text` raises, checked to be one. */
function failure(text: string): MetadataError {
  try {
    parseMetadata(text);
  } catch (err) {
    assert.ok(err instanceof MetadataError, String(err));
    return err;
  }
  assert.fail("parseMetadata() accepted the document");
}

test("parseMetadata() reads a full document and normalises the architecture", () => {
  const m = parseMetadata(GOOD);
  assert.equal(m.architecture, "x86_64");
  assert.equal(m.creation_date, 1700000000);
  assert.equal(m.expiry_date, 1800000000);
  assert.deepEqual(m.properties, {
    description: "Alpine 3.19 amd64 (20240101_13:00)",
    os: "Alpine",
    release: "3.19",
    version: "1.10",
    serial: "20240101",
    stable: "yes",
    empty: "",
  });
  assert.deepEqual(m.templates, {
    "/etc/hostname": {
      when: ["create", "copy"],
      create_only: false,
      template: "hostname.tpl",
      properties: {},
    },
    "/etc/hosts": {
      when: ["create", "start", "rename"],
      create_only: true,
      template: "hosts.tpl",
      properties: { default: "127.0.0.1" },
    },
  });
});

test("parseMetadata() accepts bytes and defaults the optional fields", () => {
  const m = parseMetadata(new TextEncoder().encode("architecture: arm64\ncreation_date: 1\n"));
  assert.deepEqual(m, {
    architecture: "aarch64",
    creation_date: 1,
    expiry_date: 0,
    properties: {},
    templates: {},
  });
});

test("parseMetadata() reports YAML syntax errors with line and column", () => {
  const err = failure("architecture: x86_64\ncreation_date: 1\nproperties: {a: 1\nb: 2\n");
  assert.equal(err.file, "metadata.yaml");
  assert.ok(err.line! >= 3, `line ${err.line}`);
  assert.ok(err.column! >= 1);
  assert.match(err.message, /^metadata\.yaml line \d+, column \d+: invalid YAML: /);
});

test("parseMetadata() names the given file", () => {
  assert.throws(
    () => parseMetadata("[1]", "image.yaml"),
    (err) =>
      err instanceof MetadataError && err.file === "image.yaml" && err.line === 1 &&
      err.message.startsWith("image.yaml line 1, column 1: "),
  );
});

test("parseMetadata() rejects duplicate keys at the second one", () => {
  const err = failure("architecture: x86_64\ncreation_date: 1\narchitecture: i686\n");
  assert.equal(err.line, 3);
  assert.match(err.message, /unique/);
});

test("parseMetadata() rejects a top level that is not a mapping", () => {
  assert.match(failure("- a\n- b\n").message, /top level must be a mapping/);
  assert.match(failure("").message, /top level must be a mapping/);
  assert.match(failure("just text").message, /top level must be a mapping/);
});

test("parseMetadata() rejects invalid UTF-8", () => {
  assert.throws(() => parseMetadata(new Uint8Array([0x61, 0xff, 0x3a])), /not valid UTF-8/);
});

test("parseMetadata() requires an architecture", () => {
  const missing = failure("creation_date: 1\n");
  assert.equal(missing.message, "metadata.yaml: architecture is required");
  const empty = failure("creation_date: 1\narchitecture: ''\n");
  assert.equal(empty.line, 2);
  assert.match(empty.message, /architecture is required/);
  const list = failure("creation_date: 1\narchitecture: [x86_64]\n");
  assert.match(list.message, /line 2, column 15: architecture must be a single value/);
});

test("parseMetadata() rejects an unknown architecture at its value", () => {
  const err = failure("creation_date: 1\n\narchitecture:   foo\n");
  assert.equal(err.line, 3);
  assert.equal(err.column, 17);
  assert.match(err.message, /architecture "foo" is not supported: use one of i686, x86_64, /);
});

test("parseMetadata() takes a number-like architecture as its text", () => {
  assert.equal(parseMetadata("architecture: 386\ncreation_date: 5\n").architecture, "i686");
});

test("parseMetadata() requires a non-zero creation_date", () => {
  assert.match(failure("architecture: x86_64\n").message, /creation_date is required/);
  const zero = failure("architecture: x86_64\ncreation_date: 0\n");
  assert.equal(zero.line, 2);
  assert.match(zero.message, /creation_date is required and must not be 0/);
});

test("parseMetadata() rejects dates that are not whole unix seconds", () => {
  for (const bad of ["1.5", "'1700000000'", "-3", "2024-01-01", "[1]", "99999999999999999999"]) {
    const err = failure(`architecture: x86_64\ncreation_date: ${bad}\n`);
    assert.equal(err.line, 2, bad);
    assert.match(err.message, /creation_date must be a whole number of seconds/, bad);
  }
  const exp = failure("architecture: x86_64\ncreation_date: 1\nexpiry_date: soon\n");
  assert.equal(exp.line, 3);
  assert.match(exp.message, /expiry_date must be a whole number/);
});

test("parseMetadata() rejects properties that are not a string map", () => {
  const base = "architecture: x86_64\ncreation_date: 1\n";
  const nested = failure(`${base}properties:\n  os: ubuntu\n  extra:\n    a: b\n`);
  assert.equal(nested.line, 6);
  assert.match(nested.message, /properties\.extra must be a single value/);
  const list = failure(`${base}properties: [a, b]\n`);
  assert.equal(list.line, 3);
  assert.match(list.message, /properties must be a mapping/);
});

test("parseMetadata() requires each template to name its file", () => {
  const base = "architecture: x86_64\ncreation_date: 1\ntemplates:\n";
  const err = failure(`${base}  /etc/hostname:\n    when: [create]\n`);
  assert.equal(err.line, 4);
  assert.match(err.message, /templates\."\/etc\/hostname"\.template is required/);
  const scalar = failure(`${base}  /etc/hostname: hostname.tpl\n`);
  assert.match(scalar.message, /line 4, column 18: .* must be a mapping/);
});

test("parseMetadata() rejects unknown or malformed template triggers", () => {
  const base = "architecture: x86_64\ncreation_date: 1\ntemplates:\n  /etc/hostname:\n";
  const bad = failure(`${base}    template: h.tpl\n    when:\n      - create\n      - boot\n`);
  assert.equal(bad.line, 8);
  assert.match(bad.message, /when has "boot": use create, copy, start, rename/);
  const scalar = failure(`${base}    template: h.tpl\n    when: start\n`);
  assert.equal(scalar.line, 6);
  assert.match(scalar.message, /when must be a list/);
  const only = failure(`${base}    template: h.tpl\n    create_only: maybe\n`);
  assert.match(only.message, /create_only must be true or false/);
});

test("parseMetadata() rejects template file names that leave templates/", () => {
  const base = "architecture: x86_64\ncreation_date: 1\ntemplates:\n  /etc/hostname:\n";
  for (const name of ["../../etc/shadow", "sub/x.tpl", "/abs.tpl", ".."]) {
    const err = failure(`${base}    template: "${name}"\n`);
    assert.equal(err.line, 5, name);
    assert.match(err.message, /must be a file name under templates\//, name);
  }
});

test("parseMetadata() rejects relative template targets", () => {
  const err = failure(
    "architecture: x86_64\ncreation_date: 1\ntemplates:\n  etc/hostname:\n    template: h\n",
  );
  assert.equal(err.line, 4);
  assert.match(err.message, /template target "etc\/hostname" must be an absolute path/);
});
