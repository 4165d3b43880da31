/**
 * What one client may see of the store. For an untrusted client a private image does not exist:
 * every lookup here (lists, prefixes, aliases) skips it, and a private image fails with exactly
 * the error a missing one gives. All endpoints go through this, never through the store directly.
 */
import { AmbiguousRefError, NotFoundError } from "../core/errors.ts";
import type { AliasEntry, ImageRecord } from "../core/model.ts";
import type { Store } from "../core/store.ts";
import { ListCache } from "./list_cache.ts";

/** A full fingerprint or a prefix of one. */
export const HEX_PREFIX = /^[0-9a-f]{1,64}$/;

export class ImageView {
  readonly store: Store;
  /** Trusted clients (unix socket, trusted certificate) see private images too. */
  readonly trusted: boolean;
  /** Shared by all requests; re-reads the store whenever the database changed. */
  readonly cache: ListCache;

  constructor(store: Store, trusted: boolean, cache = new ListCache(store)) {
    this.store = store;
    this.trusted = trusted;
    this.cache = cache;
  }

  /** Visible images, sorted by fingerprint; never stale, so CLI imports show up at once. */
  list(): readonly ImageRecord[] {
    return this.cache.list(this.trusted);
  }

  /** The visible images' API objects as one JSON array (serialisations kept per image). */
  listJson(): string {
    return this.cache.apiJson(this.trusted);
  }

  /** The visible image a full fingerprint or unique prefix names (no aliases, as in LXD). */
  image(ref: string): ImageRecord {
    const prefix = ref.toLowerCase();
    if (HEX_PREFIX.test(prefix)) {
      const rows = this.store.records.db.prepare(
        `SELECT fingerprint FROM images WHERE substr(fingerprint, 1, ?) = ? AND (? OR public = 1)
         ORDER BY fingerprint LIMIT 11`,
      ).all(prefix.length, prefix, this.trusted ? 1 : 0) as { fingerprint: string }[];
      if (rows.length > 1) {
        throw new AmbiguousRefError(ref, rows.slice(0, 10).map((r) => r.fingerprint.slice(0, 12)));
      }
      const rec = rows.length === 1 ? this.store.get(rows[0].fingerprint) : undefined;
      if (rec && this.visible(rec)) return rec;
    }
    throw imageNotFound(ref);
  }

  /** A visible alias by exact name. */
  alias(name: string): AliasEntry {
    const a = this.store.records.alias(name);
    if (a && (this.trusted || this.store.get(a.target)?.public)) return a;
    throw new NotFoundError(`Alias "${name}" not found`);
  }

  /** Visible aliases, sorted by name. */
  aliases(): AliasEntry[] {
    const all = this.store.aliases();
    if (this.trusted) return all;
    const rows = this.store.records.db.prepare("SELECT fingerprint FROM images WHERE public = 1")
      .all() as { fingerprint: string }[];
    const visible = new Set(rows.map((r) => r.fingerprint));
    return all.filter((a) => visible.has(a.target));
  }

  /** An alias name first, then a fingerprint prefix (static URLs, simplestreams files). */
  resolve(ref: string): ImageRecord {
    const a = this.store.records.alias(ref);
    if (a && (this.trusted || this.store.get(a.target)?.public)) return this.image(a.target);
    return this.image(ref);
  }

  visible(rec: ImageRecord): boolean {
    return this.trusted || rec.public;
  }
}

/** The one "not found" error for images, identical for private and missing ones. */
export function imageNotFound(ref: string): NotFoundError {
  return new NotFoundError(`Image "${ref}" not found`);
}
