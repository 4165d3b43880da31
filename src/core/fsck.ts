/**
 * Store consistency check: files without records (orphans), records whose files are missing or
 * of the wrong size, optionally a full re-hash, and staging leftovers of dead processes.
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeTransaction } from "./records.ts";
import { staleStaging, sweepStaging } from "./staging.ts";
import type { Store } from "./store.ts";
import { fingerprintFiles } from "./fingerprint.ts";

export interface FsckReport {
  /** File names under images/ that no record owns. */
  orphans: string[];
  /** Fingerprints whose files are missing. */
  missing: string[];
  /** Fingerprints whose files have the wrong size or (with verify) the wrong hash. */
  mismatched: string[];
  /** Staging folders left by killed imports. */
  staleStaging: string[];
  repaired: boolean;
}

async function sizeOf(path: string): Promise<number | undefined> {
  return await stat(path).then((s) => s.size, () => undefined);
}

/** Checks the store; with `repair`, removes orphans, leftovers and records of broken images. */
export async function checkStore(
  store: Store,
  opts: { repair?: boolean; verify?: boolean } = {},
): Promise<FsckReport> {
  const report: FsckReport = {
    orphans: [],
    missing: [],
    mismatched: [],
    staleStaging: [],
    repaired: false,
  };
  for (const rec of store.list()) {
    const f = store.files(rec.fingerprint);
    const parts = [f.metadata, ...(f.rootfs ? [f.rootfs] : [])];
    const sizes = await Promise.all(parts.map((p) => sizeOf(p.path)));
    if (sizes.some((s) => s === undefined)) report.missing.push(rec.fingerprint);
    else if (sizes.some((s, i) => s !== parts[i].size)) report.mismatched.push(rec.fingerprint);
    else if (
      opts.verify && await fingerprintFiles(...parts.map((p) => p.path)) !== rec.fingerprint
    ) {
      report.mismatched.push(rec.fingerprint);
    }
  }
  const db = store.records.db;
  // Orphans are judged under the write lock: an import between rename and commit holds it.
  const orphans = await (async () => {
    const names = await readdir(store.imagesDir);
    return writeTransaction(db, () => {
      const known = new Set(store.list().map((r) => r.fingerprint));
      return names.filter((n) => !known.has(n.replace(/\.rootfs$/, "")));
    });
  })();
  report.orphans = orphans;
  if (opts.repair) {
    for (const name of report.orphans) {
      await rm(join(store.imagesDir, name), { force: true, recursive: true });
    }
    for (const fp of [...report.missing, ...report.mismatched]) await store.delete(fp);
    report.repaired = true;
  }
  // Staging folders of live imports are left alone by sweepStaging.
  report.staleStaging = opts.repair
    ? await sweepStaging(store.tmpDir)
    : await staleStaging(store.tmpDir);
  return report;
}
