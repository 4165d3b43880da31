/** Architecture names as LXD's osarch package knows them: canonical names, aliases, personalities. */
import { arch as nodeArch, machine } from "node:os";

/** Canonical name → accepted aliases, in LXD's order. */
export const archAliases: Readonly<Record<string, readonly string[]>> = {
  i686: ["i386", "i586", "386", "x86", "generic_32"],
  x86_64: ["amd64", "generic_64"],
  armv6l: ["armel", "arm"],
  armv7l: ["armhf", "armhfp", "armv7a_hardfp", "armv7", "armv7a_vfpv3_hardfp"],
  armv8l: [],
  aarch64: ["arm64", "arm64_generic"],
  ppc: ["powerpc"],
  ppc64: ["powerpc64"],
  ppc64le: ["ppc64el"],
  s390x: [],
  mips: ["mipsel"],
  mips64: ["mips64el"],
  riscv32: [],
  riscv64: [],
};

/** Canonical names, in table order. */
export const ARCHITECTURES: readonly string[] = Object.keys(archAliases);

/** Other architectures a host of the key architecture can run. */
const PERSONALITIES: Readonly<Record<string, readonly string[]>> = {
  x86_64: ["i686"],
  aarch64: ["armv6l", "armv7l", "armv8l"],
  armv7l: ["armv6l"],
  ppc64: ["ppc"],
  mips64: ["mips"],
};

const BY_NAME = new Map<string, string>();
for (const [canonical, aliases] of Object.entries(archAliases)) {
  BY_NAME.set(canonical, canonical);
  for (const a of aliases) BY_NAME.set(a, canonical);
}

/** The canonical name for a canonical name or alias (amd64 → x86_64); undefined if unknown. */
export function canonicalArch(name: string): string | undefined {
  return BY_NAME.get(name);
}

export function isKnownArch(name: string): boolean {
  return BY_NAME.has(name);
}

/** Architectures that `arch` runs besides its own (x86_64 → [i686]); [] when none or unknown. */
export function personalities(arch: string): string[] {
  const canonical = canonicalArch(arch);
  return canonical ? [...(PERSONALITIES[canonical] ?? [])] : [];
}

/** Node's process.arch names, for when uname's machine name is not in the table. */
const FROM_NODE: Readonly<Record<string, string>> = {
  x64: "x86_64",
  ia32: "i686",
  arm64: "aarch64",
  arm: "armv7l",
  ppc: "ppc",
  ppc64: "ppc64le",
  s390x: "s390x",
  mips: "mips",
  mipsel: "mips",
  mips64: "mips64",
  mips64el: "mips64",
  riscv64: "riscv64",
};

/** The host's canonical architecture: uname's machine name first, then Node's arch name. */
export function hostArch(): string {
  let m = "";
  try {
    m = machine();
  } catch {
    // Not every runtime implements os.machine(); fall back to os.arch().
  }
  return canonicalArch(m) ?? FROM_NODE[nodeArch()] ?? (m || nodeArch());
}
