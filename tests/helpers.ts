/** Test helpers: temp folders and tiny images made with the system tar. */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Whether `name` is a program on PATH (tests that need one skip without it). */
export function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v "$0"`, name]).status === 0;
}

/** A fresh temp folder; `cleanup()` removes it. */
export function tempDir(prefix = "imago-test-"): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface ImageSpec {
  architecture?: string;
  creationDate?: number;
  properties?: Record<string, string>;
  /** Extra text appended to metadata.yaml (raw YAML). */
  extraYaml?: string;
  /** Files under rootfs/, path → content. */
  files?: Record<string, string>;
  /** "gz" | "xz" | "" (plain tar) — tar's own compression flags. */
  compression?: "" | "gz" | "xz" | "bz2" | "zst";
  vm?: boolean;
}

function metadataYaml(spec: ImageSpec): string {
  const props = spec.properties ?? { description: "Test image", os: "testos", release: "1" };
  return [
    `architecture: ${spec.architecture ?? "x86_64"}`,
    `creation_date: ${spec.creationDate ?? 1700000000}`,
    "properties:",
    ...Object.entries(props).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    spec.extraYaml ?? "",
  ].join("\n") + "\n";
}

const FLAG = { "": [], gz: ["--gzip"], xz: ["--xz"], bz2: ["--bzip2"], zst: ["--zstd"] };
const EXT = { "": ".tar", gz: ".tar.gz", xz: ".tar.xz", bz2: ".tar.bz2", zst: ".tar.zst" };

function tarUp(cwd: string, out: string, names: string[], comp: ImageSpec["compression"] = "") {
  execFileSync("tar", ["-c", ...FLAG[comp], "--numeric-owner", "-f", out, "-C", cwd, ...names]);
}

/** Writes a unified image tarball into `dir`; returns its path. */
export function makeUnified(dir: string, name: string, spec: ImageSpec = {}): string {
  const src = join(dir, `${name}.src`);
  mkdirSync(join(src, "rootfs"), { recursive: true });
  writeFileSync(join(src, "metadata.yaml"), metadataYaml(spec));
  const out = join(dir, `${name}${EXT[spec.compression ?? ""]}`);
  if (spec.vm) {
    writeFileSync(join(src, "rootfs.img"), "QFI\xfb fake qcow2 " + name);
    tarUp(src, out, ["metadata.yaml", "rootfs.img"], spec.compression);
  } else {
    for (const [p, c] of Object.entries(spec.files ?? { "hello.txt": `hello ${name}\n` })) {
      mkdirSync(join(src, "rootfs", p, ".."), { recursive: true });
      writeFileSync(join(src, "rootfs", p), c);
    }
    tarUp(src, out, ["metadata.yaml", "rootfs"], spec.compression);
  }
  rmSync(src, { recursive: true });
  return out;
}

/** Writes a split image (metadata tarball + rootfs tarball) into `dir`. */
export function makeSplit(
  dir: string,
  name: string,
  spec: ImageSpec = {},
): { metadata: string; rootfs: string } {
  const src = join(dir, `${name}.src`);
  mkdirSync(join(src, "meta"), { recursive: true });
  mkdirSync(join(src, "root"), { recursive: true });
  writeFileSync(join(src, "meta", "metadata.yaml"), metadataYaml(spec));
  for (const [p, c] of Object.entries(spec.files ?? { "hello.txt": `hello ${name}\n` })) {
    mkdirSync(join(src, "root", p, ".."), { recursive: true });
    writeFileSync(join(src, "root", p), c);
  }
  const ext = EXT[spec.compression ?? ""];
  const metadata = join(dir, `${name}.meta${ext}`);
  const rootfs = join(dir, `${name}.rootfs${ext}`);
  tarUp(join(src, "meta"), metadata, ["metadata.yaml"], spec.compression);
  tarUp(join(src, "root"), rootfs, ["."], spec.compression);
  rmSync(src, { recursive: true });
  return { metadata, rootfs };
}
