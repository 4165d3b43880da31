/**
 * Static URL import (`lxc image import https://HOST/static/NAME`): the LXD daemon sends HEAD
 * with its architectures and reads LXD-Image-URL / LXD-Image-Hash (Incus: Incus-Image-*) from
 * the answer, then downloads that URL. NAME is an alias or fingerprint; aliases NAME/<arch>
 * (e.g. debian/arm64) offer the same image for other architectures.
 */
import { canonicalArch } from "../core/arch.ts";
import { InvalidInputError, NotFoundError } from "../core/errors.ts";
import type { ImageRecord } from "../core/model.ts";
import type { ImageView } from "./view.ts";

/** Canonical names from an `LXD-Server-Architectures: x86_64, i686` header, in order. */
export function parseArchitectures(header: string | null): string[] {
  if (!header) return [];
  return header.split(",").map((a) => a.trim()).filter((a) => a !== "")
    .map((a) => canonicalArch(a) ?? a);
}

/** Every visible image offered under `name`: its own target, then NAME/<arch> aliases. */
function candidates(view: ImageView, name: string): ImageRecord[] {
  const out: ImageRecord[] = [];
  try {
    out.push(view.resolve(name));
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  const prefix = `${name}/`;
  for (const a of view.aliases()) {
    if (a.name.startsWith(prefix) && canonicalArch(a.name.slice(prefix.length))) {
      out.push(view.image(a.target));
    }
  }
  return out;
}

/** The image for the first listed architecture that has one; without a list, NAME's own. */
export function pickImage(view: ImageView, name: string, archs: string[]): ImageRecord {
  const all = candidates(view, name);
  if (all.length === 0) throw new NotFoundError(`Image "${name}" not found`);
  const rec = archs.length === 0
    ? all[0]
    : archs.map((arch) => all.find((r) => r.architecture === arch)).find((r) => r);
  if (!rec) {
    throw new NotFoundError(
      `Image "${name}" not found for architecture ${archs.map((a) => `"${a}"`).join(", ")}`,
    );
  }
  if (rec.files.rootfs) {
    throw new InvalidInputError(
      `Cannot offer "${name}" for URL import: it is a split image and LXD imports only ` +
        `unified images from a URL; use "lxc image copy" from this server instead`,
    );
  }
  return rec;
}

/** The headers a URL import reads, for LXD and Incus. */
export function staticHeaders(origin: string, rec: ImageRecord): Record<string, string> {
  const url = `${origin}/1.0/images/${rec.fingerprint}/export`;
  return {
    "LXD-Image-URL": url,
    "LXD-Image-Hash": rec.fingerprint,
    "Incus-Image-URL": url,
    "Incus-Image-Hash": rec.fingerprint,
  };
}
