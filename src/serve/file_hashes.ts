/**
 * sha256 of each file of a split image, as simplestreams items need them (the store knows only
 * the combined fingerprint). Computed once, in one pass that also re-checks the fingerprint, and
 * kept in a small table of the store's database: a fingerprint always names the same bytes, so
 * the cache never goes stale.
 */
import { ImagoError } from "../core/errors.ts";
import type { ImageRecord } from "../core/model.ts";
import type { Store } from "../core/store.ts";
import { fileStream, sha256 } from "../core/streams.ts";

export interface SplitHashes {
  metadata: string;
  rootfs: string;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS serve_file_hashes (
  fingerprint TEXT PRIMARY KEY,
  metadata_size INTEGER NOT NULL,
  metadata_sha256 TEXT NOT NULL,
  rootfs_sha256 TEXT NOT NULL
)`;

export class FileHashes {
  readonly #store: Store;
  readonly #pending = new Map<string, Promise<SplitHashes>>();

  constructor(store: Store) {
    this.#store = store;
    store.records.db.exec(SCHEMA);
  }

  /** The cached hashes, or undefined when they were not computed yet. */
  cached(rec: ImageRecord): SplitHashes | undefined {
    const row = this.#store.records.db.prepare(
      "SELECT metadata_size, metadata_sha256, rootfs_sha256 FROM serve_file_hashes WHERE fingerprint = ?",
    ).get(rec.fingerprint) as Record<string, string | number> | undefined;
    // The size guards against another split point giving the same concatenation.
    if (!row || Number(row.metadata_size) !== rec.files.metadata_size) return undefined;
    return { metadata: String(row.metadata_sha256), rootfs: String(row.rootfs_sha256) };
  }

  /** Hashes of a split image's two files; concurrent callers share one computation. */
  get(rec: ImageRecord): Promise<SplitHashes> {
    if (!rec.files.rootfs) {
      throw new RangeError(`FileHashes.get(): "${rec.fingerprint}" is not a split image`);
    }
    const have = this.cached(rec);
    if (have) return Promise.resolve(have);
    let p = this.#pending.get(rec.fingerprint);
    if (!p) {
      p = this.#compute(rec).finally(() => this.#pending.delete(rec.fingerprint));
      this.#pending.set(rec.fingerprint, p);
    }
    return p;
  }

  async #compute(rec: ImageRecord): Promise<SplitHashes> {
    const files = this.#store.files(rec.fingerprint);
    const combined = sha256();
    const one = async (path: string) => {
      const h = sha256();
      for await (const chunk of fileStream(path)) {
        h.update(chunk);
        combined.update(chunk);
      }
      return h.digest("hex");
    };
    const metadata = await one(files.metadata.path);
    const rootfs = await one(files.rootfs!.path);
    const actual = combined.digest("hex");
    if (actual !== rec.fingerprint) {
      throw new ImagoError(
        `Cannot publish image "${rec.fingerprint}": its files hash to ${actual}; run "imago fsck"`,
      );
    }
    this.#store.records.db.prepare(
      `INSERT OR REPLACE INTO serve_file_hashes
       (fingerprint, metadata_size, metadata_sha256, rootfs_sha256) VALUES (?, ?, ?, ?)`,
    ).run(rec.fingerprint, rec.files.metadata_size, metadata, rootfs);
    return { metadata, rootfs };
  }
}
