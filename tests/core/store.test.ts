import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { Store } from "../../src/core/store.ts";
import { checkStore } from "../../src/core/fsck.ts";
import { fileStream } from "../../src/core/streams.ts";
import {
  AmbiguousRefError,
  ConflictError,
  IntegrityError,
  NotFoundError,
} from "../../src/core/errors.ts";
import { makeSplit, makeUnified, tempDir } from "../helpers.ts";
import { runTs, tsRunner } from "../runtime_helpers.ts";

const CHILD = new URL("./children/import_one.ts", import.meta.url).pathname;

function sha(...files: string[]): string {
  const h = createHash("sha256");
  for (const f of files) h.update(readFileSync(f));
  return h.digest("hex");
}

function src(path: string) {
  return { stream: fileStream(path), name: path };
}

async function withStore(fn: (store: Store, dir: string) => Promise<void>): Promise<void> {
  const t = tempDir();
  const store = await Store.open(join(t.path, "store"));
  try {
    await fn(store, t.path);
  } finally {
    store.close();
    t.cleanup();
  }
}

test("Store.import() fingerprints a unified image as the sha256 of the file", async () => {
  await withStore(async (store, dir) => {
    const file = makeUnified(dir, "u", { compression: "gz" });
    const { image, created } = await store.import(src(file), undefined, {
      aliases: [{ name: "u1", description: "first" }],
    });
    assert.equal(created, true);
    assert.equal(image.fingerprint, sha(file));
    assert.equal(image.type, "container");
    assert.equal(image.architecture, "x86_64");
    assert.equal(image.size, statSync(file).size);
    assert.equal(image.properties.os, "testos");
    assert.equal(image.created_at, "2023-11-14T22:13:20Z");
    assert.equal(image.expires_at, "1970-01-01T00:00:00Z");
    assert.deepEqual(image.aliases, [{ name: "u1", description: "first" }]);
    assert.equal(image.files.metadata_ext, ".tar.gz");
    const f = store.files(image.fingerprint);
    assert.equal(f.metadata.name, `${image.fingerprint}.tar.gz`);
    assert.deepEqual(readFileSync(f.metadata.path), readFileSync(file));
    assert.deepEqual(readdirSync(store.tmpDir), []);
  });
});

test("Store.import() fingerprints a split image over metadata then rootfs", async () => {
  await withStore(async (store, dir) => {
    const { metadata, rootfs } = makeSplit(dir, "s", { compression: "" });
    const { image } = await store.import(src(metadata), src(rootfs));
    assert.equal(image.fingerprint, sha(metadata, rootfs));
    assert.equal(image.size, statSync(metadata).size + statSync(rootfs).size);
    assert.equal(image.filename, rootfs.split("/").pop());
    const f = store.files(image.fingerprint);
    assert.equal(f.metadata.name, `meta-${image.fingerprint}.tar`);
    assert.equal(f.rootfs?.name, `${image.fingerprint}.tar`);
    assert.deepEqual(readFileSync(f.rootfs!.path), readFileSync(rootfs));
  });
});

test("Store.import() of a known image succeeds without a second copy", async () => {
  await withStore(async (store, dir) => {
    const file = makeUnified(dir, "u");
    const first = await store.import(src(file));
    const again = await store.import(src(file), undefined, {
      aliases: [{ name: "later", description: "" }],
    });
    assert.equal(again.created, false);
    assert.equal(again.image.fingerprint, first.image.fingerprint);
    assert.deepEqual(again.image.aliases.map((a) => a.name), ["later"]);
    assert.equal(store.list().length, 1);
    assert.deepEqual(readdirSync(store.imagesDir), [first.image.fingerprint]);
  });
});

test("Store.import() with a wrong expected fingerprint stores nothing", async () => {
  await withStore(async (store, dir) => {
    const file = makeUnified(dir, "u");
    await assert.rejects(
      store.import(src(file), undefined, { expectedFingerprint: "00ff" }),
      IntegrityError,
    );
    assert.deepEqual(store.list(), []);
    assert.deepEqual(readdirSync(store.imagesDir), []);
    assert.deepEqual(readdirSync(store.tmpDir), []);
  });
});

test("Store.import() refuses an alias owned by another image and changes nothing", async () => {
  await withStore(async (store, dir) => {
    const a = await store.import(src(makeUnified(dir, "a")), undefined, {
      aliases: [{ name: "x", description: "" }],
    });
    const b = makeUnified(dir, "b");
    await assert.rejects(
      store.import(src(b), undefined, { aliases: [{ name: "x", description: "" }] }),
      ConflictError,
    );
    assert.deepEqual(store.list().map((r) => r.fingerprint), [a.image.fingerprint]);
    assert.deepEqual(readdirSync(store.imagesDir), [a.image.fingerprint]);
  });
});

test("Store.resolve() takes aliases, full fingerprints and unique prefixes", async () => {
  await withStore(async (store, dir) => {
    const imgs = [];
    for (let i = 0; i < 40; i++) {
      imgs.push((await store.import(src(makeUnified(dir, `i${i}`)))).image.fingerprint);
    }
    store.createAlias("named", imgs[3], "d");
    assert.equal(store.resolve("named").fingerprint, imgs[3]);
    assert.equal(store.resolve(imgs[5]).fingerprint, imgs[5]);
    assert.equal(store.resolve(imgs[7].slice(0, 12).toUpperCase()).fingerprint, imgs[7]);
    // With 40 images two share a first hex digit for sure: that prefix is ambiguous.
    const counts = new Map<string, number>();
    for (const fp of imgs) counts.set(fp[0], (counts.get(fp[0]) ?? 0) + 1);
    const shared = [...counts].find(([, n]) => n > 1)![0];
    assert.throws(() => store.resolve(shared), (err: unknown) => {
      assert.ok(err instanceof AmbiguousRefError);
      assert.equal(err.candidates.length, counts.get(shared));
      return true;
    });
    assert.throws(() => store.resolve("nosuch"), NotFoundError);
  });
});

