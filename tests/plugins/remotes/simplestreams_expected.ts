/**
 * What the fixture tree of scripts/make_simplestreams_fixture.ts offers, written out by hand from
 * the templates in tests/fixtures/simplestreams: the images LXD's rules give, with fingerprints
 * computed from the generated files (never by the code under test).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SimplestreamsTree } from "../../../scripts/make_simplestreams_fixture.ts";

export const IMAGES = "streams/v1/images.json";
export const UBUNTU = "streams/v1/com.ubuntu.cloud:released:download.json";

/** Products file, product, version, metadata item key, rootfs item key (none: unified). */
export type Row = [string, string, string, string, string | undefined];

/** Every image of the tree. Skipped on purpose: the "2024" and "nightly-20240401" versions,
 * the sparc64 product, the jammy amd64 disk and the arm64 uefi1.img (no combined hash). */
export const EXPECTED: Row[] = [
  [IMAGES, "alpine:3.19:amd64:default", "20240101_13:00", "lxd.tar.xz", "root.squashfs"],
  [IMAGES, "alpine:3.19:amd64:default", "20240101_13:00", "lxd.tar.xz", "root.tar.xz"],
  [IMAGES, "alpine:3.19:amd64:default", "20240301_13:00", "lxd.tar.xz", "root.squashfs"],
  [IMAGES, "alpine:3.19:amd64:default", "20240301_13:00", "lxd.tar.xz", "disk.qcow2"],
  [IMAGES, "alpine:3.19:arm64:default", "20240301_13:00", "incus.tar.xz", "root.squashfs"],
  [IMAGES, "alpine:3.19:arm64:default", "20240301_13:00", "incus.tar.xz", "disk.qcow2"],
  [IMAGES, "alpine:3.20:amd64:cloud", "20240315_13:00", "lxd.tar.xz", "root.tar.xz"],
  [UBUNTU, "com.ubuntu.cloud:server:20.04:amd64", "20230110", "lxd.tar.xz", "squashfs"],
  [UBUNTU, "com.ubuntu.cloud:server:22.04:amd64", "20240215", "lxd_combined.tar.gz", undefined],
  [UBUNTU, "com.ubuntu.cloud:server:22.04:amd64", "20240220", "lxd.tar.xz", "root.tar.xz"],
  [UBUNTU, "com.ubuntu.cloud:server:22.04:amd64", "20240220", "lxd.tar.xz", "squashfs"],
  [UBUNTU, "com.ubuntu.cloud:server:22.04:arm64", "20240220", "lxd.tar.xz", "squashfs"],
  [UBUNTU, "com.ubuntu.cloud:server:22.04:arm64", "20240220", "lxd.tar.xz", "disk1.img"],
];

/** An item of the tree by products file, product, version and item key. */
export function treeItem(
  tree: SimplestreamsTree,
  file: string,
  product: string,
  version: string,
  key: string,
) {
  return tree.products[file].products[product].versions[version].items[key];
}

/** The fingerprint and facts of a row, computed from the files themselves. */
export function expectedImage(tree: SimplestreamsTree, row: Row) {
  const [file, product, version, metaKey, rootKey] = row;
  const h = createHash("sha256");
  const meta = treeItem(tree, file, product, version, metaKey);
  h.update(readFileSync(join(tree.dir, String(meta.path))));
  const root = rootKey ? treeItem(tree, file, product, version, rootKey) : undefined;
  if (root) h.update(readFileSync(join(tree.dir, String(root.path))));
  const ftype = root ? String(root.ftype) : "tar.gz";
  const vm = ["disk-kvm.img", "disk1.img"].includes(ftype);
  const arch = tree.products[file].products[product].arch === "amd64" ? "x86_64" : "aarch64";
  return { fp: h.digest("hex"), type: vm ? "virtual-machine" : "container", arch, ftype, version };
}
