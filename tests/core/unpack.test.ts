import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { gzipSync } from "node:zlib";
import { buildImage } from "../../src/core/build.ts";
import {
  ConflictError,
  ImagoError,
  InvalidInputError,
  NotFoundError,
} from "../../src/core/errors.ts";
import { Store } from "../../src/core/store.ts";
import type { TemplateRun } from "../../src/core/templates.ts";
import { unpackImage, type UnpackSource } from "../../src/core/unpack.ts";
import { builtinCompressors } from "../../src/plugins/builtin.ts";
import { entry, tarOf } from "./tar_raw.ts";

const isRoot = process.getuid?.() === 0;
const has = (prog: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${prog}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
// setfattr/getfattr come with the Debian package attr, mksquashfs with squashfs-tools.
const hasAttr = has("setfattr") && has("getfattr");
const hasSquashfs = has("mksquashfs") && has("unsquashfs");
const compressors = builtinCompressors();
const RUN: TemplateRun = {
  trigger: "create",
  instance: { name: "c1", architecture: "x86_64" },
  config: { "user.greeting": "hello" },
};
const META = "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: test\n" +
  "templates:\n  /etc/hostname:\n    when: [create]\n    template: hostname.tpl\n" +
  "  /etc/motd:\n    when: [create]\n    create_only: true\n    template: motd.tpl\n" +
  "  /var/lib/seed/user-data:\n    when: [create]\n    template: user.tpl\n" +
  "    properties:\n      default: none\n";

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), "imago-unpack-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** An image folder whose rootfs holds every kind of entry an unpack must keep. */
function makeImageDir(): string {
  const dir = mkdtempSync(join(work, "img-"));
  writeFileSync(join(dir, "metadata.yaml"), META);
  mkdirSync(join(dir, "templates"));
  writeFileSync(join(dir, "templates", "hostname.tpl"), "{{ instance.name }}\n");
  writeFileSync(join(dir, "templates", "motd.tpl"), "replaced\n");
  writeFileSync(
    join(dir, "templates", "user.tpl"),
    '{{ config_get("user.greeting", properties.default) }}\n',
  );
  const root = join(dir, "rootfs");
  const etc = join(root, "etc");
  mkdirSync(etc, { recursive: true });
  chmodSync(root, 0o755);
  writeFileSync(join(etc, "motd"), "kept\n");
  writeFileSync(join(etc, "secret"), "s3cret\n");
  if (isRoot) chownSync(join(etc, "secret"), 1234, 5678); // before chmod: chown clears setuid
  chmodSync(join(etc, "secret"), 0o4750);
  utimesSync(join(etc, "secret"), 1600000000, 1600000000);
  linkSync(join(etc, "secret"), join(etc, "secret.hard"));
  symlinkSync("secret", join(etc, "secret.link"));
  symlinkSync("/etc/passwd", join(etc, "absolute.link"));
  mkdirSync(join(root, "tmp"));
  chmodSync(join(root, "tmp"), 0o1777);
  mkdirSync(join(root, "run"));
  execFileSync("mkfifo", [join(root, "run", "fifo")]);
  if (hasAttr) {
    execFileSync("setfattr", ["-n", "user.imago", "-v", "kept", join(etc, "secret")]);
    if (isRoot) execFileSync("setfattr", ["-n", "trusted.imago", "-v", "t", join(etc, "secret")]);
  }
  if (isRoot) {
    mkdirSync(join(root, "dev"));
    execFileSync("mknod", [join(root, "dev", "null2"), "c", "1", "3"]);
  }
  return dir;
}

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

/** Nothing named like a temporary unpack folder is left in `parent`. */
function assertNoStage(parent: string): void {
  const left = readdirSync(parent).filter((n) => n.includes(".imago-unpack-"));
  assert.deepEqual(left, []);
}

/** The stored files of an image built by imago, as an UnpackSource. */
async function built(split: boolean, compression: string, dir = makeImageDir()) {
  const store = await Store.open(mkdtempSync(join(work, "store-")));
  const b = await buildImage(dir, { split, compression, compressors });
  const { image } = await store.import(b.metadata, b.rootfs);
  const files = store.files(image.fingerprint);
  store.close();
  const source: UnpackSource = {
    metadata: files.metadata.path,
    rootfs: files.rootfs && { path: files.rootfs.path, kind: image.files.rootfs!.kind },
    label: image.fingerprint.slice(0, 12),
  };
  return source;
}

