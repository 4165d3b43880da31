import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  link,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildImage } from "../../src/core/build.ts";
import { Store } from "../../src/core/store.ts";
import { builtinCompressors } from "../../src/plugins/builtin.ts";
import { hasCommand } from "../helpers.ts";

const isRoot = process.getuid?.() === 0;
const hasSetfattr = hasCommand("setfattr") && hasCommand("getfattr");
const META = "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: test\n" +
  "templates:\n  /etc/hostname:\n    when: [create]\n    template: hostname.tpl\n";

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), "imago-build-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** An image directory whose rootfs holds every kind of entry tar must preserve. */
async function makeImageDir(): Promise<string> {
  const dir = mkdtempSync(join(work, "img-"));
  writeFileSync(join(dir, "metadata.yaml"), META);
  mkdirSync(join(dir, "templates"));
  writeFileSync(join(dir, "templates", "hostname.tpl"), "{{ instance.name }}\n");
  writeFileSync(join(dir, "notes.txt"), "not part of the image\n");
  const etc = join(dir, "rootfs", "etc");
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, "secret"), "s3cret\n");
  chmodSync(join(etc, "secret"), 0o750);
  if (isRoot) chownSync(join(etc, "secret"), 1234, 1234);
  await promisify(link)(join(etc, "secret"), join(etc, "secret.hard"));
  symlinkSync("secret", join(etc, "secret.link"));
  if (hasSetfattr) {
    execFileSync("setfattr", ["-n", "user.imago", "-v", "kept", join(etc, "secret")]);
  }
  mkdirSync(join(dir, "rootfs", "run"));
  execFileSync("mkfifo", [join(dir, "rootfs", "run", "fifo")]);
  if (isRoot) {
    mkdirSync(join(dir, "rootfs", "dev"));
    execFileSync("mknod", [join(dir, "rootfs", "dev", "null2"), "c", "1", "3"]);
  }
  return dir;
}

/** Extracts an image's stored files the way LXD unpacks them; returns the extraction root. */
function unpack(store: Store, fp: string): string {
  const out = mkdtempSync(join(work, "out-"));
  const files = store.files(fp);
  const tar = (file: string, dest: string) =>
    execFileSync("tar", [
      "--xattrs",
      "--xattrs-include=*",
      "--numeric-owner",
      "-xpf",
      file,
      "-C",
      dest,
    ]);
  tar(files.metadata.path, out);
  if (files.rootfs) {
    mkdirSync(join(out, "rootfs"));
    tar(files.rootfs.path, join(out, "rootfs"));
  }
  return out;
}

function assertTreeSurvived(out: string): void {
  const etc = join(out, "rootfs", "etc");
  const secret = lstatSync(join(etc, "secret"));
  assert.equal(secret.mode & 0o7777, 0o750);
  if (isRoot) assert.deepEqual([secret.uid, secret.gid], [1234, 1234]);
  assert.equal(lstatSync(join(etc, "secret.hard")).ino, secret.ino, "hard link kept");
  assert.equal(readlinkSync(join(etc, "secret.link")), "secret");
  assert.ok(lstatSync(join(out, "rootfs", "run", "fifo")).isFIFO());
  if (isRoot) {
    const dev = lstatSync(join(out, "rootfs", "dev", "null2"));
    assert.ok(dev.isCharacterDevice());
    assert.equal(dev.rdev, lstatSync("/dev/null").rdev);
  }
  if (hasSetfattr) {
    const got = execFileSync("getfattr", ["--only-values", "-n", "user.imago", "secret"], {
      cwd: etc,
    });
    assert.equal(got.toString(), "kept");
  }
  assert.equal(readdirSync(join(out, "templates")).join(), "hostname.tpl");
  assert.ok(!readdirSync(out).includes("notes.txt"), "only the image parts are packed");
}

/** Entry names of a (compressed) tar file, in archive order. */
function listTar(file: string): string[] {
  return execFileSync("tar", ["-tf", file]).toString().trim().split("\n");
}

const compressors = builtinCompressors();
for (const compression of ["gzip", "xz", "none"]) {
  for (const split of [false, true]) {
    const shape = split ? "split" : "unified";
    const skip = !compressors.has(compression) ? `no "${compression}" compressor yet` : false;
    test(`buildImage() ${shape} ${compression} keeps owners, modes, links, devices and xattrs`, {
      skip,
    }, async () => {
      const dir = await makeImageDir();
      const store = await Store.open(mkdtempSync(join(work, "store-")));
      try {
        const built = await buildImage(dir, { split, compression, compressors });
        const { image } = await store.import(built.metadata, built.rootfs);
        assert.equal(image.type, "container");
        assert.equal(image.architecture, "x86_64");
        assert.equal(image.properties.os, "test");
        const ext = ".tar" + compressors.get(compression).extension;
        assert.equal(image.files.metadata_ext, ext);
        assert.equal(image.files.rootfs?.ext, split ? ext : undefined);
        const files = store.files(image.fingerprint);
        assert.equal(listTar(files.metadata.path)[0], "metadata.yaml");
        if (files.rootfs) {
          const names = listTar(files.rootfs.path);
          assert.ok(names.includes("./etc/secret"), "split rootfs holds the tree at its root");
          assert.ok(!names.some((n) => n.startsWith("rootfs")));
        }
        assertTreeSurvived(unpack(store, image.fingerprint));
        assert.deepEqual(readdirSync(store.tmpDir), []);
      } finally {
        store.close();
      }
    });
  }
}

