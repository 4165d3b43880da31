import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeSplit, makeUnified } from "../helpers.ts";
import { sandbox } from "./harness.ts";

const sha = (...files: string[]) => {
  const h = createHash("sha256");
  for (const f of files) h.update(readFileSync(f));
  return h.digest("hex");
};

async function withSandbox(fn: (sb: ReturnType<typeof sandbox>) => Promise<void>) {
  const sb = sandbox();
  try {
    await fn(sb);
  } finally {
    sb.cleanup();
  }
}

test("import stores a unified image and prints its fingerprint like lxc", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u", { compression: "gz" });
    const r = await sb.cli(["import", file, "--alias", "one", "--alias", "two"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Image imported with fingerprint: ${sha(file)}\n`);
    assert.equal(r.stderr, "");
    const again = await sb.cli(["import", file]);
    assert.equal(again.stdout, `Image already in store with fingerprint: ${sha(file)}\n`);
    const [img] = JSON.parse((await sb.cli(["list", "-f", "json"])).stdout);
    assert.deepEqual(img.aliases, [{ name: "one", description: "" }, {
      name: "two",
      description: "",
    }]);
  });
});

test("import --format json prints the image object; --public makes it public", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u");
    const r = await sb.cli(["import", file, "--public", "--format", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const img = JSON.parse(r.stdout);
    assert.equal(img.fingerprint, sha(file));
    assert.equal(img.public, true);
    assert.equal(img.type, "container");
    assert.equal("files" in img, false);
  });
});

test("import of a split image fingerprints metadata followed by rootfs", async () => {
  await withSandbox(async (sb) => {
    const { metadata, rootfs } = makeSplit(sb.dir, "s", { compression: "gz" });
    const r = await sb.cli(["import", metadata, rootfs]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Image imported with fingerprint: ${sha(metadata, rootfs)}\n`);
  });
});

test("import of a missing file or a folder fails with one line", async () => {
  await withSandbox(async (sb) => {
    const missing = await sb.cli(["import", join(sb.dir, "nope.tar.gz")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error: Cannot import ".*nope\.tar\.gz": file ".*" not found\n$/);
    const dir = await sb.cli(["import", sb.dir]);
    assert.equal(dir.code, 1);
    assert.match(dir.stderr, /is a folder: use "imago build"/);
  });
});

test("import draws progress only on a terminal and is silent with --quiet", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u");
    const tty = await sb.cli(["import", file], { stderrIsTTY: true });
    assert.match(tty.stderr, /^\rImporting u\.tar: 100% /);
    assert.ok(tty.stderr.endsWith("\r\x1b[K"));
    const quiet = await sb.cli(["--quiet", "import", makeUnified(sb.dir, "v")], {
      stderrIsTTY: true,
    });
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, "");
    assert.equal(quiet.stdout, "");
  });
});

test("export of a unified image writes a byte-identical <fp><ext> into a folder", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u", { compression: "gz" });
    await sb.cli(["import", file, "--alias", "u"]);
    const out = join(sb.dir, "out");
    mkdirSync(out);
    const r = await sb.cli(["export", "u", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Image exported successfully!\n");
    assert.deepEqual(readdirSync(out), [`${sha(file)}.tar.gz`]);
    assert.deepEqual(readFileSync(join(out, `${sha(file)}.tar.gz`)), readFileSync(file));
  });
});

test("export to a file name adds the extension of LXD's name, as lxc does", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u", { compression: "gz" });
    await sb.cli(["import", file, "--alias", "u"]);
    const r = await sb.cli(["export", "u", join(sb.dir, "copy")]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(join(sb.dir, "copy.tar.gz")), readFileSync(file));
  });
});

test("export of a split image writes meta-<fp> and <fp> files, or TARGET and TARGET.root", async () => {
  await withSandbox(async (sb) => {
    const { metadata, rootfs } = makeSplit(sb.dir, "s", { compression: "gz" });
    await sb.cli(["import", metadata, rootfs, "--alias", "s"]);
    const fp = sha(metadata, rootfs);
    const out = join(sb.dir, "out");
    mkdirSync(out);
    assert.equal((await sb.cli(["export", "s", out])).code, 0);
    assert.deepEqual(readdirSync(out).sort(), [`${fp}.tar.gz`, `meta-${fp}.tar.gz`]);
    assert.deepEqual(readFileSync(join(out, `meta-${fp}.tar.gz`)), readFileSync(metadata));
    assert.deepEqual(readFileSync(join(out, `${fp}.tar.gz`)), readFileSync(rootfs));
    assert.equal((await sb.cli(["export", "s", join(out, "named")])).code, 0);
    assert.deepEqual(readFileSync(join(out, "named")), readFileSync(metadata));
    assert.deepEqual(readFileSync(join(out, "named.root")), readFileSync(rootfs));
  });
});

test("export replaces an existing file with a warning and leaves no temp files", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u");
    await sb.cli(["import", file, "--alias", "u"]);
    const out = join(sb.dir, "out");
    mkdirSync(out);
    writeFileSync(join(out, "x.tar"), "old");
    const r = await sb.cli(["export", "u", join(out, "x")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Warning: Replacing existing file ".*x\.tar"\n$/);
    assert.deepEqual(readdirSync(out), ["x.tar"]);
    assert.deepEqual(readFileSync(join(out, "x.tar")), readFileSync(file));
  });
});

test("export refuses damaged store files and writes nothing", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u");
    const fp = sha(file);
    await sb.cli(["import", file]);
    const stored = join(sb.store, "images", fp);
    const bytes = readFileSync(stored);
    bytes[600] ^= 0xff;
    writeFileSync(stored, bytes);
    const out = join(sb.dir, "out");
    mkdirSync(out);
    const r = await sb.cli(["export", fp.slice(0, 8), out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Cannot export "[0-9a-f]{8}": the stored files are damaged: /);
    assert.deepEqual(readdirSync(out), []);
  });
});

test("export into a missing folder fails with one line", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "u");
    await sb.cli(["import", file, "--alias", "u"]);
    const r = await sb.cli(["export", "u", join(sb.dir, "no", "such")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Cannot export "u": folder ".*no" not found\n$/);
  });
});
