/**
 * The image list, kept in memory and brought up to date from SQLite only when the database
 * changed. PRAGMA data_version moves when another connection (the CLI importing or editing)
 * commits; total_changes() when this one writes. Checking both costs one tiny query. After a
 * change only the images whose revision stamp moved (records.ts REVISIONS) are read and
 * serialised again: rebuilding all 10 000 from their rows took ~280 ms, this takes a few.
 */
import type { StatementSync } from "node:sqlite";
import { toApiImage } from "../core/api_image.ts";
import type { ImageRecord } from "../core/model.ts";
import type { Store } from "../core/store.ts";

/** One image as last read: its stamp, its record and its API object's JSON. */
interface Entry {
  rev: number;
  record: ImageRecord;
  json: string;
}

interface Snapshot {
  version: string;
  /** Sorted by fingerprint, as the store lists them. */
  entries: Entry[];
  /** Made on first use per snapshot. */
  all?: ImageRecord[];
  public?: ImageRecord[];
  /** Derived values (e.g. serialised answers), dropped with the snapshot. */
  memo: Map<string, unknown>;
}

/** Past this many changed images, one bulk read beats reading them one by one. */
const BULK = 200;

export class ListCache {
  readonly #store: Store;
  readonly #version: StatementSync;
  #snap?: Snapshot;

  constructor(store: Store) {
    this.#store = store;
    this.#version = store.records.db.prepare(
      "SELECT (SELECT data_version FROM pragma_data_version) AS d, total_changes() AS t",
    );
  }

  #current(): Snapshot {
    const row = this.#version.get() as { d: number; t: number };
    const version = `${row.d}:${row.t}`;
    if (this.#snap?.version !== version) {
      this.#snap = { version, entries: this.#refresh(this.#snap?.entries ?? []), memo: new Map() };
    }
    return this.#snap;
  }

  /** `old` brought up to date: entries whose stamp moved or that are new are read again. */
  #refresh(old: Entry[]): Entry[] {
    const records = this.#store.records;
    const known = new Map(old.map((e) => [e.record.fingerprint, e]));
    const revs = records.revisions();
    const stale = revs.filter(([fp, rev]) => known.get(fp)?.rev !== rev);
    const fresh = new Map<string, ImageRecord>();
    if (stale.length > BULK) {
      for (const r of records.all()) fresh.set(r.fingerprint, r);
    } else {
      for (const [fp] of stale) {
        const r = records.get(fp);
        if (r) fresh.set(fp, r);
      }
    }
    const entries: Entry[] = [];
    for (const [fp, rev] of revs) {
      const record = fresh.get(fp);
      if (record) entries.push({ rev, record, json: JSON.stringify(toApiImage(record)) });
      else if (known.get(fp)?.rev === rev) entries.push(known.get(fp)!);
      // else: deleted between the two reads; the next change brings the list up to date.
    }
    return entries;
  }

  /** Every image, or the public ones only; callers must not modify the array. */
  list(trusted: boolean): readonly ImageRecord[] {
    const s = this.#current();
    s.all ??= s.entries.map((e) => e.record);
    if (trusted) return s.all;
    return s.public ??= s.all.filter((r) => r.public);
  }

  /** The visible images' API objects as one JSON array, from the kept serialisations. */
  apiJson(trusted: boolean): string {
    const s = this.#current();
    const visible = trusted ? s.entries : s.entries.filter((e) => e.record.public);
    return `[${visible.map((e) => e.json).join(",")}]`;
  }

  /** `make()`'s value, computed once per database version and `key`. */
  memo<T>(key: string, make: () => T): T {
    const s = this.#current();
    if (!s.memo.has(key)) s.memo.set(key, make());
    return s.memo.get(key) as T;
  }

  /** The database version now, to pass to `put` after an asynchronous computation. */
  version(): string {
    return this.#current().version;
  }

  /** A value stored earlier by `put` for the current version, if any. */
  peek<T>(key: string): T | undefined {
    return this.#current().memo.get(key) as T | undefined;
  }

  /** Stores `value` only if the database is still at `version` (nothing changed meanwhile). */
  put(key: string, value: unknown, version: string): void {
    const s = this.#current();
    if (s.version === version) s.memo.set(key, value);
  }
}
