/**
 * A simplestreams tree generated from the visible images: streams/v1/index.json and
 * streams/v1/images.json, with items of both LXD (`lxd.*`) and Incus (`incus.*`) ftypes in each
 * version, since each consumer ignores the other's. Files are served under images/<fp>/<name>.
 */
import { canonicalArch } from "../core/arch.ts";
import type { ImageRecord, RootfsKind } from "../core/model.ts";
import type { Store } from "../core/store.ts";
import type { FileHashes } from "./file_hashes.ts";

/** Product architecture names, as Ubuntu's and LXD's image servers spell them. */
const PRODUCT_ARCH: Readonly<Record<string, string>> = {
  x86_64: "amd64",
  i686: "i386",
  aarch64: "arm64",
  armv7l: "armhf",
  armv6l: "armel",
  ppc64le: "ppc64el",
  ppc: "powerpc",
  ppc64: "powerpc64",
  mips: "mipsel",
  mips64: "mips64el",
};

/** amd64 for x86_64 and so on; names LXD knows without an alias stay as they are. */
export function productArch(arch: string): string {
  const canonical = canonicalArch(arch) ?? arch;
  return PRODUCT_ARCH[canonical] ?? canonical;
}

/** Rootfs item per kind: key, ftype and the combined-hash field LXD reads for it. */
const ROOTFS_ITEM: Readonly<Record<RootfsKind, { key: string; ftype: string; combined: string }>> =
  {
    squashfs: { key: "root.squashfs", ftype: "squashfs", combined: "combined_squashfs_sha256" },
    tar: { key: "root.tar.xz", ftype: "root.tar.xz", combined: "combined_rootxz_sha256" },
    qcow2: { key: "disk.qcow2", ftype: "disk-kvm.img", combined: "combined_disk-kvm-img_sha256" },
  };

export type Item = Record<string, string | number>;

export interface Product {
  aliases: string;
  arch: string;
  os: string;
  release: string;
  release_title: string;
  variant: string;
  versions: Record<string, { items: Record<string, Item> }>;
}

/** The product an image belongs to: os:release:arch:variant from its properties. */
export function productKey(rec: ImageRecord): string {
  const p = rec.properties;
  const release = p.release || rec.fingerprint.slice(0, 12);
  return `${p.os || "imago"}:${release}:${productArch(rec.architecture)}:${p.variant || "default"}`;
}

/** YYYYMMDD_hh:mm of the image's creation (LXD skips versions not starting with a date). */
export function versionKey(rec: ImageRecord): string {
  let t = Date.parse(rec.created_at);
  if (!(t > 0)) t = Date.parse(rec.uploaded_at);
  const d = new Date(t > 0 ? t : 0).toISOString();
  return `${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}_${d.slice(11, 16)}`;
}

/** Where an image file is served in the tree. */
export function itemPath(fingerprint: string, name: string): string {
  return `images/${fingerprint}/${name}`;
}

/** Product names only: enough for index.json, and no hashing needed. */
export function productNames(images: readonly ImageRecord[]): string[] {
  return [...new Set(images.map(productKey))].sort();
}

export function indexJson(images: readonly ImageRecord[]): unknown {
  return {
    format: "index:1.0",
    index: {
      images: {
        datatype: "image-downloads",
        path: "streams/v1/images.json",
        format: "products:1.0",
        products: productNames(images),
      },
    },
  };
}

async function items(
  rec: ImageRecord,
  store: Store,
  hashes: FileHashes,
): Promise<Record<string, Item>> {
  const fp = rec.fingerprint;
  const files = store.files(fp);
  const meta = { path: itemPath(fp, files.metadata.name), size: files.metadata.size };
  if (!files.rootfs || !rec.files.rootfs) {
    const unified = { ...meta, sha256: fp, combined_type: rec.type };
    // LXD 5.0 types every combined image as a container, so it gets no VM as one.
    return {
      ...(rec.type === "container"
        ? { "lxd_combined.tar.gz": { ftype: "lxd_combined.tar.gz", ...unified } }
        : {}),
      "incus_combined.tar.gz": { ftype: "incus_combined.tar.gz", ...unified },
    };
  }
  const h = await hashes.get(rec);
  const root = ROOTFS_ITEM[rec.files.rootfs.kind];
  const combined: Item = { [root.combined]: fp };
  if (root.ftype === "root.tar.xz") combined.combined_sha256 = fp;
  const metaItem = { ...meta, sha256: h.metadata, ...combined };
  return {
    "lxd.tar.xz": { ftype: "lxd.tar.xz", ...metaItem },
    "incus.tar.xz": { ftype: "incus.tar.xz", ...metaItem },
    [root.key]: {
      ftype: root.ftype,
      path: itemPath(fp, files.rootfs.name),
      size: files.rootfs.size,
      sha256: h.rootfs,
    },
  };
}

/**
 * images.json. Product aliases are the images' own alias names; in simplestreams an alias names
 * the newest version of its product, so aliases of older images in a product move with it.
 */
export async function productsJson(
  images: readonly ImageRecord[],
  store: Store,
  hashes: FileHashes,
): Promise<unknown> {
  const products: Record<string, Product> = {};
  const aliasSets = new Map<string, Set<string>>();
  const sorted = [...images].sort((a, b) => a.created_at < b.created_at ? -1 : 1);
  for (const rec of sorted) {
    const key = productKey(rec);
    const p = rec.properties;
    const product = products[key] ??= {
      aliases: "",
      arch: productArch(rec.architecture),
      os: p.os || "imago",
      release: p.release || rec.fingerprint.slice(0, 12),
      release_title: p.release_title || p.release || rec.fingerprint.slice(0, 12),
      variant: p.variant || "default",
      versions: {},
    };
    let version = versionKey(rec);
    // Two images created in the same minute each keep a version of their own.
    if (product.versions[version]) version = `${version}_${rec.fingerprint.slice(0, 8)}`;
    product.versions[version] = { items: await items(rec, store, hashes) };
    const set = aliasSets.get(key) ?? new Set<string>();
    for (const a of rec.aliases) if (!/[,\s]/.test(a.name)) set.add(a.name);
    aliasSets.set(key, set);
  }
  for (const [key, set] of aliasSets) products[key].aliases = [...set].sort().join(",");
  return {
    content_id: "images",
    datatype: "image-downloads",
    format: "products:1.0",
    products,
  };
}