for (const split of [false, true]) {
  for (const compression of ["xz", "gzip", "none"]) {
    const shape = split ? "split" : "unified";
    test(`unpackImage() of an imago-built ${shape} ${compression} image keeps the rootfs`, async () => {
      const source = await built(split, compression);
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
  const dir = makeImageDir();
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
  const source = await built(false, "gzip");
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

test("unpackImage() reports corrupt compressed data and leaves nothing behind", async () => {
  const source = await built(false, "xz");
  const bytes = readFileSync(source.metadata);
  const cut = join(work, "cut.tar.xz");
  writeFileSync(cut, bytes.subarray(0, bytes.byteLength - 100));
  const parent = mkdtempSync(join(work, "out-"));
  await assert.rejects(
    unpackImage({ metadata: cut, label: "cut" }, join(parent, "c1"), { compressors }),
    (err: unknown) =>
      err instanceof ImagoError && /corrupt or truncated|truncated/.test(err.message),
  );
  assert.deepEqual(readdirSync(parent), []);
});

/** Unified images that must be refused, each with a part of the expected message. */
const HOSTILE: [string, Uint8Array, string][] = [
  ["a .. entry", tarOf(entry("rootfs/../evil", "x")), `"rootfs/../evil"`],
  ["an absolute entry", tarOf(entry("/tmp/imago-evil", "x")), `"/tmp/imago-evil"`],
  [
    "a symlink followed by an entry through it",
    tarOf(
      entry("rootfs/", "", { type: "5", mode: 0o755 }),
      entry("rootfs/lnk", "", { type: "2", linkname: "/tmp" }),
      entry("rootfs/lnk/imago-evil", "x"),
    ),
    `"rootfs/lnk/imago-evil" goes through the symlink "rootfs/lnk"`,
  ],
  [
    "a hard link out",
    tarOf(entry("rootfs/pw", "", { type: "1", linkname: "/etc/passwd" })),
    `"/etc/passwd"`,
  ],
];

/** `bytes` as an image must be refused, leaving DIR absent, or the empty folder it was. */
async function assertRefused(file: string, bytes: Uint8Array, expect: string): Promise<void> {
  writeFileSync(file, bytes);
  const parent = mkdtempSync(join(work, "out-"));
  const dir = join(parent, "c1");
  await assert.rejects(
    unpackImage({ metadata: file, label: "bad" }, dir, { compressors }),
    (err) => {
      assert.ok(err instanceof InvalidInputError, String(err));
      assert.ok(err.message.includes(expect), err.message);
      return true;
    },
  );
  assert.deepEqual(readdirSync(parent), []);
  mkdirSync(dir);
  await assert.rejects(unpackImage({ metadata: file, label: "bad" }, dir, { compressors }));
  assert.deepEqual(readdirSync(parent), ["c1"]);
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(existsSync("/tmp/imago-evil"), false);
}

for (const [what, tar, expect] of HOSTILE) {
  test(`unpackImage() refuses ${what} and leaves DIR as it was`, async () => {
    const plain = tarOf(entry("metadata.yaml", META), entry("rootfs/ok", "fine"), tar);
    // Uncompressed images are checked by their headers first, compressed ones as they stream.
    await assertRefused(join(work, "hostile.tar"), plain, expect);
    await assertRefused(join(work, "hostile.tar.gz"), gzipSync(plain), expect);
  });
}

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

test("unpackImage() refuses a template whose folder is a symlink to /etc", async () => {
  const dir = makeImageDir();
  const name = `imago-test-${process.pid}`;
  writeFileSync(
    join(dir, "metadata.yaml"),
    `${META}  /etc-link/${name}:\n    when: [create]\n    template: hostname.tpl\n`,
  );
  symlinkSync("/etc", join(dir, "rootfs", "etc-link"));
  const source = await built(false, "gzip", dir);
  const parent = mkdtempSync(join(work, "out-"));
  try {
    await assert.rejects(
      unpackImage(source, join(parent, "c1"), { compressors, templates: RUN }),
      /Cannot apply the template for "\/etc-link\/imago-test-\d+": its folder leads outside/,
    );
    assert.equal(existsSync(join("/etc", name)), false);
    assert.deepEqual(readdirSync(parent), []);
  } finally {
    rmSync(join("/etc", name), { force: true });
  }
});

test("unpackImage() refuses a template target outside the root", async () => {
  const dir = makeImageDir();
  writeFileSync(
    join(dir, "metadata.yaml"),
    `${META}  /../../../tmp/imago-evil:\n    when: [create]\n    template: hostname.tpl\n`,
  );
  const source = await built(true, "gzip", dir);
  const parent = mkdtempSync(join(work, "out-"));
  await assert.rejects(
    unpackImage(source, join(parent, "c1"), { compressors, templates: RUN }),
    /without "\.\."/,
  );
  assert.deepEqual(readdirSync(parent), []);
  assert.equal(existsSync("/tmp/imago-evil"), false);
});
