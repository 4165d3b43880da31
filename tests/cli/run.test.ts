import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { VERSION } from "../../src/version.ts";
import { cli, record, sandbox } from "./harness.ts";

test("VERSION matches package.json and --version prints it", async () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  assert.equal(VERSION, pkg.version);
  const r = await cli(["--version"]);
  assert.deepEqual(r, { code: 0, stdout: `${VERSION}\n`, stderr: "" });
});

test("run() returns 0 and prints help on stdout for --help", async () => {
  const r = await cli(["list", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: imago list\|ls \[options\] \[filters\.\.\.\]/);
  assert.equal(r.stderr, "");
});

test("run() turns usage errors into one line with a hint and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /^Error: Unknown command 'frobnicate'.*: see "imago --help"\n$/],
    [["list", "--bogus"], /^Error: Unknown option '--bogus': see "imago list --help"\n$/],
    [["info"], /^Error: Missing required argument 'image': see "imago info --help"\n$/],
    [["info", "a", "b"], /^Error: Too many arguments for 'info'.*: see "imago info --help"\n$/],
    [["list", "-f", "xml"], /^Error: Option '-f, --format <format>' argument 'xml' is invalid/],
    [["alias", "create", "x"], /: see "imago alias create --help"\n$/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.split("\n").length, 2, r.stderr);
    assert.equal(r.stdout, "");
  }
});

test("run() with no command shows help on stderr and exits 2", async () => {
  const r = await cli([]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^Usage: imago /);
});

test("run() accepts global options before or after the command", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("abcd"));
    const after = await cli(["list", "-c", "f", "-f", "csv", "--store", sb.store]);
    assert.equal(after.stdout, "abcd00000000\n");
    const env = await cli(["list", "-c", "f", "-f", "csv"], { env: { IMAGO_DIR: sb.store } });
    assert.equal(env.stdout, "abcd00000000\n");
  } finally {
    sb.cleanup();
  }
});

test("run() reports an unusable store folder as one line, exit 1", async () => {
  const r = await cli(["--store", "/dev/null/store", "list"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: Cannot open the store "\/dev\/null\/store": [^\n]+\n$/);
});

test("run() reports unexpected errors as internal, with a stack only under IMAGO_DEBUG", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("abcd"));
    const failing = () =>
      new ReadableStream<Uint8Array>({
        pull(c) {
          c.error(new Error("stdin exploded"));
        },
      });
    const r = await sb.cli(["edit", "abcd"], { stdin: failing() });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "Error: Internal error: stdin exploded\n");
    const d = await sb.cli(["edit", "abcd"], { stdin: failing(), env: { IMAGO_DEBUG: "1" } });
    assert.match(d.stderr, /^Error: Internal error: stdin exploded\nError: stdin exploded\n\s+at /);
  } finally {
    sb.cleanup();
  }
});
