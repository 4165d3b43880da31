import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fingerprintFiles } from "../../src/core/fingerprint.ts";

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

test("fingerprintFiles hashes one file, across many reads and a partial last one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "imago-fp-"));
  try {
    const data = randomBytes((7 << 20) / 2 + 7); // 3.5 MiB + 7: four reads, the last short
    writeFileSync(join(dir, "a"), data);
    assert.equal(await fingerprintFiles(join(dir, "a")), sha(data));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("fingerprintFiles of a split image hashes the metadata file, then the rootfs", async () => {
  const dir = mkdtempSync(join(tmpdir(), "imago-fp-"));
  try {
    const meta = randomBytes(1 << 20); // exactly one read
    const rootfs = randomBytes(2500000);
    writeFileSync(join(dir, "meta"), meta);
    writeFileSync(join(dir, "rootfs"), rootfs);
    writeFileSync(join(dir, "empty"), new Uint8Array());
    const fp = await fingerprintFiles(join(dir, "meta"), join(dir, "rootfs"));
    assert.equal(fp, sha(meta, rootfs));
    assert.notEqual(fp, await fingerprintFiles(join(dir, "rootfs"), join(dir, "meta")));
    assert.equal(await fingerprintFiles(join(dir, "empty")), sha());
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("fingerprintFiles rejects when a file is missing", async () => {
  await assert.rejects(fingerprintFiles(join(tmpdir(), "imago-no-such-file")), /ENOENT|No such/);
});
