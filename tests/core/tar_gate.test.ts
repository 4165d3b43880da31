import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidInputError } from "../../src/core/errors.ts";
import { type CheckOptions, checkTarFile, tarGate } from "../../src/core/tar_gate.ts";
import { chunked, concat, entry, gnuLong, header, pax, tarOf } from "./tar_raw.ts";

const dec = new TextDecoder();
const UNIFIED: CheckOptions = { layout: "unified", dropDevices: false, action: "Cannot unpack" };
const SPLIT: CheckOptions = { ...UNIFIED, layout: "split" };

/** Runs `bytes` through a gate; returns what it forwarded and captured. */
async function gate(bytes: Uint8Array, opts: CheckOptions, chunk = 1000) {
  const g = tarGate(opts);
  const parts: Uint8Array[] = [];
  for await (const p of chunked(bytes, chunk).pipeThrough(g.stream)) parts.push(p);
  return { out: concat(parts), ...g.result() };
}

/** Runs `bytes`, written to a file, through checkTarFile(). */
async function checkFile(bytes: Uint8Array, opts: CheckOptions) {
  const dir = mkdtempSync(join(tmpdir(), "imago-gate-"));
  try {
    writeFileSync(join(dir, "t.tar"), bytes);
    return await checkTarFile(join(dir, "t.tar"), opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Names of the entries in a tar, as GNU tar lists them. */
function listed(bytes: Uint8Array): string[] {
  const dir = mkdtempSync(join(tmpdir(), "imago-gate-"));
  try {
    writeFileSync(join(dir, "t.tar"), bytes);
    return execFileSync("tar", ["-tf", join(dir, "t.tar")], { encoding: "utf8" }).split("\n")
      .filter((l) => l);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A GNU tar archive (format `format`) of a small tree with long names and links. */
function gnuArchive(format: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "imago-gate-"));
  try {
    const deep = join(dir, "src", "a".repeat(60), "b".repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, "c".repeat(60)), "deep\n");
    writeFileSync(join(dir, "src", "big"), new Uint8Array(70000).fill(7));
    symlinkSync("big", join(dir, "src", "link"));
    execFileSync("ln", [join(dir, "src", "big"), join(dir, "src", "hard")]);
    execFileSync("tar", [
      `--format=${format}`,
      "-cf",
      join(dir, "t.tar"),
      "-C",
      join(dir, "src"),
      ".",
    ]);
    return new Uint8Array(readFileSync(join(dir, "t.tar")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("tarGate() forwards GNU tar archives byte for byte, whatever the chunk size", async () => {
  for (const format of ["gnu", "posix", "ustar"]) {
    const bytes = gnuArchive(format);
    for (const chunk of [1, 511, 512, 513, 4096, 1 << 20]) {
      const { out, entries } = await gate(bytes, SPLIT, chunk);
      const end = out.byteLength - 1024;
      assert.deepEqual(out.subarray(0, end), bytes.subarray(0, end), `${format} ${chunk}`);
      assert.deepEqual(out.subarray(end), new Uint8Array(1024));
      assert.equal(entries, 7, `${format} ${chunk}`);
    }
    assert.equal((await checkFile(bytes, SPLIT)).entries, 7, format);
  }
});

test("tarGate() forwards only rootfs/ of a unified image and keeps metadata and templates", async () => {
  const bytes = tarOf(
    entry("metadata.yaml", "architecture: x86_64\n"),
    entry("templates/", "", { type: "5" }),
    entry("templates/hostname.tpl", "{{ container.name }}\n"),
    entry("notes.txt", "dropped"),
    entry("./rootfs/", "", { type: "5" }),
    entry("./rootfs/etc/hostname", "x\n"),
  );
  const r = await gate(bytes, UNIFIED, 700);
  assert.deepEqual(listed(r.out), ["./rootfs/", "./rootfs/etc/hostname"]);
  assert.equal(dec.decode(r.metadata), "architecture: x86_64\n");
  assert.deepEqual([...r.templates.keys()], ["hostname.tpl"]);
  assert.equal(dec.decode(r.templates.get("hostname.tpl")), "{{ container.name }}\n");
  const f = await checkFile(bytes, UNIFIED);
  assert.equal(f.entries, 2);
  assert.equal(dec.decode(f.metadata), "architecture: x86_64\n");
  assert.equal(dec.decode(f.templates.get("hostname.tpl")), "{{ container.name }}\n");
});

test("tarGate() stops at the first zero block, so nothing hidden after it reaches tar", async () => {
  const bytes = concat([
    entry("rootfs/a", "a"),
    new Uint8Array(512),
    entry("rootfs/hidden", "h"),
    new Uint8Array(1024),
  ]);
  assert.deepEqual(listed((await gate(bytes, UNIFIED)).out), ["rootfs/a"]);
  assert.equal((await checkFile(bytes, UNIFIED)).entries, 1);
});

test("tarGate() drops device nodes when asked and counts them", async () => {
  const bytes = tarOf(entry("rootfs/null", "", { type: "3" }), entry("rootfs/f", "f"));
  const r = await gate(bytes, { ...UNIFIED, dropDevices: true });
  assert.deepEqual(listed(r.out), ["rootfs/f"]);
  assert.equal(r.droppedDevices, 1);
});

/** Hostile archives: what each must be refused with (a part of the one-line message). */
const HOSTILE: [string, CheckOptions, Uint8Array, string][] = [
  ["a .. entry", UNIFIED, tarOf(entry("rootfs/../../evil", "x")), `"rootfs/../../evil"`],
  ["an absolute entry", SPLIT, tarOf(entry("/etc/evil", "x")), `"/etc/evil"`],
  [
    "an entry through an earlier symlink",
    UNIFIED,
    tarOf(
      entry("rootfs/lnk", "", { type: "2", linkname: "/etc" }),
      entry("rootfs/lnk/passwd", "x"),
    ),
    `"rootfs/lnk/passwd" goes through the symlink "rootfs/lnk"`,
  ],
  [
    "an entry through a symlink spelled differently",
    SPLIT,
    tarOf(entry("./a", "", { type: "2", linkname: "/" }), entry("a//b/./c", "x")),
    `goes through the symlink "a"`,
  ],
  [
    "an absolute hard link",
    UNIFIED,
    tarOf(entry("rootfs/shadow", "", { type: "1", linkname: "/etc/shadow" })),
    `"/etc/shadow"`,
  ],
  [
    "a hard link with ..",
    SPLIT,
    tarOf(entry("x", "", { type: "1", linkname: "../../etc/shadow" })),
    `"../../etc/shadow"`,
  ],
  [
    "a hard link through a symlink",
    UNIFIED,
    tarOf(
      entry("rootfs/lnk", "", { type: "2", linkname: "/etc" }),
      entry("rootfs/shadow", "", { type: "1", linkname: "rootfs/lnk/shadow" }),
    ),
    `hard link target "rootfs/lnk/shadow" goes through the symlink`,
  ],
  [
    "a hard link to a file outside rootfs/",
    UNIFIED,
    tarOf(
      entry("metadata.yaml", "a: 1\n"),
      entry("rootfs/m", "", { type: "1", linkname: "metadata.yaml" }),
    ),
    "points outside rootfs/",
  ],
  [
    "a directory carrying data (headers hidden from one reader)",
    SPLIT,
    tarOf(concat([header("dir/", { type: "5", size: 1024 }), entry("hidden", "h")])),
    `"dir" is a directory with data`,
  ],
  [
    "a hard link carrying data",
    SPLIT,
    tarOf(entry("a", "a"), entry("b", "xxxx", { type: "1", linkname: "a" })),
    `"b" is a hard link with data`,
  ],
  ["a bad checksum", SPLIT, tarOf(entry("a", "a", { checksumDelta: 1 })), "bad header checksum"],
  ["an old GNU sparse entry", SPLIT, tarOf(entry("s", "", { type: "S" })), `unsupported type "S"`],
  ["a volume label", SPLIT, tarOf(entry("label", "", { type: "V" })), `unsupported type "V"`],
  [
    "a pax path with ..",
    UNIFIED,
    tarOf(pax({ path: "rootfs/../../evil" }), entry("rootfs/ok", "x")),
    `"rootfs/../../evil"`,
  ],
  [
    "two different pax names",
    SPLIT,
    tarOf(pax({ path: "a", "GNU.sparse.name": "b" }), entry("a", "x")),
    "two different pax names",
  ],
  [
    "names inside and outside rootfs/",
    UNIFIED,
    tarOf(pax({ path: "templates/evil.tpl" }), entry("rootfs/x", "x")),
    "inside and outside rootfs/",
  ],
  ["a GNU long name with ..", SPLIT, tarOf(gnuLong("../evil"), entry("ok", "x")), `"../evil"`],
  [
    "a pax global header setting a path",
    SPLIT,
    tarOf(pax({ path: "evil" }, "g"), entry("ok", "x")),
    `sets "path"`,
  ],
  [
    "rootfs as a symlink",
    UNIFIED,
    tarOf(entry("rootfs", "", { type: "2", linkname: "/" })),
    `"rootfs" in the image must be a directory`,
  ],
  ["a truncated archive", SPLIT, entry("a", "x".repeat(2000)).subarray(0, 1000), "truncated"],
];

for (const [what, opts, bytes, expect] of HOSTILE) {
  test(`tarGate() and checkTarFile() refuse ${what}`, async () => {
    for (const run of [gate, checkFile]) {
      await assert.rejects(run(bytes, opts), (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, String(err));
        assert.ok(err.message.startsWith("Cannot unpack: "), err.message);
        assert.ok(err.message.includes(expect), `"${err.message}" lacks ${expect}`);
        return true;
      });
    }
  });
}
