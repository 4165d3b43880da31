/**
 * Benchmark inputs, generated once into the work folder and reused (cached by size): a random
 * file for hashing, and unified images whose rootfs mixes copies of /usr files (compressible)
 * with random blocks (not), so xz does real work. Generation time is never measured.
 */
import { randomFillSync } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { arch } from "node:os";
import { dirname, join, relative } from "node:path";
import { type BenchContext, ensureDir, opensslSha256, run } from "./lib.ts";

const MIB = 1 << 20;

/** A file of `mib` MiB random bytes and its sha256. */
export async function randomFile(
  ctx: BenchContext,
  mib: number,
): Promise<{ path: string; sha256: string }> {
  const path = join(ensureDir(ctx.workDir), `random-${mib}M.bin`);
  const shaPath = `${path}.sha256`;
  if (existsSync(path) && existsSync(shaPath)) {
    return { path, sha256: readFileSync(shaPath, "utf8").trim() };
  }
  ctx.log(`generating ${path}`);
  const fd = openSync(`${path}.part`, "w");
  const buf = new Uint8Array(MIB);
  for (let i = 0; i < mib; i++) writeSync(fd, randomFillSync(buf));
  closeSync(fd);
  renameSync(`${path}.part`, path);
  const sha256 = await opensslSha256(path);
  writeFileSync(shaPath, sha256 + "\n");
  return { path, sha256 };
}

export interface ImageFixture {
  mib: number;
  tar: string;
  xz: string;
  sha256: { tar: string; xz: string };
  bytes: { tar: number; xz: number };
}

/** Regular files under `dir`, sorted, skipping huge ones; unreadable folders are skipped. */
function* regularFiles(dir: string): Generator<string> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* regularFiles(p);
    else if (e.isFile()) yield p;
  }
}

/** Copies /usr files into `dest` until about `budget` bytes; returns the bytes copied. */
function copyUsr(dest: string, budget: number): number {
  let copied = 0;
  for (const src of regularFiles("/usr")) {
    if (copied >= budget) break;
    let size: number;
    try {
      size = statSync(src).size;
    } catch {
      continue;
    }
    if (size > 32 * MIB) continue;
    const to = join(dest, relative("/usr", src));
    mkdirSync(dirname(to), { recursive: true });
    try {
      copyFileSync(src, to);
    } catch {
      continue;
    }
    copied += size + 1024; // with the tar header and padding
  }
  return copied;
}

/** Fills `dest` with 4 MiB random files up to `budget` bytes. */
function writeRandom(dest: string, budget: number): void {
  mkdirSync(dest, { recursive: true });
  const block = new Uint8Array(4 * MIB);
  for (let i = 0; budget > 0; i++) {
    const n = Math.min(block.length, budget);
    writeFileSync(
      join(dest, `blob-${String(i).padStart(5, "0")}.bin`),
      randomFillSync(block).subarray(0, n),
    );
    budget -= n + 1024;
  }
}

function metadataYaml(mib: number): string {
  const lxdArch = arch() === "arm64" ? "aarch64" : "x86_64";
  return [
    `architecture: ${lxdArch}`,
    `creation_date: ${Math.floor(Date.now() / 1000)}`,
    "properties:",
    `  description: imago benchmark image (${mib} MiB)`,
    "  os: benchmark",
    "  release: fixture",
    "",
  ].join("\n");
}

/** A unified image of about `mib` MiB uncompressed, as plain tar and as `xz -T0 -1`. */
export async function imageFixture(ctx: BenchContext, mib: number): Promise<ImageFixture> {
  const dir = ensureDir(join(ctx.workDir, `image-${mib}M`));
  const done = join(dir, "fixture.json");
  if (existsSync(done)) return JSON.parse(readFileSync(done, "utf8"));

  ctx.log(`generating the ${mib} MiB image fixture in ${dir} (once; not measured)`);
  const tree = join(dir, "tree");
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(join(tree, "rootfs"), { recursive: true });
  writeFileSync(join(tree, "metadata.yaml"), metadataYaml(mib));
  const total = mib * MIB;
  const copied = copyUsr(join(tree, "rootfs/usr"), Math.floor((total * 2) / 3));
  writeRandom(join(tree, "rootfs/var/lib/blobs"), total - copied - 64 * 1024);

  const tar = join(dir, "image.tar");
  const xz = `${tar}.xz`;
  await run([
    "tar",
    "--sort=name",
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    "-cf",
    tar,
    "-C",
    tree,
    "metadata.yaml",
    "rootfs",
  ]);
  rmSync(tree, { recursive: true, force: true });
  ctx.log(`compressing ${tar} with xz -T0 -1`);
  await run(["xz", "-T0", "-1", "-k", "-f", tar]);
  const fixture: ImageFixture = {
    mib,
    tar,
    xz,
    sha256: { tar: await opensslSha256(tar), xz: await opensslSha256(xz) },
    bytes: { tar: statSync(tar).size, xz: statSync(xz).size },
  };
  writeFileSync(done, JSON.stringify(fixture, null, 2) + "\n");
  return fixture;
}