describe("buildImage() reproducibility", () => {
  test("buildImage() gives the same fingerprint when built twice", async () => {
    const dir = await makeImageDir();
    // Larger than a pipe buffer, so tar's output reaches us in varying chunks.
    const big = new Uint8Array(3 << 20).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(join(dir, "rootfs", "big"), big);
    const fps: string[] = [];
    for (const _ of [1, 2]) {
      const store = await Store.open(mkdtempSync(join(work, "store-")));
      const built = await buildImage(dir, { split: true, compressors });
      fps.push((await store.import(built.metadata, built.rootfs)).image.fingerprint);
      store.close();
    }
    assert.equal(fps[0], fps[1]);
  });
});

/** Runs `fn` with PATH holding only a fake `tar` (absent when `script` is undefined). */
async function withFakeTar(script: string | undefined, fn: () => Promise<void>): Promise<void> {
  const bin = mkdtempSync(join(work, "bin-"));
  if (script !== undefined) {
    writeFileSync(join(bin, "tar"), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  }
  const saved = process.env.PATH;
  process.env.PATH = bin;
  try {
    await fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe("buildImage() errors", () => {
  const rejects = async (dir: string, pattern: RegExp, opts: { compression?: string } = {}) => {
    await assert.rejects(buildImage(dir, { compressors, ...opts }), (err: Error) => {
      assert.match(err.message, pattern);
      assert.ok(err.message.startsWith(`Cannot build image from "${dir}": `), err.message);
      return true;
    });
  };

  test("buildImage() names a directory that does not exist", async () => {
    await rejects(join(work, "nope"), /the directory does not exist$/);
  });

  test("buildImage() names a missing metadata.yaml", async () => {
    const dir = await makeImageDir();
    rmSync(join(dir, "metadata.yaml"));
    await rejects(dir, /"[^"]*\/metadata\.yaml" is missing: an image directory needs/);
  });

  test("buildImage() names a missing rootfs/", async () => {
    const dir = await makeImageDir();
    rmSync(join(dir, "rootfs"), { recursive: true });
    await rejects(dir, /"[^"]*\/rootfs" is missing/);
  });

  test("buildImage() refuses metadata.yaml as a symlink", async () => {
    const dir = await makeImageDir();
    rmSync(join(dir, "metadata.yaml"));
    writeFileSync(join(dir, "real.yaml"), META);
    symlinkSync("real.yaml", join(dir, "metadata.yaml"));
    await rejects(dir, /metadata\.yaml" must be a file, not a symlink/);
  });

  test("buildImage() refuses templates/ that is a file", async () => {
    const dir = await makeImageDir();
    rmSync(join(dir, "templates"), { recursive: true });
    writeFileSync(join(dir, "templates"), "");
    await rejects(dir, /templates" must be a directory/);
  });

  test("buildImage() reports invalid metadata.yaml with its line", async () => {
    const dir = await makeImageDir();
    writeFileSync(join(dir, "metadata.yaml"), "creation_date: 1700000000\nproperties: {}\n");
    await rejects(dir, /: metadata\.yaml( line \d+(, column \d+)?)?: architecture is required$/);
  });

  test("buildImage() refuses a template named in metadata.yaml but not shipped", async () => {
    const dir = await makeImageDir();
    rmSync(join(dir, "templates", "hostname.tpl"));
    await rejects(dir, /template "hostname\.tpl" for "\/etc\/hostname" is missing from/);
  });

  test("buildImage() refuses an oversized metadata.yaml", async () => {
    const dir = await makeImageDir();
    writeFileSync(join(dir, "metadata.yaml"), META + "#".repeat(1 << 20) + "\n");
    await rejects(dir, /metadata\.yaml is larger than 1 MiB$/);
  });

  test("buildImage() lists the known compressors for an unknown one", async () => {
    const dir = await makeImageDir();
    await rejects(dir, /: compression "lz4" is unknown: use one of [a-z0-9, ]*gzip/, {
      compression: "lz4",
    });
  });

  test("Store.import() of a build fails with tar's complaint and stores nothing", async () => {
    const dir = await makeImageDir();
    const store = await Store.open(mkdtempSync(join(work, "store-")));
    try {
      const script = 'echo "tar: rootfs/etc/x: Cannot open: Input/output error" >&2\n' +
        'echo "tar: Exiting with failure status due to previous errors" >&2\nexit 2';
      await withFakeTar(script, async () => {
        const built = await buildImage(dir, { compressors });
        await assert.rejects(
          store.import(built.metadata, built.rootfs),
          {
            message: `Cannot build image from "${dir}": tar failed: ` +
              `rootfs/etc/x: Cannot open: Input/output error`,
          },
        );
      });
      assert.deepEqual(store.list(), []);
      assert.deepEqual(readdirSync(store.imagesDir), []);
      assert.deepEqual(readdirSync(store.tmpDir), []);
    } finally {
      store.close();
    }
  });

  test("Store.import() of a build says when tar is not installed", async () => {
    const dir = await makeImageDir();
    const store = await Store.open(mkdtempSync(join(work, "store-")));
    try {
      await withFakeTar(undefined, async () => {
        const built = await buildImage(dir, { compressors, compression: "none" });
        await assert.rejects(
          store.import(built.metadata),
          /: the tar program was not found: install GNU tar$/,
        );
      });
      assert.deepEqual(store.list(), []);
    } finally {
      store.close();
    }
  });
});
