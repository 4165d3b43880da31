import { test } from "node:test";
import assert from "node:assert/strict";
import { AmbiguousRefError, NotFoundError } from "../../../src/core/errors.ts";
import {
  applyAliases,
  findAlias,
  sortImages,
} from "../../../src/plugins/remotes/simplestreams/aliases.ts";
import { findImage } from "../../../src/plugins/remotes/simplestreams/index.ts";
import type { SsImage } from "../../../src/plugins/remotes/simplestreams/to_images.ts";
import { canonicalArch } from "../../../src/core/arch.ts";

const BASE = "https://images.example.org/";

/** A catalogue image with just what sorting and aliasing read. */
function image(
  fp: string,
  opts: { arch?: string; serial?: string; type?: string; aliases?: string; release?: string },
): SsImage {
  const arch = opts.arch ?? "amd64";
  const rootType = opts.type ?? "squashfs";
  const vm = ["disk-kvm.img", "disk1.img", "uefi1.img"].includes(rootType);
  return {
    fingerprint: fp.padEnd(64, "0"),
    type: vm ? "virtual-machine" : "container",
    architecture: canonicalArch(arch)!,
    size: 1,
    filename: "lxd.tar.xz",
    public: true,
    properties: {
      os: "Alpine",
      release: opts.release ?? "3.19",
      architecture: arch,
      serial: opts.serial ?? "20240301_13:00",
      type: rootType,
    },
    aliases: (opts.aliases ?? "alpine/3.19").split(",").map((name) => ({ name, description: "" })),
    created_at: "",
    uploaded_at: "",
    expires_at: "",
    meta: { ftype: "lxd.tar.xz", path: "m", size: 1, sha256: "", combined: {} },
  };
}

const names = (i: SsImage) => i.aliases.map((a) => a.name);
const short = (fp: string) => fp.replace(/0+$/, "");

test("sortImages() orders newest serial first, then architecture, then rootfs preference", () => {
  const sorted = sortImages([
    image("a1", { serial: "20240101" }),
    image("b1", { serial: "20240301", type: "disk1.img" }),
    image("b2", { serial: "20240301", type: "root.tar.xz" }),
    image("b3", { serial: "20240301", type: "squashfs" }),
    image("b4", { serial: "20240301", type: "disk-kvm.img" }),
    image("c1", { serial: "20240301", arch: "arm64" }),
    image("d1", { serial: "20230101", release: "3.18" }),
  ]);
  assert.deepEqual(sorted.map((i) => short(i.fingerprint)), [
    "d1",
    "b3",
    "b2",
    "b4",
    "b1",
    "c1",
    "a1",
  ]);
});

test("applyAliases() gives each alias and alias/<arch> to the newest image per type and arch", () => {
  const { images, aliases } = applyAliases([
    image("01d", { serial: "20240101" }),
    image("02c", { serial: "20240301" }),
    image("03a", { serial: "20240301", arch: "arm64" }),
    image("04b", { serial: "20240301", type: "disk-kvm.img" }),
  ], { baseUrl: BASE, hostArch: "x86_64" });
  const byFp = Object.fromEntries(images.map((i) => [short(i.fingerprint), names(i)]));
  assert.deepEqual(byFp, {
    "02c": ["alpine/3.19", "alpine/3.19/amd64"],
    "04b": ["alpine/3.19", "alpine/3.19/amd64"],
    // The short alias is listed on host-architecture images only, but it exists for arm64 too.
    "03a": ["alpine/3.19/arm64"],
    "01d": [],
  });
  const table = aliases.map((a) => [a.name, a.type, a.architecture, short(a.target), a.qualified]);
  assert.deepEqual(table.sort(), [
    ["alpine/3.19", "container", "aarch64", "03a", false],
    ["alpine/3.19", "container", "x86_64", "02c", false],
    ["alpine/3.19", "virtual-machine", "x86_64", "04b", false],
    ["alpine/3.19/amd64", "container", "x86_64", "02c", true],
    ["alpine/3.19/amd64", "virtual-machine", "x86_64", "04b", true],
    ["alpine/3.19/arm64", "container", "aarch64", "03a", true],
  ]);
});

