/**
 * Interop of dist/imago with the real LXD daemon (scripts/lxd.sh): images built by imago import
 * into LXD with the same fingerprint and record, images exported by LXD import into imago with
 * LXD's fingerprint and record, and imago exports them byte for byte. Each test uses a fresh
 * store and deletes what it put into LXD. Outside CI the tests skip when lxc, its daemon, the
 * binary or a fixture tool is missing; under CI that is a failure.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import {
  exec,
  execOk,
  exportedFiles,
  type ImageJson,
  imagoSandbox,
  lxc,
  lxdDelete,
  lxdEnv,
  lxdImage,
  lxdImport,
  lxdSkip,
  sha256Files,
} from "./e2e_helpers.ts";

const skip = lxdSkip("tar", "xz", "gzip");
const squashSkip = skip || lxdSkip("mksquashfs");
const vmSkip = skip || lxdSkip("qemu-img");
for (const reason of new Set([skip, squashSkip, vmSkip])) {
  if (reason) console.error(`lxd_interop.test.ts: skipping: ${reason}`);
}

const METADATA = `architecture: x86_64
creation_date: 1700000000
properties:
  os: imagotest
  release: "23.10"
  variant: "e2e: interop"
  description: Imago interop test image
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
`;

/**
 * Writes metadata.yaml, templates/ and rootfs/ into `dir`. A random nonce in a template and in
 * the rootfs makes every image unique, so no run collides with leftovers of another.
 */
function writeSource(dir: string): string {
  const nonce = randomBytes(8).toString("hex");
  mkdirSync(join(dir, "templates"), { recursive: true });
  mkdirSync(join(dir, "rootfs/etc"), { recursive: true });
  mkdirSync(join(dir, "rootfs/usr/bin"), { recursive: true });
  writeFileSync(join(dir, "metadata.yaml"), METADATA);
  writeFileSync(join(dir, "templates/hostname.tpl"), `{{ container.name }}\n# ${nonce}\n`);
  writeFileSync(join(dir, "rootfs/etc/motd"), "Welcome to an imago test image\n");
  writeFileSync(join(dir, "rootfs/etc/nonce"), `${nonce}\n`);
  writeFileSync(join(dir, "rootfs/usr/bin/hello"), "#!/bin/sh\necho hello\n");
  chmodSync(join(dir, "rootfs/usr/bin/hello"), 0o755);
  symlinkSync("motd", join(dir, "rootfs/etc/issue"));
  return dir;
}

type Tar = "" | "-z" | "-J";

function tar(out: string, flag: Tar, cwd: string, ...names: string[]): string {
  execOk("tar", ["-c", ...(flag ? [flag] : []), "--numeric-owner", "-f", out, "-C", cwd, ...names]);
  return out;
}

const unified = (flag: Tar, ext: string) => (src: string, out: string) => [
  tar(join(out, `image${ext}`), flag, src, "metadata.yaml", "templates", "rootfs"),
];

const metaTar = (src: string, out: string, flag: Tar, ext: string) =>
  tar(join(out, `meta${ext}`), flag, src, "metadata.yaml", "templates");

/** Image files as a user would hand them to `lxc image import`, by form. */
const LXD_FORMS: {
  name: string;
  skip: string | false;
  make(src: string, out: string): string[];
}[] = [
  { name: "unified tar.xz", skip, make: unified("-J", ".tar.xz") },
  { name: "unified tar.gz", skip, make: unified("-z", ".tar.gz") },
  { name: "unified tar", skip, make: unified("", ".tar") },
  {
    name: "split tar.gz + tar.xz rootfs",
    skip,
    make: (src, out) => [
      metaTar(src, out, "-z", ".tar.gz"),
      tar(join(out, "rootfs.tar.xz"), "-J", join(src, "rootfs"), "."),
    ],
  },
  {
    name: "split tar.xz + squashfs rootfs",
    skip: squashSkip,
    make: (src, out) => {
      const rootfs = join(out, "rootfs.squashfs");
      execOk("mksquashfs", [join(src, "rootfs"), rootfs, "-noappend", "-no-progress"]);
      return [metaTar(src, out, "-J", ".tar.xz"), rootfs];
    },
  },
  {
    name: "split tar + tar rootfs",
    skip,
    make: (src, out) => [
      metaTar(src, out, "", ".tar"),
      tar(join(out, "rootfs.tar"), "", join(src, "rootfs"), "."),
    ],
  },
];

/** The record fields both tools must agree on; deepEqual then names the ones that differ. */
function comparable(i: ImageJson) {
  const { fingerprint, architecture, type, size, created_at, properties } = i;
  return { fingerprint, architecture, type, size, created_at, properties };
}

/**
 * `info` output without the lines that differ by nature (upload and last-use times), each
 * section's entries sorted: `lxc image info` prints properties in Go's random map order.
 */
function infoText(text: string): string {
  const sections: string[][] = [];
  for (const line of text.trimEnd().split("\n")) {
    if (/^\s*(Uploaded|Last used):/.test(line)) continue;
    if (/^\s/.test(line) && sections.length) sections.at(-1)!.push(line);
    else sections.push([line]);
  }
  return sections.map(([head, ...body]) => [head, ...body.sort()].join("\n")).join("\n");
}

