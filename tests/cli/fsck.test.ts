import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeUnified } from "../helpers.ts";
import { sandbox } from "./harness.ts";

test("fsck reports a clean store and exits 0", async () => {
  const sb = sandbox();
  try {
    await sb.cli(["import", makeUnified(sb.dir, "u")]);
    const r = await sb.cli(["fsck", "--verify"]);
    assert.deepEqual(r, { code: 0, stdout: "No problems found\n", stderr: "" });
  } finally {
    sb.cleanup();
  }
});

test("fsck lists problems and exits 1 until --repair removes them", async () => {
  const sb = sandbox();
  try {
    await sb.cli(["list"]); // creates the store
    writeFileSync(join(sb.store, "images", "stray"), "x");
    writeFileSync(join(sb.store, "images", "stray.rootfs"), "y");
    const r = await sb.cli(["fsck"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Files that belong to no image:\n {4}- stray\n/);
    assert.match(r.stdout, /\n {4}- stray\.rootfs\n/);
    assert.match(r.stderr, /^Error: Store check found 2 problems: run "imago fsck --repair"/);
    const fixed = await sb.cli(["fsck", "--repair"]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /Repaired 2 problems\n$/);
    assert.deepEqual(readdirSync(join(sb.store, "images")), []);
    const json = JSON.parse((await sb.cli(["fsck", "-f", "json"])).stdout);
    assert.deepEqual(json, {
      orphans: [],
      missing: [],
      mismatched: [],
      staleStaging: [],
      repaired: false,
    });
  } finally {
    sb.cleanup();
  }
});

test("fsck reports leftovers of an interrupted import and --repair removes them", async () => {
  const sb = sandbox();
  try {
    await sb.cli(["list"]); // creates the store
    // No live process owns a staging folder without a pid in its name.
    mkdirSync(join(sb.store, "tmp", "import-leftover"));
    const r = await sb.cli(["fsck"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /Leftovers of interrupted imports:\n {4}- import-leftover\n/);
    const fixed = await sb.cli(["fsck", "--repair"]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual(readdirSync(join(sb.store, "tmp")), []);
  } finally {
    sb.cleanup();
  }
});
