/**
 * unpackImage() writes what an image holds: every kind of entry of every image shape and
 * compression (and squashfs), its templates applied, into a new or an empty folder.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ConflictError, NotFoundError } from "../../src/core/errors.ts";
import { unpackImage } from "../../src/core/unpack.ts";
import { entry, tarOf } from "./tar_raw.ts";
import {
  assertNoStage,
  built,
  compressors,
  hasAttr,
  hasSquashfs,
  isRoot,
  makeImageDir,
  META,
  RUN,
} from "./unpack_fixtures.ts";

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), "imago-unpack-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

function assertRootfsKept(out: string): void {
  const etc = join(out, "etc");
  const secret = lstatSync(join(etc, "secret"));
  assert.equal(secret.mode & 0o7777, 0o4750);
  assert.equal(secret.mtimeMs, 1600000000 * 1000);
  if (isRoot) assert.deepEqual([secret.uid, secret.gid], [1234, 5678]);
  assert.equal(lstatSync(join(etc, "secret.hard")).ino, secret.ino, "hard link kept");
  assert.equal(readlinkSync(join(etc, "secret.link")), "secret");
  assert.equal(readlinkSync(join(etc, "absolute.link")), "/etc/passwd");
  assert.equal(lstatSync(join(out, "tmp")).mode & 0o7777, 0o1777);
  assert.ok(lstatSync(join(out, "run", "fifo")).isFIFO());
  if (isRoot) {
    const dev = lstatSync(join(out, "dev", "null2"));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, lstatSync("/dev/null").rdev);
  }
  if (hasAttr) {
    const attr = (name: string) =>
      execFileSync("getfattr", ["--only-values", "-n", name, "secret"], { cwd: etc }).toString();
    assert.equal(attr("user.imago"), "kept");
    if (isRoot) assert.equal(attr("trusted.imago"), "t");
  }
  assert.equal(lstatSync(out).mode & 0o7777, 0o755);
}

function assertTemplatesApplied(out: string): void {
  assert.equal(readFileSync(join(out, "etc", "hostname"), "utf8"), "c1\n");
  assert.equal(readFileSync(join(out, "etc", "motd"), "utf8"), "kept\n", "create_only");
  assert.equal(readFileSync(join(out, "var", "lib", "seed", "user-data"), "utf8"), "hello\n");
}

for (const split of [false, true]) {
  for (const compression of ["xz", "gzip", "none"]) {
    const shape = split ? "split" : "unified";
    test(`unpackImage() of an imago-built ${shape} ${compression} image keeps the rootfs`, async () => {
      const source = await built(work, split, compression);
      const parent = mkdtempSync(join(work, "out-"));
      const out = join(parent, "c1");
      const res = await unpackImage(source, out, { compressors, templates: RUN });
      assertRootfsKept(out);
      assertTemplatesApplied(out);
      assert.deepEqual(res.templates, {
        written: ["/etc/hostname", "/var/lib/seed/user-data"],
        skipped: ["/etc/motd"],
      });
      assert.equal(res.bundle.metadata.properties.os, "test");
      assert.deepEqual(readdirSync(parent), ["c1"]);
    });
  }
}

test("unpackImage() unpacks a squashfs rootfs with unsquashfs", {
  skip: hasSquashfs ? false : "mksquashfs/unsquashfs missing (Debian package squashfs-tools)",
}, async () => {
  const dir = makeImageDir(work);
  const meta = join(work, "meta.tar.gz");
  execFileSync("tar", ["-czf", meta, "-C", dir, "metadata.yaml", "templates"]);
  const sqfs = join(work, "rootfs.squashfs");
  execFileSync("mksquashfs", [join(dir, "rootfs"), sqfs, "-noappend", "-no-progress", "-quiet"]);
  const out = join(mkdtempSync(join(work, "out-")), "c1");
  await unpackImage(
    { metadata: meta, rootfs: { path: sqfs, kind: "squashfs" }, label: "sq" },
    out,
    { compressors, templates: RUN },
  );
  assertRootfsKept(out);
  assertTemplatesApplied(out);
});

test("unpackImage() names the Debian package when unsquashfs is missing", async () => {
  const meta = join(work, "meta-only.tar");
  writeFileSync(meta, tarOf(entry("metadata.yaml", META)));
  const sqfs = join(work, "fake.squashfs");
  writeFileSync(sqfs, "hsqs");
  const parent = mkdtempSync(join(work, "out-"));
  const path = process.env.PATH;
  process.env.PATH = join(work, "empty-path");
  try {
    await assert.rejects(
      unpackImage(
        { metadata: meta, rootfs: { path: sqfs, kind: "squashfs" }, label: "sq" },
        join(parent, "c1"),
        {
          compressors,
        },
      ),
      /unsquashfs program was not found: install the Debian package squashfs-tools/,
    );
  } finally {
    process.env.PATH = path;
  }
  assert.deepEqual(readdirSync(parent), []);
});

test("unpackImage() refuses VM images", async () => {
  const meta = join(work, "vm-meta.tar");
  writeFileSync(meta, tarOf(entry("metadata.yaml", META)));
  await assert.rejects(
    unpackImage(
      { metadata: meta, rootfs: { path: meta, kind: "qcow2" }, label: "vm" },
      join(work, "vm"),
      {
        compressors,
      },
    ),
    /virtual-machine image: VM disk images \(qcow2\) cannot be unpacked/,
  );
  const unified = join(work, "vm.tar");
  writeFileSync(unified, tarOf(entry("metadata.yaml", META), entry("rootfs.img", "QFI\xfb")));
  const parent = mkdtempSync(join(work, "out-"));
  await assert.rejects(
    unpackImage({ metadata: unified, label: "vm" }, join(parent, "vm"), { compressors }),
    /has no rootfs\/ \(is it a VM image\?\)/,
  );
  assert.deepEqual(readdirSync(parent), []);
});

test("unpackImage() replaces an empty folder and refuses a non-empty one or a file", async () => {
  const source = await built(work, false, "gzip");
  const parent = mkdtempSync(join(work, "out-"));
  const empty = join(parent, "empty");
  mkdirSync(empty, { mode: 0o700 });
  await unpackImage(source, empty, { compressors, templates: RUN });
  assertRootfsKept(empty); // the folder took the image root's mode
  const full = join(parent, "full");
  mkdirSync(full);
  writeFileSync(join(full, "mine"), "keep me\n");
  await assert.rejects(unpackImage(source, full, { compressors }), ConflictError);
  assert.deepEqual(readdirSync(full), ["mine"]);
  writeFileSync(join(parent, "file"), "x");
  await assert.rejects(
    unpackImage(source, join(parent, "file"), { compressors }),
    /is not a folder/,
  );
  await assert.rejects(
    unpackImage(source, join(parent, "no", "such"), { compressors }),
    NotFoundError,
  );
  assertNoStage(parent);
});

const unprivSkip = !isRoot
  ? "needs root to run a child as nobody"
  : "Deno" in globalThis
  ? "the child runs under Node (Deno's cache is not readable by nobody)"
  : false;
test("unpackImage() without root leaves device nodes out and keeps the rest", {
  skip: unprivSkip,
}, () => {
  const file = join(work, "devices.tar");
  writeFileSync(
    file,
    tarOf(
      entry("metadata.yaml", META.slice(0, META.indexOf("  /etc/motd"))),
      entry("templates/hostname.tpl", "{{ instance.name }}\n"),
      entry("rootfs/", "", { type: "5", mode: 0o755 }),
      entry("rootfs/null", "", { type: "3" }),
      entry("rootfs/etc/motd", "hi\n"),
    ),
  );
  const parent = mkdtempSync(join(work, "unpriv-"));
  chmodSync(work, 0o755);
  chmodSync(parent, 0o777);
  chmodSync(file, 0o644);
  const child = join(import.meta.dirname!, "children", "unpack_one.ts");
  const r = spawnSync(process.execPath, [child, file, join(parent, "c1")], {
    uid: 65534,
    gid: 65534,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out, { droppedDevices: 1, written: ["/etc/hostname"] });
  assert.deepEqual(readdirSync(join(parent, "c1")).sort(), ["etc"]);
  assert.equal(readFileSync(join(parent, "c1", "etc", "hostname"), "utf8"), "c1\n");
  assert.equal(lstatSync(join(parent, "c1", "etc", "motd")).uid, 65534);
});