function assertSameFiles(actualDir: string, expectedDir: string): void {
  assert.deepEqual(readdirSync(actualDir).sort(), readdirSync(expectedDir).sort());
  for (const name of readdirSync(expectedDir)) {
    const same = readFileSync(join(actualDir, name)).equals(readFileSync(join(expectedDir, name)));
    assert.ok(same, `"${name}" differs between ${actualDir} and ${expectedDir}`);
  }
}

function freshDir(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * LXD exports image `fp`; a fresh imago store imports the export and must hold the same record
 * (and `info`), and imago's own export must be byte-identical to LXD's.
 */
function assertLxdExportRoundTrips(fp: string): void {
  const sb = imagoSandbox();
  try {
    const fromLxd = freshDir(sb.dir, "lxd-export");
    lxc("image", "export", fp, fromLxd);
    sb.imago("import", ...exportedFiles(fromLxd));
    const images = sb.images();
    assert.equal(images.length, 1);
    assert.deepEqual(comparable(images[0]), comparable(lxdImage(fp)));
    assert.equal(infoText(sb.imago("info", fp)), infoText(lxc("image", "info", fp)));
    const fromImago = freshDir(sb.dir, "imago-export");
    sb.imago("export", fp, fromImago);
    assertSameFiles(fromImago, fromLxd);
  } finally {
    sb.cleanup();
  }
}

const EXT = { xz: ".tar.xz", gzip: ".tar.gz", none: ".tar" };

for (const split of [false, true]) {
  for (const compression of ["xz", "gzip", "none"] as const) {
    const form = split ? "split" : "unified";
    const name = `imago build (${form}, ${compression}) imports into LXD with the same record`;
    test(name, { skip }, () => {
      const sb = imagoSandbox();
      let fp: string | undefined;
      try {
        const src = writeSource(join(sb.dir, "src"));
        sb.imago("build", src, ...(split ? ["--split"] : []), "--compression", compression);
        const images = sb.images();
        assert.equal(images.length, 1);
        const built = images[0];
        assert.equal(built.type, "container");

        const out = freshDir(sb.dir, "imago-export");
        sb.imago("export", built.fingerprint, out);
        const files = exportedFiles(out);
        assert.equal(files.length, split ? 2 : 1);
        assert.ok(basename(files.at(-1)!).endsWith(EXT[compression]), `${files} by compression`);
        assert.equal(sha256Files(...files), built.fingerprint);

        fp = lxdImport(...files);
        assert.equal(fp, built.fingerprint);
        assert.deepEqual(comparable(lxdImage(fp)), comparable(built));
        assert.equal(infoText(lxc("image", "info", fp)), infoText(sb.imago("info", fp)));
        // LXD kept exactly imago's bytes.
        const back = freshDir(sb.dir, "lxd-export");
        lxc("image", "export", fp, back);
        assertSameFiles(back, out);
      } finally {
        lxdDelete(fp);
        sb.cleanup();
      }
    });
  }
}

for (const form of LXD_FORMS) {
  const name = `imago import of an LXD export (${form.name}) keeps its record and bytes`;
  test(name, { skip: form.skip }, () => {
    const sb = imagoSandbox();
    let fp: string | undefined;
    try {
      const files = form.make(writeSource(join(sb.dir, "src")), sb.dir);
      fp = lxdImport(...files);
      // LXD fingerprints the file bytes (metadata then rootfs for split images).
      assert.equal(fp, sha256Files(...files));
      assertLxdExportRoundTrips(fp);
    } finally {
      lxdDelete(fp);
      sb.cleanup();
    }
  });
}

const VM_TEST =
  "imago import of a split VM image (qcow2 rootfs) matches LXD's type and fingerprint";
test(VM_TEST, { skip: vmSkip }, () => {
  const sb = imagoSandbox();
  let fp: string | undefined;
  try {
    const src = writeSource(join(sb.dir, "src"));
    const meta = metaTar(src, sb.dir, "-J", ".tar.xz");
    const disk = join(sb.dir, "disk.qcow2");
    execOk("qemu-img", ["create", "-q", "-f", "qcow2", disk, "16M"]);
    sb.imago("import", meta, disk);
    const images = sb.images();
    assert.equal(images.length, 1);
    assert.equal(images[0].type, "virtual-machine");
    assert.equal(images[0].fingerprint, sha256Files(meta, disk));

    const r = exec("lxc", ["image", "import", meta, disk], lxdEnv());
    if (r.status !== 0) {
      // Without KVM LXD may refuse VM images; the fingerprint was checked against sha256 above.
      console.log(`lxd_interop.test.ts: LXD refused the VM image: ${r.stderr.trim()}`);
      return;
    }
    fp = r.stdout.match(/fingerprint: ([0-9a-f]{64})/)?.[1];
    assert.equal(fp, images[0].fingerprint, r.stdout);
    assert.deepEqual(comparable(lxdImage(fp)), comparable(images[0]));
    assertLxdExportRoundTrips(fp);
  } finally {
    lxdDelete(fp);
    sb.cleanup();
  }
});
