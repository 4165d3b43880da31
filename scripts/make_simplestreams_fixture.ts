/**
 * Writes a simplestreams tree shaped like the public servers' (images.linuxcontainers.org and
 * cloud-images.ubuntu.com) from the committed templates in tests/fixtures/simplestreams: the
 * JSON there names every item; this script makes each item's file (metadata tarballs, SquashFS
 * and tarball rootfs, qcow2 disks, unified tarballs, deltas, manifests) with the system tools
 * (tar, xz, mksquashfs, qemu-img), then fills in real sizes, sha256 and combined_*_sha256
 * (template value "@") and adds .sjson copies, which clients must never need. Tests call
 * makeSimplestreamsTree(); by hand:
 *   deno run -A scripts/make_simplestreams_fixture.ts OUT_DIR   (or: node scripts/...)
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const TEMPLATE_DIR = fileURLToPath(
  new URL("../tests/fixtures/simplestreams", import.meta.url),
);

type Item = Record<string, string | number>;
interface Version {
  items: Record<string, Item>;
}
interface Product {
  arch: string;
  os: string;
  release: string;
  variant?: string;
  versions: Record<string, Version>;
}
interface ProductsDoc {
  products: Record<string, Product>;
}

/** What was written: the tree's root and each JSON document as served. */
export interface SimplestreamsTree {
  dir: string;
  index: { index: Record<string, { path: string; datatype: string; products: string[] }> };
  /** Products documents by their path in the tree, e.g. "streams/v1/images.json". */
  products: Record<string, ProductsDoc & Record<string, unknown>>;
}

const ARCH: Record<string, string> = { amd64: "x86_64", arm64: "aarch64" };
const ROOTFS_FTYPES = ["root.tar.xz", "squashfs", "disk-kvm.img", "disk1.img", "uefi1.img"];
const COMBINED_FIELD: Record<string, string[]> = {
  "root.tar.xz": ["combined_rootxz_sha256", "combined_sha256"],
  "squashfs": ["combined_squashfs_sha256"],
  "disk-kvm.img": ["combined_disk-kvm-img_sha256"],
  "disk1.img": ["combined_disk1-img_sha256"],
  "uefi1.img": ["combined_uefi1-img_sha256"],
};

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function run(cmd: string, args: string[], cwd?: string): void {
  try {
    execFileSync(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Uint8Array };
    const why = e.code === "ENOENT" ? "not installed" : new TextDecoder().decode(e.stderr);
    throw new Error(`Cannot make the simplestreams fixture: "${cmd}" failed: ${why}`);
  }
}

/** Makes the files of one version; `ctx` says what the image is, for unique content. */
class FileMaker {
  readonly #work: string;
  #n = 0;
  constructor(work: string) {
    this.#work = work;
  }

  #scratch(): string {
    const d = join(this.#work, `s${this.#n++}`);
    mkdirSync(d, { recursive: true });
    return d;
  }

