/**
 * The image store: files under images/ laid out like LXD's (<fp> and <fp>.rootfs), records in
 * SQLite. Imports stage and verify first, then rename and commit under one write transaction,
 * so a crash leaves either the whole image or nothing visible.
 */
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { rm, stat, unlink } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { AmbiguousRefError, ConflictError, InvalidInputError, NotFoundError } from "./errors.ts";
import { type ImportSource, stageImage } from "./import_image.ts";
import type { ImportCheck } from "./inspect.ts";
import {
  type AliasEntry,
  EPOCH,
  type ImageAlias,
  type ImagePut,
  type ImageRecord,
  NEVER_USED,
  unixToRfc3339,
  type UpdateSource,
} from "./model.ts";
import { openDatabase, Records, writeTransaction } from "./records.ts";
import { makeStaging, sweepStaging, syncDir } from "./staging.ts";
import { builtinCompressors } from "../plugins/builtin.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";

export type { ImportSource };

/** Where the store lives: `--store`, then IMAGO_DIR, then $XDG_DATA_HOME/imago. */
export function defaultStoreDir(env: Record<string, string | undefined> = process.env): string {
  if (env.IMAGO_DIR) return env.IMAGO_DIR;
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), ".local", "share");
  return join(data, "imago");
}

export interface ImportOptions {
  aliases?: ImageAlias[];
  public?: boolean;
  /** Override or add properties on top of metadata.yaml's. */
  properties?: Record<string, string>;
  filename?: string;
  expectedFingerprint?: string;
  cached?: boolean;
  auto_update?: boolean;
  update_source?: UpdateSource;
  onProgress?: (bytes: number) => void;
  /** Leads conflict messages instead of `Cannot import "<metadata name>"` (e.g. a build). */
  action?: string;
  /** "metadata": read only as far as LXD does (inspect.ts ImportCheck); default "full". */
  check?: ImportCheck;
}

export interface ImportResult {
  image: ImageRecord;
  /** false when the store already had an image with this fingerprint. */
  created: boolean;
}

/** Paths and LXD-style export names of an image's files. */
export interface ExportFiles {
  metadata: { path: string; name: string; size: number };
  rootfs?: { path: string; name: string; size: number };
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

export class Store {
  readonly dir: string;
  readonly imagesDir: string;
  readonly tmpDir: string;
  readonly compressors: Registry<Compressor>;
  readonly records: Records;
  readonly #db: DatabaseSync;

  private constructor(dir: string, db: DatabaseSync, compressors: Registry<Compressor>) {
    this.dir = dir;
    this.imagesDir = join(dir, "images");
    this.tmpDir = join(dir, "tmp");
    this.#db = db;
    this.records = new Records(db);
    this.compressors = compressors;
  }

  /** Opens or creates the store at `dir` and removes leftovers of killed imports (`sweep`). */
  static async open(
    dir: string,
    opts: { compressors?: Registry<Compressor>; sweep?: boolean } = {},
  ): Promise<Store> {
    mkdirSync(join(dir, "images"), { recursive: true, mode: 0o755 });
    mkdirSync(join(dir, "tmp"), { recursive: true, mode: 0o700 });
    const db = openDatabase(join(dir, "imago.db"));
    const store = new Store(dir, db, opts.compressors ?? builtinCompressors());
    // fsck opens without the sweep so that it can report the leftovers it finds.
    if (opts.sweep !== false) await sweepStaging(store.tmpDir);
    return store;
  }

  close(): void {
    this.#db.close();
  }

  list(): ImageRecord[] {
    return this.records.all();
  }

  get(fingerprint: string): ImageRecord | undefined {
    return this.records.get(fingerprint);
  }

  /**
   * The image a reference names: an alias, a full fingerprint or a unique prefix of one.
   * Aliases win, as with `lxc image`.
   */
  resolve(ref: string): ImageRecord {
    const alias = this.records.alias(ref);
    if (alias) return this.records.get(alias.target)!;
    const prefix = ref.toLowerCase();
    if (/^[0-9a-f]+$/.test(prefix)) {
      const hits = this.records.byPrefix(prefix, 20);
      if (hits.length === 1) return this.records.get(hits[0])!;
      if (hits.length > 1) throw new AmbiguousRefError(ref, hits.map((h) => h.slice(0, 12)));
    }
    throw new NotFoundError(
      `Image "${ref}" not found: give an alias, a fingerprint or a unique fingerprint prefix`,
    );
  }

