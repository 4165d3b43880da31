/**
 * `imago import --check`: "full" (the default) refuses what only a whole read finds; "metadata"
 * reads as far as LXD does, so those images go in and are refused later, when unpacked.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type PackEntry, packTar } from "../core/tar_fixtures.ts";
import { sandbox } from "./harness.ts";

const YAML = "architecture: x86_64\ncreation_date: 1700000000\n";
const file = (name: string, body: string | Uint8Array): PackEntry => ({ name, body, mode: 0o644 });
const dir = (name: string): PackEntry => ({ name, type: "directory", mode: 0o755 });
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Writes `entries` as a tar, xz-compressed unless `plain`; returns its path and bytes. */
async function image(where: string, name: string, entries: PackEntry[], plain = false) {
  const tar = await packTar(entries);
  const path = join(where, name);
  writeFileSync(path, tar);
  if (plain) return { path, bytes: tar };
  execFileSync("xz", ["-z", "-f", path]);
  const bytes = new Uint8Array(execFileSync("cat", [`${path}.xz`], { maxBuffer: 1 << 26 }));
  return { path: `${path}.xz`, bytes };
}

test("import --check metadata takes an image whose rootfs holds a ../ entry; full refuses it", async () => {
  const sb = sandbox();
  try {
    const img = await image(sb.dir, "evil.tar", [
      file("metadata.yaml", YAML),
      dir("rootfs/"),
      file("rootfs/filler", randomBytes(300 << 10)),
      file("../evil", "x"),
    ]);
    const full = await sb.cli(["import", img.path]);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /unsafe tar entry "\.\.\/evil"/);
    const meta = await sb.cli(["import", img.path, "--check", "metadata", "--format", "json"]);
    assert.equal(meta.code, 0, meta.stderr);
    const rec = JSON.parse(meta.stdout);
    assert.equal(rec.fingerprint, sha(img.bytes));
    assert.equal(rec.type, "container");
    // The rootfs is checked when it is unpacked instead.
    const unpack = await sb.cli(["unpack", rec.fingerprint, join(sb.dir, "out")]);
    assert.equal(unpack.code, 1);
    assert.match(unpack.stderr, /\.\.\/evil/);
  } finally {
    sb.cleanup();
  }
});

test("import --check metadata takes an xz stream cut after metadata.yaml; full refuses it", async () => {
  const sb = sandbox();
  try {
    const img = await image(sb.dir, "cut.tar", [
      file("metadata.yaml", YAML),
      dir("rootfs/"),
      file("rootfs/filler", randomBytes(2 << 20)),
    ]);
    const cut = join(sb.dir, "cut.tar.xz.part");
    writeFileSync(cut, img.bytes.subarray(0, img.bytes.byteLength >> 1));
    const full = await sb.cli(["import", cut]);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /corrupt or truncated/);
    const meta = await sb.cli(["import", cut, "--check", "metadata"]);
    assert.equal(meta.code, 0, meta.stderr);
    assert.deepEqual(readdirSync(join(sb.store, "tmp")), []);
  } finally {
    sb.cleanup();
  }
});

test("import --check metadata still refuses a missing or invalid metadata.yaml", async () => {
  const sb = sandbox();
  try {
    const none = await image(sb.dir, "none.tar", [dir("rootfs/"), file("rootfs/a", "a")]);
    const r1 = await sb.cli(["import", none.path, "--check", "metadata"]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /metadata\.yaml is missing/);
    const bad = await image(sb.dir, "bad.tar", [file("metadata.yaml", "creation_date: 1\n")], true);
    const r2 = await sb.cli(["import", bad.path, "--check", "metadata"]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /architecture/);
    const before = await sb.cli(["import", "x", "--check", "everything"]);
    assert.equal(before.code, 2);
    const list = await sb.cli(["list", "--format", "json"]);
    assert.deepEqual(JSON.parse(list.stdout), []);
  } finally {
    sb.cleanup();
  }
});

test("import --check metadata does not read a split image's rootfs tar", async () => {
  const sb = sandbox();
  try {
    const meta = await image(sb.dir, "meta.tar", [file("metadata.yaml", YAML)]);
    const rootfs = await image(sb.dir, "rootfs.tar", [dir("etc/"), file("../evil", "x")]);
    const full = await sb.cli(["import", meta.path, rootfs.path]);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /unsafe tar entry/);
    const quick = await sb.cli(["import", meta.path, rootfs.path, "--check", "metadata"]);
    assert.equal(quick.code, 0, quick.stderr);
    const want = createHash("sha256").update(meta.bytes).update(rootfs.bytes).digest("hex");
    assert.match(quick.stdout, new RegExp(want));
  } finally {
    sb.cleanup();
  }
});
