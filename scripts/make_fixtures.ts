/**
 * Writes tests/fixtures/hello.{tar,tar.gz,tar.xz,tar.bz2,tar.lzma,tar.zst}: a tiny tar holding
 * hello.txt, compressed by the system programs (tar, gzip, xz, bzip2, zstd). The output is
 * reproducible, and committed; run again only to change it:
 *   deno run -A scripts/make_fixtures.ts   (or: node scripts/make_fixtures.ts)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const out = join(import.meta.dirname!, "..", "tests", "fixtures");
const work = mkdtempSync(join(tmpdir(), "imago-fixtures-"));
try {
  writeFileSync(join(work, "hello.txt"), "Hello from imago\n");
  const tar = execFileSync("tar", [
    "--format=ustar",
    "--mtime=@0",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mode=0644",
    "-cf",
    "-",
    "-C",
    work,
    "hello.txt",
  ]);
  const formats: [string, string, string[]][] = [
    ["hello.tar", "", []],
    ["hello.tar.gz", "gzip", ["-n", "-9", "-c"]],
    ["hello.tar.xz", "xz", ["-T1", "-6", "-c"]],
    ["hello.tar.bz2", "bzip2", ["-9", "-c"]],
    ["hello.tar.lzma", "xz", ["--format=lzma", "-6", "-c"]],
    ["hello.tar.zst", "zstd", ["-q", "-19", "-c"]],
  ];
  for (const [name, program, args] of formats) {
    const bytes = program ? execFileSync(program, args, { input: tar }) : tar;
    writeFileSync(join(out, name), bytes);
    console.log(`${name}: ${bytes.length} bytes`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
