/**
 * Helpers for the e2e tests: the binary (dist/imago, or $IMAGO_BIN) on a temp store, `lxc`
 * against the private LXD daemon of scripts/lxd.sh, and file hashes. Everything runs
 * synchronously: the files are small and each test is a straight sequence of commands.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { hasCommand } from "../helpers.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = resolve(process.env.IMAGO_BIN || `${ROOT}dist/imago`);
export const IN_CI = !!process.env.CI && process.env.CI !== "false";

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The fields of `lxc image list --format json` (and `imago list --format json`) we compare. */
export interface ImageJson {
  fingerprint: string;
  architecture: string;
  type: string;
  size: number;
  created_at: string;
  properties: Record<string, string>;
  filename: string;
}

/** Runs a command to completion. The kill timeout only stops a hung command. */
export function exec(cmd: string, args: string[], env?: Record<string, string>): RunResult {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    env: env ?? { ...process.env, NO_COLOR: "1" } as Record<string, string>,
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Like `exec`, but a non-zero exit fails the test with the command line and its stderr. */
export function execOk(cmd: string, args: string[], env?: Record<string, string>): string {
  const r = exec(cmd, args, env);
  assert.equal(r.status, 0, `"${cmd} ${args.join(" ")}" exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export { hasCommand };

/** Skip reason when `needed` commands or the binary are missing; never skips under CI. */
export function skipUnless(...needed: string[]): string | false {
  if (IN_CI) return false;
  if (!existsSync(BIN)) return `no binary at ${BIN}: build it with "deno task compile"`;
  const missing = needed.filter((c) => !hasCommand(c));
  return missing.length ? `not installed: ${missing.join(", ")}` : false;
}

/** A fresh store in a temp folder, and `imago()` bound to it. */
export function imagoSandbox(prefix = "imago-e2e-") {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = join(dir, "store");
  const imago = (...args: string[]) => {
    assert.ok(existsSync(BIN), `binary is missing at ${BIN}`);
    return execOk(BIN, ["--store", store, ...args]);
  };
  return {
    dir,
    imago,
    /** Every image in the store, from `imago list --format json`. */
    images: (): ImageJson[] => JSON.parse(imago("list", "--format", "json")),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

let lxdEnvCache: Record<string, string> | undefined;

/** The environment for `lxc`: LXD_DIR/LXD_CONF from the caller, else scripts/lxd.sh's. */
export function lxdEnv(): Record<string, string> {
  if (lxdEnvCache) return lxdEnvCache;
  const env = { ...process.env, NO_COLOR: "1" } as Record<string, string>;
  if (!env.LXD_DIR || !env.LXD_CONF) {
    const out = execOk("bash", [join(ROOT, "scripts/lxd.sh"), "env"]);
    for (const m of out.matchAll(/^export (LXD_DIR|LXD_CONF)=(.*)$/gm)) env[m[1]] ??= m[2];
  }
  return lxdEnvCache = env;
}

/** Skip reason when lxc or its daemon is unavailable (never under CI), else false. */
export function lxdSkip(...needed: string[]): string | false {
  const other = skipUnless("lxc", ...needed);
  if (other || IN_CI) return other;
  const r = exec("lxc", ["query", "/1.0"], lxdEnv());
  return r.status === 0
    ? false
    : `no LXD daemon at ${lxdEnv().LXD_DIR}: start it with "bash scripts/lxd.sh start"`;
}

export function lxc(...args: string[]): string {
  return execOk("lxc", args, lxdEnv());
}

/** Imports files into LXD; returns the fingerprint it reports. */
export function lxdImport(...files: string[]): string {
  const out = lxc("image", "import", ...files);
  const m = out.match(/fingerprint: ([0-9a-f]{64})/);
  assert.ok(m, `no fingerprint in lxc output: ${out}`);
  return m[1];
}

/** One image from `lxc image list --format json`. */
export function lxdImage(fingerprint: string): ImageJson {
  const all: ImageJson[] = JSON.parse(lxc("image", "list", "--format", "json"));
  const image = all.find((i) => i.fingerprint === fingerprint);
  assert.ok(image, `LXD has no image ${fingerprint}`);
  return image;
}

/** Removes an image from LXD; cleanup only, so failures are ignored. */
export function lxdDelete(fingerprint: string | undefined): void {
  if (fingerprint) exec("lxc", ["image", "delete", fingerprint], lxdEnv());
}

/** sha256 over the files' bytes in order, the way LXD fingerprints split images. */
export function sha256Files(...paths: string[]): string {
  const h = createHash("sha256");
  for (const p of paths) h.update(readFileSync(p));
  return h.digest("hex");
}

/** The files in `dir`, metadata (`meta-…`) first, as absolute paths. */
export function exportedFiles(dir: string): string[] {
  const names = readdirSync(dir).sort((a, b) =>
    Number(b.startsWith("meta-")) - Number(a.startsWith("meta-")) || a.localeCompare(b)
  );
  return names.map((n) => join(dir, n));
}
