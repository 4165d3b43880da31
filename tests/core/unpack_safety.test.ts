/**
 * unpackImage() refuses hostile or broken images and leaves DIR as it was, with no temporary
 * folder behind: also when stopped through its signal, and after a process killed mid-unpack.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { gzipSync } from "node:zlib";
import { ImagoError, InvalidInputError } from "../../src/core/errors.ts";
import { unpackImage } from "../../src/core/unpack.ts";
import { entry, tarOf } from "./tar_raw.ts";
import { assertNoStage, built, compressors, makeImageDir, META, RUN } from "./unpack_fixtures.ts";

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), "imago-unpack-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

test("unpackImage() reports corrupt compressed data and leaves nothing behind", async () => {
  const source = await built(work, false, "xz");
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

test("unpackImage() refuses a template whose folder is a symlink to /etc", async () => {
  const dir = makeImageDir(work);
  const name = `imago-test-${process.pid}`;
  writeFileSync(
    join(dir, "metadata.yaml"),
    `${META}  /etc-link/${name}:\n    when: [create]\n    template: hostname.tpl\n`,
  );
  symlinkSync("/etc", join(dir, "rootfs", "etc-link"));
  const source = await built(work, false, "gzip", dir);
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
  const dir = makeImageDir(work);
  writeFileSync(
    join(dir, "metadata.yaml"),
    `${META}  /../../../tmp/imago-evil:\n    when: [create]\n    template: hostname.tpl\n`,
  );
  const source = await built(work, true, "gzip", dir);
  const parent = mkdtempSync(join(work, "out-"));
  await assert.rejects(
    unpackImage(source, join(parent, "c1"), { compressors, templates: RUN }),
    /without "\.\."/,
  );
  assert.deepEqual(readdirSync(parent), []);
  assert.equal(existsSync("/tmp/imago-evil"), false);
});

test("unpackImage() stopped through its signal removes its temporary folder", async () => {
  const source = await built(work, false, "gzip");
  const parent = mkdtempSync(join(work, "out-"));
  const controller = new AbortController();
  const stop = new Error("stop");
  await assert.rejects(
    unpackImage(source, join(parent, "c1"), {
      compressors,
      templates: RUN,
      // The first bytes read: the temporary folder exists and tar is running.
      onProgress: () => controller.abort(stop),
      signal: controller.signal,
    }),
    (err) => err === stop,
  );
  assert.deepEqual(readdirSync(parent), []);
});

test("unpackImage() removes the temporary folders of dead processes, not of live ones", async () => {
  const source = await built(work, false, "gzip");
  const parent = mkdtempSync(join(work, "out-"));
  const dead = spawnSync("true").pid!;
  const stale = join(parent, `old.imago-unpack-${dead}-0123456789ab`);
  mkdirSync(join(stale, "rootfs", "ro"), { recursive: true });
  writeFileSync(join(stale, "rootfs", "ro", "f"), "x");
  chmodSync(join(stale, "rootfs", "ro"), 0o555); // as an unpacked read-only folder can be
  const live = `other.imago-unpack-${process.pid}-0123456789ab`;
  const unknown = "x.imago-unpack-0123456789ab"; // no pid: whose it is cannot be told
  mkdirSync(join(parent, live));
  mkdirSync(join(parent, unknown));
  await unpackImage(source, join(parent, "c1"), { compressors, templates: RUN });
  assert.deepEqual(readdirSync(parent).sort(), ["c1", live, unknown].sort());
  assert.equal(readFileSync(join(parent, "c1", "etc", "hostname"), "utf8"), "c1\n");
  rmSync(join(parent, live), { recursive: true });
  rmSync(join(parent, unknown), { recursive: true });
  assertNoStage(parent);
});