test("Store alias methods create, rename, retarget and delete", async () => {
  await withStore(async (store, dir) => {
    const a = (await store.import(src(makeUnified(dir, "a")))).image.fingerprint;
    const b = (await store.import(src(makeUnified(dir, "b")))).image.fingerprint;
    store.createAlias("one", a, "desc");
    assert.throws(() => store.createAlias("one", b), ConflictError);
    store.renameAlias("one", "two");
    assert.deepEqual(store.aliases().map((x) => [x.name, x.target, x.description]), [
      ["two", a, "desc"],
    ]);
    store.setAlias("two", b);
    assert.equal(store.alias("two").target, b);
    store.deleteAlias("two");
    assert.deepEqual(store.aliases(), []);
    assert.throws(() => store.deleteAlias("two"), NotFoundError);
  });
});

test("Store.delete() removes the record, its aliases and its files", async () => {
  await withStore(async (store, dir) => {
    const { metadata, rootfs } = makeSplit(dir, "s");
    const fp = (await store.import(src(metadata), src(rootfs), {
      aliases: [{ name: "s", description: "" }],
    })).image.fingerprint;
    await store.delete(fp);
    assert.deepEqual(store.list(), []);
    assert.deepEqual(store.aliases(), []);
    assert.deepEqual(readdirSync(store.imagesDir), []);
  });
});

test("Store.import() by two processes at once ends with one image and both succeed", async () => {
  const t = tempDir();
  try {
    const file = makeUnified(t.path, "big", {
      files: { "blob.bin": "x".repeat(8 << 20) },
    });
    const dir = join(t.path, "store");
    const [r1, r2] = await Promise.all([runTs(CHILD, [dir, file]), runTs(CHILD, [dir, file])]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r2.code, 0, r2.stderr);
    const outs = [JSON.parse(r1.stdout), JSON.parse(r2.stdout)];
    assert.equal(outs[0].fingerprint, sha(file));
    assert.equal(outs[1].fingerprint, sha(file));
    assert.deepEqual(outs.map((o) => o.created).sort(), [false, true]);
    const store = await Store.open(dir);
    assert.equal(store.list().length, 1);
    assert.deepEqual(store.aliases().map((a) => a.name), ["shared"]);
    assert.deepEqual(readdirSync(join(dir, "images")), [sha(file)]);
    store.close();
  } finally {
    t.cleanup();
  }
});

test("Store.open() removes what a killed import left behind", async () => {
  const t = tempDir();
  try {
    const file = makeUnified(t.path, "u", { files: { "a.bin": "y".repeat(4 << 20) } });
    const fifo = join(t.path, "pipe");
    execFileSync("mkfifo", [fifo]);
    const dir = join(t.path, "store");
    const [cmd, ...pre] = tsRunner();
    const child = spawn(cmd, [...pre, CHILD, dir, fifo], { stdio: "ignore" });
    const exited = new Promise((r) => child.on("exit", r));
    const w = await open(fifo, "w");
    const bytes = readFileSync(file);
    await w.write(bytes.subarray(0, 1 << 20));
    // Wait until the child has staged part of the file, then kill it mid-import.
    const tmp = join(dir, "tmp");
    for (let i = 0; i < 200; i++) {
      const staged = existsSync(tmp) ? readdirSync(tmp) : [];
      if (staged.length && existsSync(join(tmp, staged[0], "metadata"))) {
        if (statSync(join(tmp, staged[0], "metadata")).size > 0) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    await exited;
    await w.close().catch(() => {});
    assert.equal(readdirSync(tmp).length, 1, "the killed import left its staging folder");
    assert.deepEqual(readdirSync(join(dir, "images")), []);
    const store = await Store.open(dir);
    assert.deepEqual(readdirSync(tmp), []);
    assert.deepEqual(store.list(), []);
    store.close();
  } finally {
    t.cleanup();
  }
});

test("checkStore() reports and repairs orphans and broken images", async () => {
  await withStore(async (store, dir) => {
    const good = (await store.import(src(makeUnified(dir, "g")))).image.fingerprint;
    const bad = (await store.import(src(makeUnified(dir, "b")))).image.fingerprint;
    writeFileSync(join(store.imagesDir, "f".repeat(64)), "orphan");
    writeFileSync(join(store.imagesDir, bad), "truncated");
    const report = await checkStore(store);
    assert.deepEqual(report.orphans, ["f".repeat(64)]);
    assert.deepEqual(report.mismatched, [bad]);
    assert.deepEqual(report.missing, []);
    const fixed = await checkStore(store, { repair: true });
    assert.equal(fixed.repaired, true);
    assert.deepEqual(store.list().map((r) => r.fingerprint), [good]);
    assert.deepEqual(readdirSync(store.imagesDir), [good]);
    const clean = await checkStore(store, { verify: true });
    assert.deepEqual([clean.orphans, clean.missing, clean.mismatched], [[], [], []]);
  });
});
