/**
 * Simplestreams products files as LXD reads them (lxd:shared/simplestreams/products.go):
 * products, their versions and the versions' items. Parsing is lenient like LXD's: entries of the
 * wrong shape are skipped; only a document that is not a products file at all is an error.
 */
import { RemoteError } from "../../../core/errors.ts";

/** One file of a version. Only `ftype` gives meaning; the item's key is free-form. */
export interface SsItem {
  ftype: string;
  path: string;
  size: number;
  /** Hex sha256 of the file; "" when the server left it out (downloads then fail). */
  sha256: string;
  delta_base?: string;
  /** Incus: "container" | "virtual-machine" on *_combined.tar.gz items. */
  combined_type?: string;
  /** combined_*_sha256 fields of metadata items, by field name. */
  combined: Record<string, string>;
}

export interface SsVersion {
  items: Record<string, SsItem>;
  label: string;
}

export interface SsProduct {
  aliases: string;
  arch: string;
  os: string;
  release: string;
  release_title: string;
  variant: string;
  version: string;
  support_eol: string;
  /** LXD's lxd_requirements and Incus's requirements, merged. */
  requirements: Record<string, string>;
  versions: Record<string, SsVersion>;
}

type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "string") out[k] = x;
    }
  }
  return out;
}

function parseItem(v: unknown): SsItem | undefined {
  if (!isObject(v)) return undefined;
  const ftype = str(v.ftype);
  const path = str(v.path);
  if (!ftype || !path) return undefined;
  const size = typeof v.size === "number" && Number.isSafeInteger(v.size) && v.size >= 0
    ? v.size
    : 0;
  const combined: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (/^combined_.*sha256$/.test(k) && typeof x === "string") combined[k] = x;
  }
  const item: SsItem = { ftype, path, size, sha256: str(v.sha256).toLowerCase(), combined };
  if (typeof v.delta_base === "string") item.delta_base = v.delta_base;
  if (typeof v.combined_type === "string") item.combined_type = v.combined_type;
  return item;
}

function parseVersion(v: unknown): SsVersion | undefined {
  if (!isObject(v) || !isObject(v.items)) return undefined;
  const items: Record<string, SsItem> = {};
  for (const [key, raw] of Object.entries(v.items)) {
    const item = parseItem(raw);
    if (item) items[key] = item;
  }
  return { items, label: str(v.label) };
}

function parseProduct(v: unknown): SsProduct | undefined {
  if (!isObject(v) || !isObject(v.versions)) return undefined;
  const versions: Record<string, SsVersion> = {};
  for (const [key, raw] of Object.entries(v.versions)) {
    const version = parseVersion(raw);
    if (version) versions[key] = version;
  }
  return {
    aliases: str(v.aliases),
    arch: str(v.arch),
    os: str(v.os),
    release: str(v.release),
    release_title: str(v.release_title),
    variant: str(v.variant),
    version: str(v.version),
    support_eol: str(v.support_eol),
    requirements: { ...strings(v.lxd_requirements), ...strings(v.requirements) },
    versions,
  };
}

/** The products of one products file, by product name. */
export function parseProducts(doc: unknown, source: string): Record<string, SsProduct> {
  if (!isObject(doc) || !isObject(doc.products)) {
    throw new RemoteError(
      `Cannot read "${source}": not a simplestreams products file: no "products" object`,
    );
  }
  const out: Record<string, SsProduct> = {};
  for (const [name, raw] of Object.entries(doc.products)) {
    const product = parseProduct(raw);
    if (product) out[name] = product;
  }
  return out;
}
