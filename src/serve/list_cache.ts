/**
 * The image list, read from SQLite only when the database changed. PRAGMA data_version moves
 * when another connection (the CLI importing or editing) commits; total_changes() when this one
 * writes. Checking both costs one tiny query, so a listing is never stale and 10 000 images are
 * not re-read and re-serialised on every request.
 */
import type { StatementSync } from "node:sqlite";
import type { ImageRecord } from "../core/model.ts";
import type { Store } from "../core/store.ts";

interface Snapshot {
  version: string;
  all: ImageRecord[];
  public: ImageRecord[];
  /** Derived values (e.g. serialised answers), dropped with the snapshot. */
  memo: Map<string, unknown>;
}

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
      const all = this.#store.list();
      this.#snap = { version, all, public: all.filter((r) => r.public), memo: new Map() };
    }
    return this.#snap;
  }

  /** Every image, or the public ones only; callers must not modify the array. */
  list(trusted: boolean): readonly ImageRecord[] {
    const s = this.#current();
    return trusted ? s.all : s.public;
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
