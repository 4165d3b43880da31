/**
 * Simplestreams aliases as LXD builds them (lxd:shared/simplestreams/{simplestreams,sort}.go):
 * images sorted newest serial first, each product alias `A` registered first-come per
 * (name, type, architecture) both as `A` and as `A/<product arch>`; lookups prefer containers,
 * then the wanted architecture, then the architectures it can also run.
 */
import { canonicalArch, personalities } from "../../../core/arch.ts";
import type { ImageType } from "../../../core/model.ts";
import type { SsImage } from "./to_images.ts";

/** One alias: its name, the image it targets and that image's type and canonical arch. */
export interface SsAlias {
  name: string;
  type: ImageType;
  architecture: string;
  target: string;
  /** True for `A/<arch>` forms, which name their architecture themselves. */
  qualified: boolean;
}

/** Rootfs preference when everything else ties (LXD's order for its hosts). */
const TYPE_RANK = ["squashfs", "root.tar.xz", "disk-kvm.img", "uefi1.img", "disk1.img"];

/** Base URLs whose aliases carry a redundant OS prefix, and that prefix. */
const DEFAULT_OS: readonly [string, string][] = [["https://cloud-images.ubuntu.com", "ubuntu/"]];

function compareImages(a: SsImage, b: SsImage): number {
  for (const prop of ["os", "release", "variant", "serial", "architecture"]) {
    const x = a.properties[prop] ?? "";
    const y = b.properties[prop] ?? "";
    if (x === y) continue;
    // Unset sorts last; serials newest first; the rest ascending.
    if (!x || !y) return x ? -1 : 1;
    if (prop === "serial") return x > y ? -1 : 1;
    return x < y ? -1 : 1;
  }
  const rank = (i: SsImage) => Math.max(0, TYPE_RANK.indexOf(i.properties.type ?? ""));
  return rank(a) - rank(b);
}

/** Images in LXD's preference order: by os, release, variant, newest serial, arch, rootfs kind. */
export function sortImages(images: readonly SsImage[]): SsImage[] {
  return [...images].sort(compareImages);
}

/**
 * Sorts `images`, fills in each image's `aliases` and returns the alias table. An image lists
 * `A` only when its architecture is `hostArch` (as LXD shows them) but the table keeps every one.
 */
export function applyAliases(
  images: readonly SsImage[],
  opts: { baseUrl: string; hostArch: string },
): { images: SsImage[]; aliases: SsAlias[] } {
  const strip = DEFAULT_OS.find(([base]) => opts.baseUrl.startsWith(base))?.[1];
  const host = canonicalArch(opts.hostArch) ?? opts.hostArch;
  const table: SsAlias[] = [];
  const taken = new Set<string>();
  /** Registers `name` for `image` unless taken; returns the name as registered. */
  const add = (image: SsImage, name: string, qualified: boolean): string | undefined => {
    if (strip && name.startsWith(strip)) name = name.slice(strip.length);
    const key = JSON.stringify([name, image.type, image.architecture]);
    if (taken.has(key)) return undefined;
    taken.add(key);
    const { type, architecture, fingerprint: target } = image;
    table.push({ name, type, architecture, target, qualified });
    return name;
  };
  const sorted = sortImages(images).map((image): SsImage => {
    const aliases: SsImage["aliases"] = [];
    for (const { name } of image.aliases) {
      const short = add(image, name, false);
      if (short !== undefined && image.architecture === host) {
        aliases.push({ name: short, description: "" });
      }
      const long = add(image, `${name}/${image.properties.architecture}`, true);
      if (long !== undefined) aliases.push({ name: long, description: "" });
    }
    return { ...image, aliases };
  });
  return { images: sorted, aliases: table };
}

/**
 * The alias entry `name` resolves to for a host of architecture `want.arch`: of the wanted type,
 * or a container before a virtual machine; the wanted architecture before those it runs as
 * personalities. An `A/<arch>` alias names its own architecture and is taken as given.
 */
export function findAlias(
  table: readonly SsAlias[],
  name: string,
  want: { arch: string; type?: ImageType },
): SsAlias | undefined {
  const native = canonicalArch(want.arch) ?? want.arch;
  const archs = [native, ...personalities(native)];
  const types: ImageType[] = want.type ? [want.type] : ["container", "virtual-machine"];
  for (const type of types) {
    const hits = table.filter((a) => a.name === name && a.type === type);
    for (const arch of archs) {
      const hit = hits.find((a) => a.architecture === arch);
      if (hit) return hit;
    }
    const qualified = hits.find((a) => a.qualified);
    if (qualified) return qualified;
  }
  return undefined;
}
