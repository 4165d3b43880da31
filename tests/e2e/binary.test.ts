/**
 * Smoke test of the single binary (dist/imago, or $IMAGO_BIN): it must start with an empty
 * environment, so no Deno or Node on PATH, from any folder. Without a binary the tests skip,
 * except under CI, where a missing binary is a failure.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = resolve(process.env.IMAGO_BIN || `${ROOT}dist/imago`);
const IN_CI = !!process.env.CI && process.env.CI !== "false";
const skip = !existsSync(BIN) && !IN_CI
  ? `no binary at ${BIN}: build it with "deno task compile"`
  : false;

/** Runs the binary with no environment at all, from the root folder. */
function run(...args: string[]) {
  assert.ok(existsSync(BIN), `binary is missing at ${BIN}`);
  // `env -i` rather than `env: {}`: Deno's spawnSync still passes its own environment on.
  // The kill timeout only stops a hung binary; nothing asserts on time.
  const r = spawnSync("/usr/bin/env", ["-i", BIN, ...args], {
    cwd: "/",
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return r;
}

test("imago --help prints usage with an empty environment", { skip }, () => {
  const r = run("--help");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: imago /m);
  // Nothing on stderr: in particular no experimental SEA warning.
  assert.equal(r.stderr, "");
});

test("imago --version prints the package.json version", { skip }, () => {
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
  const r = run("--version");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`(^|\\s)${version.replaceAll(".", "\\.")}\\s*$`));
});
