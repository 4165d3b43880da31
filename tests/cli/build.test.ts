import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../src/cli/run.ts";
import { Store } from "../../src/core/store.ts";

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), "imago-cli-build-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

function imageDir(): string {
  const dir = mkdtempSync(join(work, "img-"));
  writeFileSync(join(dir, "metadata.yaml"), "architecture: amd64\ncreation_date: 1700000000\n");
  mkdirSync(join(dir, "rootfs", "etc"), { recursive: true });
  writeFileSync(join(dir, "rootfs", "etc", "motd"), "hello\n");
  return dir;
}

async function imago(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await run(argv, {
    stdout: (s) => stdout += s,
    stderr: (s) => stderr += s,
    stdin: undefined,
    stdinIsTTY: false,
    stderrIsTTY: false,
    env: {},
  });
  return { code, stdout, stderr };
}

test("imago build prints the fingerprint and stores the image with its alias", async () => {
  const storeDir = join(work, "store-a");
  const r = await imago("--store", storeDir, "build", imageDir(), "--split", "--alias", "mine");
  assert.equal(r.stderr, "");
  assert.equal(r.code, 0);
  const fp = /^Image built with fingerprint: ([0-9a-f]{64})\n$/.exec(r.stdout)?.[1];
  assert.ok(fp, r.stdout);
  const store = await Store.open(storeDir);
  try {
    const image = store.resolve("mine");
    assert.equal(image.fingerprint, fp);
    assert.equal(image.architecture, "x86_64");
    assert.equal(image.files.metadata_ext, ".tar.gz", "gzip is the default, as for lxc publish");
    assert.equal(image.files.rootfs?.ext, ".tar.gz");
  } finally {
    store.close();
  }
});

test("imago build --compression none stores an uncompressed unified image", async () => {
  const storeDir = join(work, "store-b");
  const r = await imago("--store", storeDir, "build", imageDir(), "--compression", "none");
  assert.equal(r.code, 0, r.stderr);
  const store = await Store.open(storeDir);
  try {
    const [image] = store.list();
    assert.equal(image.files.metadata_ext, ".tar");
    assert.equal(image.files.rootfs, undefined);
  } finally {
    store.close();
  }
});

test("imago build names the missing part of the folder in one error line", async () => {
  const storeDir = join(work, "store-c");
  const dir = imageDir();
  rmSync(join(dir, "rootfs"), { recursive: true });
  const r = await imago("--store", storeDir, "build", dir);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    `Error: Cannot build image from "${dir}": "${join(dir, "rootfs")}" is missing: ` +
      `an image directory needs metadata.yaml and rootfs/ (templates/ is optional)\n`,
  );
  assert.deepEqual(readdirSync(join(storeDir, "images")), []);
});

test("imago build rejects an unknown compression and lists the known ones", async () => {
  const r = await imago(
    "--store",
    join(work, "store-d"),
    "build",
    imageDir(),
    "--compression",
    "lz4",
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^Error: Cannot build image from "[^"]+": compression "lz4" is unknown: /);
  assert.match(r.stderr, /: use one of [a-z0-9, ]*gzip[a-z0-9, ]*: see "imago build --help"\n$/);
});

test("imago build --format json prints the image object", async () => {
  const r = await imago("--store", join(work, "store-e"), "build", imageDir(), "--format", "json");
  assert.equal(r.code, 0, r.stderr);
  const image = JSON.parse(r.stdout);
  assert.match(image.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(image.type, "container");
  assert.equal(image.files, undefined, "the API shape, without imago's internal fields");
});

test("imago build with a taken alias names the folder and the alias, and adds no image", async () => {
  const storeDir = join(work, "store-f");
  const first = await imago("--store", storeDir, "build", imageDir(), "--alias", "taken");
  assert.equal(first.code, 0, first.stderr);
  const fp = /fingerprint: ([0-9a-f]{64})/.exec(first.stdout)![1];
  const dir = imageDir();
  writeFileSync(join(dir, "rootfs", "etc", "motd"), "another image\n");
  const r = await imago("--store", storeDir, "build", dir, "--alias", "taken");
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `Error: Cannot build image from "${dir}": alias "taken" already exists ` +
      `(on ${fp.slice(0, 12)}): delete or rename it first\n`,
  );
  const store = await Store.open(storeDir);
  try {
    assert.deepEqual(store.list().map((i) => i.fingerprint), [fp]);
  } finally {
    store.close();
  }
});