test("applyAliases() splits on commas and prefers squashfs when serials tie", () => {
  const { images } = applyAliases([
    image("0a", { type: "root.tar.xz", aliases: "x,y" }),
    image("0b", { type: "squashfs", aliases: "x,y" }),
  ], { baseUrl: BASE, hostArch: "x86_64" });
  assert.deepEqual(images.map((i) => [short(i.fingerprint), names(i)]), [
    ["0b", ["x", "x/amd64", "y", "y/amd64"]],
    ["0a", []],
  ]);
});

test("applyAliases() strips ubuntu/ only for cloud-images.ubuntu.com", () => {
  const images = [image("0a", { aliases: "ubuntu/jammy,22.04" })];
  const ubuntu = applyAliases(images, {
    baseUrl: "https://cloud-images.ubuntu.com/releases/",
    hostArch: "x86_64",
  });
  assert.deepEqual(names(ubuntu.images[0]), ["jammy", "jammy/amd64", "22.04", "22.04/amd64"]);
  const other = applyAliases(images, { baseUrl: BASE, hostArch: "x86_64" });
  assert.deepEqual(names(other.images[0]), [
    "ubuntu/jammy",
    "ubuntu/jammy/amd64",
    "22.04",
    "22.04/amd64",
  ]);
});

function catalogue(hostArch = "x86_64") {
  return applyAliases([
    image("c0a", { arch: "amd64" }),
    image("c0b", { arch: "i386" }),
    image("c0c", { arch: "arm64" }),
    image("c0d", { arch: "amd64", type: "disk-kvm.img" }),
    image("c0e", { arch: "arm64", type: "disk-kvm.img", aliases: "vmonly" }),
    image("c0f", { arch: "i386", aliases: "old" }),
  ], { baseUrl: BASE, hostArch });
}

test("findAlias() prefers containers, then the wanted type, arch and its personalities", () => {
  const { aliases } = catalogue();
  const find = (name: string, want: { arch: string; type?: "container" | "virtual-machine" }) =>
    short(findAlias(aliases, name, want)?.target ?? "none");
  assert.equal(find("alpine/3.19", { arch: "x86_64" }), "c0a");
  assert.equal(find("alpine/3.19", { arch: "amd64" }), "c0a");
  assert.equal(find("alpine/3.19", { arch: "x86_64", type: "virtual-machine" }), "c0d");
  assert.equal(find("alpine/3.19", { arch: "aarch64" }), "c0c");
  // No i686 build of "old" for x86_64 natively: the personality is taken.
  assert.equal(find("old", { arch: "x86_64" }), "c0f");
  assert.equal(find("old", { arch: "aarch64" }), "none");
  // No container: the VM is the answer without a type, nothing with type container.
  assert.equal(find("vmonly", { arch: "aarch64" }), "c0e");
  assert.equal(find("vmonly", { arch: "aarch64", type: "container" }), "none");
  // An alias/<arch> names its architecture itself.
  assert.equal(find("alpine/3.19/arm64", { arch: "x86_64" }), "c0c");
  assert.equal(find("alpine/3.19/i386", { arch: "aarch64" }), "c0b");
});

test("findImage() resolves aliases, then fingerprints and unique prefixes", () => {
  const cat = catalogue();
  assert.equal(short(findImage(cat, "alpine/3.19", { arch: "x86_64" }).fingerprint), "c0a");
  assert.equal(short(findImage(cat, "c0d", { arch: "x86_64" }).fingerprint), "c0d");
  assert.equal(short(findImage(cat, "C0E", { arch: "x86_64" }).fingerprint), "c0e");
  assert.throws(() => findImage(cat, "c0", { arch: "x86_64" }), AmbiguousRefError);
  assert.throws(() => findImage(cat, "nope", { arch: "x86_64" }), NotFoundError);
  assert.throws(() => findImage(cat, "ffff", { arch: "x86_64" }), /Image "ffff" not found/);
});

test("findImage() says which architectures an alias has when the wanted one is missing", () => {
  assert.throws(
    () => findImage(catalogue(), "vmonly", { arch: "x86_64" }),
    (err: Error) =>
      err instanceof NotFoundError &&
      err.message ===
        'Cannot resolve "vmonly": no image for architecture "x86_64" (available: ' +
          'virtual-machine aarch64); add the architecture to the name ("vmonly/ARCH") ' +
          "or choose one with --arch",
  );
});