  /** Imports a unified image (no `rootfs`) or a split one; see ImportOptions. */
  async import(
    metadata: ImportSource,
    rootfs?: ImportSource,
    opts: ImportOptions = {},
  ): Promise<ImportResult> {
    for (const a of opts.aliases ?? []) this.#checkAliasName(a.name);
    const staging = await makeStaging(this.tmpDir);
    try {
      const staged = await stageImage(staging, metadata, rootfs, {
        compressors: this.compressors,
        expectedFingerprint: opts.expectedFingerprint,
        onProgress: opts.onProgress,
        check: opts.check,
      });
      const fp = staged.fingerprint;
      const m = staged.metadata;
      const record: ImageRecord = {
        fingerprint: fp,
        filename: opts.filename ?? basename(rootfs?.name ?? metadata.name),
        type: staged.type,
        architecture: m.architecture,
        size: staged.files.metadata_size + (staged.files.rootfs?.size ?? 0),
        public: opts.public ?? false,
        auto_update: opts.auto_update ?? false,
        cached: opts.cached ?? false,
        properties: { ...m.properties, ...opts.properties },
        aliases: opts.aliases ?? [],
        profiles: ["default"],
        created_at: unixToRfc3339(m.creation_date),
        uploaded_at: new Date().toISOString(),
        expires_at: m.expiry_date ? unixToRfc3339(m.expiry_date) : EPOCH,
        last_used_at: NEVER_USED,
        update_source: opts.update_source,
        files: staged.files,
      };
      const metaDest = join(this.imagesDir, fp);
      const rootDest = `${metaDest}.rootfs`;
      // Rename and insert under one write lock: a concurrent import of the same image either
      // sees the committed record or waits; the loser's identical files are simply discarded.
      const moved: string[] = [];
      const created = writeTransaction(this.#db, () => {
        const exists = this.records.get(fp) !== undefined;
        for (const a of opts.aliases ?? []) {
          const had = this.records.alias(a.name);
          if (had && had.target !== fp) {
            const action = opts.action ?? `Cannot import "${metadata.name}"`;
            throw new ConflictError(
              `${action}: alias "${a.name}" already exists ` +
                `(on ${had.target.slice(0, 12)}): delete or rename it first`,
            );
          }
        }
        try {
          if (!exists) {
            renameSync(staged.metadataPath, metaDest);
            moved.push(metaDest);
            if (staged.rootfsPath) {
              renameSync(staged.rootfsPath, rootDest);
              moved.push(rootDest);
            }
            this.records.insert(record);
          }
          for (const a of opts.aliases ?? []) {
            if (!this.records.alias(a.name)) this.records.putAlias(a.name, fp, a.description);
          }
        } catch (err) {
          // Still under the write lock, so nobody else can have committed these files.
          for (const p of moved) rmSync(p, { force: true });
          throw err;
        }
        return !exists;
      });
      if (created) await syncDir(this.imagesDir);
      return { image: this.records.get(fp)!, created };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  /** Replaces the writable fields (as `lxc image edit` does). */
  update(fingerprint: string, put: ImagePut): ImageRecord {
    const rec = this.#must(fingerprint);
    validatePut(put);
    rec.public = put.public;
    rec.auto_update = put.auto_update;
    rec.properties = { ...put.properties };
    rec.profiles = [...put.profiles];
    if (put.expires_at && Date.parse(put.expires_at) > 0) rec.expires_at = put.expires_at;
    this.records.update(rec);
    return this.records.get(fingerprint)!;
  }

  /** Records that the image was used now (export, unpack, copy). */
  touch(fingerprint: string): void {
    const rec = this.#must(fingerprint);
    rec.last_used_at = new Date().toISOString();
    this.records.update(rec);
  }

  /** Deletes the record first, then the files: a crash in between leaves only orphans. */
  async delete(fingerprint: string): Promise<void> {
    this.#must(fingerprint);
    writeTransaction(this.#db, () => this.records.delete(fingerprint));
    const base = join(this.imagesDir, fingerprint);
    await unlink(base).catch(() => {});
    await unlink(`${base}.rootfs`).catch(() => {});
  }

  /** The image's files and the names `lxc image export` gives them. */
  files(fingerprint: string): ExportFiles {
    const rec = this.#must(fingerprint);
    const base = join(this.imagesDir, fingerprint);
    const f = rec.files;
    if (!f.rootfs) {
      return { metadata: { path: base, name: `${fingerprint}${f.metadata_ext}`, size: rec.size } };
    }
    return {
      metadata: { path: base, name: `meta-${fingerprint}${f.metadata_ext}`, size: f.metadata_size },
      rootfs: {
        path: `${base}.rootfs`,
        name: `${fingerprint}${f.rootfs.ext}`,
        size: f.rootfs.size,
      },
    };
  }

  // --- aliases ---

  aliases(): AliasEntry[] {
    return this.records.aliases();
  }

  alias(name: string): AliasEntry {
    const a = this.records.alias(name);
    if (!a) throw new NotFoundError(`Alias "${name}" not found`);
    return a;
  }

  createAlias(name: string, ref: string, description = ""): AliasEntry {
    this.#checkAliasName(name);
    const target = this.resolve(ref).fingerprint;
    writeTransaction(this.#db, () => {
      if (this.records.alias(name)) {
        throw new ConflictError(`Cannot create alias "${name}": it already exists`);
      }
      this.records.putAlias(name, target, description);
    });
    return this.alias(name);
  }

  /** Points an alias at another image, creating it when missing. */
  setAlias(name: string, ref: string, description?: string): AliasEntry {
    this.#checkAliasName(name);
    const target = this.resolve(ref).fingerprint;
    writeTransaction(this.#db, () => {
      const had = this.records.alias(name);
      if (had) this.records.setAlias(name, target, description ?? had.description);
      else this.records.putAlias(name, target, description ?? "");
    });
    return this.alias(name);
  }

