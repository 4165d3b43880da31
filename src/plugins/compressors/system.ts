/**
 * Which compression programs the host has. Each is looked up on PATH once per process; setting
 * IMAGO_NO_SYSTEM_COMPRESSORS=1 makes decompression use the built-in JS decoders instead (and
 * compression of xz, bzip2 and lzma unavailable), which is how tests cover both paths.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { ImagoError } from "../../core/errors.ts";

const found = new Map<string, string | null>();

/** Absolute path of `program` on PATH, or null; cached for the life of the process. */
export function findProgram(program: string): string | null {
  let path = found.get(program);
  if (path !== undefined) return path;
  path = null;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      path = join(dir, program);
      break;
    } catch { /* not in this directory */ }
  }
  found.set(program, path);
  return path;
}

/** True when IMAGO_NO_SYSTEM_COMPRESSORS=1 (read on every call, so tests can switch it). */
export function systemDisabled(): boolean {
  return process.env.IMAGO_NO_SYSTEM_COMPRESSORS === "1";
}

/** The program to run for a stage, or null to use the JS path. */
export function systemProgram(program: string): string | null {
  return systemDisabled() ? null : findProgram(program);
}

/** The program needed for compressing; a clear error naming the Debian package when absent. */
export function requireProgram(program: string, format: string, debPackage: string): string {
  const path = systemProgram(program);
  if (path) return path;
  const why = systemDisabled()
    ? "system compressors are disabled by IMAGO_NO_SYSTEM_COMPRESSORS=1"
    : `the "${program}" program is not installed`;
  throw new ImagoError(
    `Cannot compress ${format}: ${why}; install the Debian package ${debPackage} ` +
      `or choose gzip or zstd`,
  );
}
