/**
 * Products → images, following LXD's ToLXD (lxd:shared/simplestreams/products.go) rule by rule:
 * the version-key date gate, metadata/rootfs pairing by ftype with the matching combined hash,
 * unified (combined) items, and the properties LXD derives. Incus's `incus.*` ftypes count the
 * same as LXD's `lxd.*`; an image both describe appears once.
 */
import { canonicalArch } from "../../../core/arch.ts";
import { EPOCH, type ImageType, unixToRfc3339 } from "../../../core/model.ts";
import type { RemoteImage } from "../../types.ts";
import type { SsItem, SsProduct, SsVersion } from "./products.ts";

/** A remote image and the items its files come from. */
export interface SsImage extends RemoteImage {
  meta: SsItem;
  /** Absent for unified (combined) images. */
  root?: SsItem;
}

const META_FTYPES = new Set(["lxd.tar.xz", "incus.tar.xz"]);
const COMBINED_FTYPES = new Set(["lxd_combined.tar.gz", "incus_combined.tar.gz"]);

/** Rootfs ftypes a metadata item pairs with, and the combined-hash fields that fingerprint them. */
const ROOT_HASH: Readonly<Record<string, readonly string[]>> = {
  "root.tar.xz": ["combined_rootxz_sha256", "combined_sha256"],
  "squashfs": ["combined_squashfs_sha256"],
  "disk-kvm.img": ["combined_disk-kvm-img_sha256"],
  "disk1.img": ["combined_disk1-img_sha256"],
  "uefi1.img": ["combined_uefi1-img_sha256"],
};

const VM_FTYPES = new Set(["disk-kvm.img", "disk1.img", "uefi1.img"]);

const SHA256 = /^[0-9a-f]{64}$/;

/** Midnight UTC of a YYYYMMDD prefix, as Go's time.Parse("20060102") reads it; else undefined. */
export function versionDate(key: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(key);
  if (!m) return undefined;
  return calendarDate(+m[1], +m[2], +m[3]);
}

/** Midnight UTC of a strict YYYY-MM-DD (support_eol); else undefined. */
export function eolDate(value: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  return m ? calendarDate(+m[1], +m[2], +m[3]) : undefined;
}

function calendarDate(y: number, mo: number, d: number): string | undefined {
  const t = Date.UTC(y, mo - 1, d);
  const date = new Date(t);
  // Date.UTC rolls 30 February into March; Go refuses such dates.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined;
  return unixToRfc3339(t / 1000);
}

/** The fingerprint of meta + root: the first combined hash field present for the root's ftype. */
function pairFingerprint(meta: SsItem, root: SsItem): string | undefined {
  for (const field of ROOT_HASH[root.ftype] ?? []) {
    const v = meta.combined[field];
    if (v) return v.toLowerCase();
  }
  return undefined;
}

function description(p: SsProduct, v: SsVersion, serial: string): string {
  const label = v.label ? ` (${v.label})` : "";
  return `${p.os} ${p.release_title} ${p.arch}${label} (${serial})`;
}

/** One image of `product` at version `serial`, or undefined where LXD would drop it. */
function makeImage(
  product: SsProduct,
  version: SsVersion,
  serial: string,
  date: string,
  meta: SsItem,
  root: SsItem | undefined,
): SsImage | undefined {
  const fingerprint = root ? pairFingerprint(meta, root) : meta.sha256;
  // LXD drops only a missing hash; imago also drops what it could never verify.
  if (!fingerprint || !SHA256.test(fingerprint)) return undefined;
  if (!SHA256.test(meta.sha256) || (root && !SHA256.test(root.sha256))) return undefined;
  let type: ImageType = "container";
  if (root && VM_FTYPES.has(root.ftype)) type = "virtual-machine";
  if (!root && meta.combined_type === "virtual-machine") type = "virtual-machine";
  const raw: Record<string, string> = {
    os: product.os,
    release: product.release,
    version: product.version,
    architecture: product.arch,
    label: version.label,
    serial,
    description: description(product, version, serial),
    type: root ? root.ftype : "tar.gz",
    variant: product.variant,
  };
  for (const [k, v] of Object.entries(product.requirements)) raw[`requirements.${k}`] = v;
  const properties = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ""));
  return {
    fingerprint,
    type,
    architecture: canonicalArch(product.arch)!,
    size: meta.size + (root?.size ?? 0),
    filename: meta.path.split("/").pop()!,
    public: true,
    properties,
    aliases: product.aliases
      ? product.aliases.split(",").map((name) => ({ name, description: "" }))
      : [],
    created_at: date,
    uploaded_at: date,
    expires_at: eolDate(product.support_eol) ?? EPOCH,
    meta,
    root,
  };
}

/** The images one version offers: unified items, and each metadata item with each rootfs item. */
function versionImages(product: SsProduct, serial: string, version: SsVersion): SsImage[] {
  const date = versionDate(serial);
  if (serial.length < 8 || !date) return [];
  const out: (SsImage | undefined)[] = [];
  const items = Object.values(version.items);
  for (const item of items) {
    if (COMBINED_FTYPES.has(item.ftype)) {
      out.push(makeImage(product, version, serial, date, item, undefined));
    } else if (META_FTYPES.has(item.ftype)) {
      for (const root of items) {
        if (root.ftype in ROOT_HASH) {
          out.push(makeImage(product, version, serial, date, item, root));
        }
      }
    }
  }
  return out.filter((i) => i !== undefined);
}

/**
 * Every image the products describe, once per fingerprint. Unknown architectures and versions
 * whose key does not start with a YYYYMMDD date are skipped silently, as LXD does; delta and
 * other unknown items are simply never paired.
 */
export function toImages(products: Record<string, SsProduct>): SsImage[] {
  const seen = new Map<string, SsImage>();
  for (const product of Object.values(products)) {
    if (!canonicalArch(product.arch)) continue;
    for (const [serial, version] of Object.entries(product.versions)) {
      for (const image of versionImages(product, serial, version)) {
        const had = seen.get(image.fingerprint);
        // An Incus item may say what LXD's twin cannot: that a unified image is a VM.
        if (!had || (had.type === "container" && image.type !== "container" && !had.root)) {
          seen.set(image.fingerprint, image);
        }
      }
    }
  }
  return [...seen.values()];
}