  renameAlias(from: string, to: string): AliasEntry {
    this.#checkAliasName(to);
    writeTransaction(this.#db, () => {
      if (!this.records.alias(from)) throw new NotFoundError(`Alias "${from}" not found`);
      if (this.records.alias(to)) {
        throw new ConflictError(`Cannot rename alias "${from}" to "${to}": "${to}" already exists`);
      }
      this.records.renameAlias(from, to);
    });
    return this.alias(to);
  }

  deleteAlias(name: string): void {
    writeTransaction(this.#db, () => {
      if (!this.records.alias(name)) throw new NotFoundError(`Alias "${name}" not found`);
      this.records.deleteAlias(name);
    });
  }

  // --- config ---

  config(key: string): string | undefined {
    return this.records.config(key);
  }

  setConfig(key: string, value: string | undefined): void {
    this.records.setConfig(key, value);
  }

  /** Size on disk of an image file, or undefined when it is missing. */
  async fileSize(path: string): Promise<number | undefined> {
    return await stat(path).then((s) => s.size, () => undefined);
  }

  #must(fingerprint: string): ImageRecord {
    const rec = FINGERPRINT.test(fingerprint) ? this.records.get(fingerprint) : undefined;
    if (!rec) throw new NotFoundError(`Image "${fingerprint}" not found`);
    return rec;
  }

  #checkAliasName(name: string): void {
    // deno-lint-ignore no-control-regex -- control characters are exactly what is refused
    if (!name || name.trim() !== name || /[\x00-\x1f]/.test(name) || name.length > 255) {
      throw new InvalidInputError(
        `Invalid alias name "${name}": use 1 to 255 printable characters without leading or ` +
          `trailing spaces`,
      );
    }
  }
}

/** Checks the shape of an ImagePut coming from an edit or an API client. */
export function validatePut(put: ImagePut): void {
  const bad = (what: string) => {
    throw new InvalidInputError(`Invalid image update: ${what}`);
  };
  if (typeof put.public !== "boolean") bad(`"public" must be true or false`);
  if (typeof put.auto_update !== "boolean") bad(`"auto_update" must be true or false`);
  if (!put.properties || typeof put.properties !== "object" || Array.isArray(put.properties)) {
    bad(`"properties" must be a map of strings`);
  }
  for (const [k, v] of Object.entries(put.properties)) {
    if (typeof v !== "string") bad(`property "${k}" must be a string`);
  }
  if (!Array.isArray(put.profiles) || put.profiles.some((p) => typeof p !== "string")) {
    bad(`"profiles" must be a list of names`);
  }
  if (put.expires_at && Number.isNaN(Date.parse(put.expires_at))) {
    bad(`"expires_at" is not an RFC 3339 time: "${put.expires_at}"`);
  }
}