  #metadataYaml(p: Product, serial: string): string {
    const m = /^(\d{4})(\d{2})(\d{2})/.exec(serial) ?? ["", "2024", "01", "01"];
    const date = Date.UTC(+m[1], +m[2] - 1, +m[3]) / 1000;
    return [
      `architecture: ${ARCH[p.arch] ?? p.arch}`,
      `creation_date: ${date + 13 * 3600}`,
      "properties:",
      `  description: "${p.os} ${p.release} ${p.arch} (${serial})"`,
      `  os: ${p.os}`,
      `  release: "${p.release}"`,
      `  serial: "${serial}"`,
      "templates:",
      "  /etc/hostname:",
      "    when: [create, copy]",
      "    template: hostname.tpl",
      "",
    ].join("\n");
  }

  #rootfsDir(into: string, p: Product, serial: string, what: string): void {
    mkdirSync(join(into, "etc"), { recursive: true });
    writeFileSync(
      join(into, "etc", "os-release"),
      `NAME="${p.os}"\nVERSION_ID="${p.release}"\nBUILD_ID="${serial}"\nARCH="${p.arch}"\n` +
        `IMAGE="${what}"\n`,
    );
  }

  /** The bytes of `out` for an item of `ftype`, written to `out`. */
  make(out: string, ftype: string, p: Product, serial: string): void {
    mkdirSync(dirname(out), { recursive: true });
    const s = this.#scratch();
    const tar = ["--format=gnu", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0"];
    if (ftype === "lxd.tar.xz" || ftype === "incus.tar.xz") {
      writeFileSync(join(s, "metadata.yaml"), this.#metadataYaml(p, serial));
      mkdirSync(join(s, "templates"));
      writeFileSync(join(s, "templates", "hostname.tpl"), "{{ container.name }}\n");
      run("tar", [...tar, "-cJf", out, "-C", s, "metadata.yaml", "templates"]);
    } else if (ftype === "lxd_combined.tar.gz" || ftype === "incus_combined.tar.gz") {
      writeFileSync(join(s, "metadata.yaml"), this.#metadataYaml(p, serial));
      this.#rootfsDir(join(s, "rootfs"), p, serial, "unified");
      run("tar", [...tar, "-czf", out, "-C", s, "metadata.yaml", "rootfs"]);
    } else if (ftype === "root.tar.xz") {
      this.#rootfsDir(s, p, serial, "tarball");
      run("tar", [...tar, "-cJf", out, "-C", s, "."]);
    } else if (ftype === "squashfs") {
      this.#rootfsDir(s, p, serial, "squashfs");
      run("mksquashfs", [s, out, "-noappend", "-quiet", "-all-root", "-mkfs-time", "0"]);
    } else if (["disk-kvm.img", "disk1.img", "uefi1.img"].includes(ftype)) {
      // Distinct virtual sizes make distinct files.
      run("qemu-img", ["create", "-q", "-f", "qcow2", out, `${16 + this.#n}M`]);
    } else if (ftype.endsWith(".vcdiff")) {
      // The VCDIFF magic and some bytes: clients must ignore deltas without reading them.
      const body = new TextEncoder().encode(`delta ${p.os} ${p.arch} ${serial} ${ftype}`);
      writeFileSync(out, new Uint8Array([0xd6, 0xc3, 0xc4, 0x00, ...body]));
    } else {
      writeFileSync(out, `${p.os} ${p.release} ${p.arch} ${serial} ${ftype}\n`);
    }
  }
}

/** A clearsigned-looking copy: real servers publish these; LXD and imago never read them. */
function sjson(text: string): string {
  return "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + text +
    "\n-----BEGIN PGP SIGNATURE-----\n\nbm90IGEgcmVhbCBzaWduYXR1cmU=\n-----END PGP SIGNATURE-----\n";
}

function fillVersion(dir: string, maker: FileMaker, p: Product, serial: string, v: Version) {
  const made = new Map<string, Uint8Array>();
  const file = (item: Item): Uint8Array => {
    const path = String(item.path);
    let bytes = made.get(path);
    if (!bytes) {
      maker.make(join(dir, path), String(item.ftype), p, serial);
      bytes = readFileSync(join(dir, path));
      made.set(path, bytes);
    }
    return bytes;
  };
  const items = Object.values(v.items);
  for (const item of items) {
    const bytes = file(item);
    item.size = bytes.byteLength;
    item.sha256 = sha256(bytes);
  }
  for (const meta of items) {
    for (const root of items.filter((i) => ROOTFS_FTYPES.includes(String(i.ftype)))) {
      for (const field of COMBINED_FIELD[String(root.ftype)]) {
        if (meta[field] !== "@") continue;
        meta[field] = createHash("sha256").update(file(meta)).update(file(root)).digest("hex");
      }
    }
  }
}

/** Writes the tree into `dir` (created if needed) and returns what it wrote. */
export function makeSimplestreamsTree(dir: string): SimplestreamsTree {
  const work = mkdtempSync(join(tmpdir(), "imago-ss-work-"));
  try {
    const maker = new FileMaker(work);
    const streams = join(dir, "streams", "v1");
    mkdirSync(streams, { recursive: true });
    const indexText = readFileSync(join(TEMPLATE_DIR, "streams/v1/index.json"), "utf8");
    const tree: SimplestreamsTree = { dir, index: JSON.parse(indexText), products: {} };
    for (const name of readdirSync(join(TEMPLATE_DIR, "streams/v1")).sort()) {
      if (name === "index.json") continue;
      const doc = JSON.parse(readFileSync(join(TEMPLATE_DIR, "streams/v1", name), "utf8"));
      for (const p of Object.values(doc.products as Record<string, Product>)) {
        for (const [serial, v] of Object.entries(p.versions)) fillVersion(dir, maker, p, serial, v);
      }
      const text = JSON.stringify(doc, null, 1);
      writeFileSync(join(streams, name), text);
      writeFileSync(join(streams, name.replace(/\.json$/, ".sjson")), sjson(text));
      tree.products[`streams/v1/${name}`] = doc;
    }
    writeFileSync(join(streams, "index.json"), indexText);
    writeFileSync(join(streams, "index.sjson"), sjson(indexText));
    return tree;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const out = process.argv[2];
  if (!out) {
    console.error("usage: make_simplestreams_fixture.ts OUT_DIR");
    process.exit(2);
  }
  const tree = makeSimplestreamsTree(out);
  console.log(`wrote ${Object.keys(tree.products).length + 1} JSON documents and files to ${out}`);
}
