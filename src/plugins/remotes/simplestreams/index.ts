/**
 * The catalogue of a simplestreams server: streams/v1/index.json, then every products file it
 * lists for image downloads, turned into images and aliases. Signatures (.sjson, .gpg) are never
 * fetched, as in LXD and Incus: trust rests on HTTPS and the per-file sha256.
 */
import { AmbiguousRefError, NotFoundError, RemoteError } from "../../../core/errors.ts";
import type { ImageType } from "../../../core/model.ts";
import { applyAliases, findAlias, type SsAlias } from "./aliases.ts";
import { isObject, parseProducts } from "./products.ts";
import { type SsImage, toImages } from "./to_images.ts";

export const INDEX_PATH = "streams/v1/index.json";
/** Caps on the JSON documents, which are read whole: real products files are up to ~30 MB. */
export const MAX_INDEX_BYTES = 4 << 20;
export const MAX_PRODUCTS_BYTES = 64 << 20;

/** How the catalogue reads JSON: a GET of `path` under the base URL, at most `limit` bytes. */
export type JsonGetter = (path: string, limit: number, signal?: AbortSignal) => Promise<unknown>;

export interface Catalogue {
  /** In LXD's preference order (see sortImages). */
  images: SsImage[];
  aliases: SsAlias[];
}

/**
 * Paths of the products files to load: every index entry of datatype "image-downloads" with a
 * non-empty products list (LXD then loads all products in the file, not only those listed).
 */
export function productPaths(doc: unknown, source: string): string[] {
  if (!isObject(doc) || !isObject(doc.index)) {
    throw new RemoteError(
      `Cannot read "${source}": not a simplestreams index: no "index" object; ` +
        `check the remote's URL and protocol`,
    );
  }
  const paths: string[] = [];
  for (const entry of Object.values(doc.index)) {
    if (!isObject(entry) || entry.datatype !== "image-downloads") continue;
    if (!Array.isArray(entry.products) || entry.products.length === 0) continue;
    const path = typeof entry.path === "string" ? entry.path : "";
    if (path && !paths.includes(path)) paths.push(path);
  }
  return paths;
}

/** Reads the index and its products files and builds the catalogue. */
export async function loadCatalogue(
  get: JsonGetter,
  opts: { baseUrl: string; hostArch: string; signal?: AbortSignal },
): Promise<Catalogue> {
  const index = await get(INDEX_PATH, MAX_INDEX_BYTES, opts.signal);
  const paths = productPaths(index, INDEX_PATH);
  const files = await Promise.all(
    paths.map(async (p) => parseProducts(await get(p, MAX_PRODUCTS_BYTES, opts.signal), p)),
  );
  // Two products files may describe the same image; the first one wins.
  const unique = new Map<string, SsImage>();
  for (const image of files.flatMap(toImages)) {
    if (!unique.has(image.fingerprint)) unique.set(image.fingerprint, image);
  }
  return applyAliases([...unique.values()], opts);
}

/** "no virtual-machine image for x86_64 (there is one for aarch64)"-style detail. */
function missingDetail(cat: Catalogue, ref: string, want: { arch: string; type?: ImageType }) {
  const others = cat.aliases.filter((a) => a.name === ref && !a.qualified);
  const shown = [...new Set(others.map((a) => `${a.type} ${a.architecture}`))].sort();
  const what = want.type ? `${want.type} image` : "image";
  return `no ${what} for architecture "${want.arch}" (available: ${shown.join(", ")}); ` +
    `add the architecture to the name ("${ref}/ARCH") or choose one with --arch`;
}

/**
 * The image `ref` names: an alias (see findAlias), else a full fingerprint or a unique prefix.
 * Aliases win, as with LXD.
 */
export function findImage(
  cat: Catalogue,
  ref: string,
  want: { arch: string; type?: ImageType },
): SsImage {
  const alias = findAlias(cat.aliases, ref, want);
  if (alias) return cat.images.find((i) => i.fingerprint === alias.target)!;
  if (cat.aliases.some((a) => a.name === ref)) {
    throw new NotFoundError(`Cannot resolve "${ref}": ${missingDetail(cat, ref, want)}`);
  }
  const prefix = ref.toLowerCase();
  if (/^[0-9a-f]+$/.test(prefix)) {
    const hits = cat.images.filter((i) => i.fingerprint.startsWith(prefix));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) {
      throw new AmbiguousRefError(ref, hits.map((h) => h.fingerprint.slice(0, 12)).sort());
    }
  }
  throw new NotFoundError(
    `Image "${ref}" not found on the remote: give an alias, a fingerprint or a unique ` +
      `fingerprint prefix (see "imago list REMOTE:")`,
  );
}
