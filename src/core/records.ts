/** The SQLite side of the store: image records, aliases and config, in one database file. */
import { DatabaseSync } from "node:sqlite";
import type { AliasEntry, ImageAlias, ImageFiles, ImageRecord, ImageType } from "./model.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS images (
  fingerprint TEXT PRIMARY KEY,
  filename TEXT NOT NULL,
  type TEXT NOT NULL,
  architecture TEXT NOT NULL,
  size INTEGER NOT NULL,
  public INTEGER NOT NULL,
  auto_update INTEGER NOT NULL,
  cached INTEGER NOT NULL,
  properties TEXT NOT NULL,
  profiles TEXT NOT NULL,
  created_at TEXT NOT NULL,
  uploaded_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  last_used_at TEXT NOT NULL,
  update_source TEXT,
  files TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
  name TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL REFERENCES images(fingerprint) ON DELETE CASCADE,
  description TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS aliases_by_image ON aliases(fingerprint);
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** A trigger body: the counter moves on, and the images matching `where` take its value. */
const stamp = (where: string) =>
  `BEGIN
  UPDATE revision SET n = n + 1;
  UPDATE images SET rev = (SELECT n FROM revision) WHERE ${where};
END;`;

/**
 * Revisions: every insert or change of an image, or of an alias pointing at it, stamps the image
 * with the next number of one counter. A reader that kept images from an earlier look (the
 * server's list cache) then re-reads only those whose stamp moved, not all 10 000.
 */
const REVISIONS = `
CREATE TABLE IF NOT EXISTS revision (n INTEGER NOT NULL);
INSERT INTO revision (n) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM revision);
CREATE TRIGGER IF NOT EXISTS images_rev_insert AFTER INSERT ON images
  ${stamp("fingerprint = NEW.fingerprint")}
CREATE TRIGGER IF NOT EXISTS images_rev_update AFTER UPDATE OF filename, type, architecture,
  size, public, auto_update, cached, properties, profiles, created_at, uploaded_at, expires_at,
  last_used_at, update_source, files ON images
  ${stamp("fingerprint = NEW.fingerprint")}
CREATE TRIGGER IF NOT EXISTS aliases_rev_insert AFTER INSERT ON aliases
  ${stamp("fingerprint = NEW.fingerprint")}
CREATE TRIGGER IF NOT EXISTS aliases_rev_update AFTER UPDATE ON aliases
  ${stamp("fingerprint IN (OLD.fingerprint, NEW.fingerprint)")}
CREATE TRIGGER IF NOT EXISTS aliases_rev_delete AFTER DELETE ON aliases
  ${stamp("fingerprint = OLD.fingerprint")}
`;

/** Whether the store has the revision stamps (the last trigger is made last). */
function migrated(db: DatabaseSync): boolean {
  return db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'aliases_rev_delete'",
  ).get() !== undefined;
}

/** Adds what stores made by earlier versions lack, in one write transaction. */
function migrate(db: DatabaseSync): void {
  const cols = db.prepare("SELECT name FROM pragma_table_info('images')").all() as {
    name: string;
  }[];
  if (!cols.some((c) => c.name === "rev")) {
    db.exec("ALTER TABLE images ADD COLUMN rev INTEGER NOT NULL DEFAULT 0");
  }
  db.exec(REVISIONS);
}

type Row = Record<string, string | number | null>;

/** Opens (creating if needed) the database; WAL + busy timeout let processes share it. */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: 30_000 } as never);
  db.exec("PRAGMA busy_timeout = 30000");
  // Switching to WAL can fail with "database is locked" without waiting on the busy handler
  // while another process opens the same new store, so these retry for a while.
  retryLocked(() => db.exec("PRAGMA journal_mode = WAL"));
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
  retryLocked(() => db.exec(SCHEMA));
  if (!migrated(db)) retryLocked(() => writeTransaction(db, () => migrate(db)));
  return db;
}

function retryLocked(fn: () => void, ms = 30_000): void {
  const until = Date.now() + ms;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (!/locked|busy/i.test(String((err as Error).message)) || Date.now() > until) throw err;
      Atomics.wait(pause, 0, 0, 20);
    }
  }
}

/** Runs `fn` inside BEGIN IMMEDIATE … COMMIT, rolling back when it throws. */
export function writeTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}

function toRecord(row: Row, aliases: ImageAlias[]): ImageRecord {
  const rec: ImageRecord = {
    fingerprint: String(row.fingerprint),
    filename: String(row.filename),
    type: String(row.type) as ImageType,
    architecture: String(row.architecture),
    size: Number(row.size),
    public: row.public === 1,
    auto_update: row.auto_update === 1,
    cached: row.cached === 1,
    properties: JSON.parse(String(row.properties)),
    aliases,
    profiles: JSON.parse(String(row.profiles)),
    created_at: String(row.created_at),
    uploaded_at: String(row.uploaded_at),
    expires_at: String(row.expires_at),
    last_used_at: String(row.last_used_at),
    files: JSON.parse(String(row.files)) as ImageFiles,
  };
  if (row.update_source) rec.update_source = JSON.parse(String(row.update_source));
  return rec;
}

/** Typed queries over the open database. */
export class Records {
  readonly db: DatabaseSync;
  constructor(db: DatabaseSync) {
    this.db = db;
  }

  #aliasMap(): Map<string, ImageAlias[]> {
    const map = new Map<string, ImageAlias[]>();
    const rows = this.db.prepare("SELECT name, fingerprint, description FROM aliases ORDER BY name")
      .all() as Row[];
    for (const r of rows) {
      const list = map.get(String(r.fingerprint)) ?? [];
      list.push({ name: String(r.name), description: String(r.description) });
      map.set(String(r.fingerprint), list);
    }
    return map;
  }

  all(): ImageRecord[] {
    const aliases = this.#aliasMap();
    const rows = this.db.prepare("SELECT * FROM images ORDER BY fingerprint").all() as Row[];
    return rows.map((r) => toRecord(r, aliases.get(String(r.fingerprint)) ?? []));
  }

  /** Every image's fingerprint and revision stamp (see REVISIONS), by fingerprint. */
  revisions(): [fingerprint: string, rev: number][] {
    const st = this.db.prepare("SELECT fingerprint, rev FROM images ORDER BY fingerprint");
    st.setReturnArrays(true);
    return st.all() as unknown as [string, number][];
  }

  get(fingerprint: string): ImageRecord | undefined {
    const row = this.db.prepare("SELECT * FROM images WHERE fingerprint = ?").get(fingerprint) as
      | Row
      | undefined;
    if (!row) return undefined;
    const aliases = this.db.prepare(
      "SELECT name, description FROM aliases WHERE fingerprint = ? ORDER BY name",
    ).all(fingerprint) as { name: string; description: string }[];
    return toRecord(row, aliases.map((a) => ({ name: a.name, description: a.description })));
  }

  /** Full fingerprints starting with `prefix` (at most `limit`). */
  byPrefix(prefix: string, limit = 50): string[] {
    const rows = this.db.prepare(
      "SELECT fingerprint FROM images WHERE substr(fingerprint, 1, ?) = ? ORDER BY fingerprint LIMIT ?",
    ).all(prefix.length, prefix, limit) as { fingerprint: string }[];
    return rows.map((r) => r.fingerprint);
  }

  insert(rec: ImageRecord): void {
    this.db.prepare(
      `INSERT INTO images (fingerprint, filename, type, architecture, size, public, auto_update,
        cached, properties, profiles, created_at, uploaded_at, expires_at, last_used_at,
        update_source, files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      rec.fingerprint,
      rec.filename,
      rec.type,
      rec.architecture,
      rec.size,
      rec.public ? 1 : 0,
      rec.auto_update ? 1 : 0,
      rec.cached ? 1 : 0,
      JSON.stringify(rec.properties),
      JSON.stringify(rec.profiles),
      rec.created_at,
      rec.uploaded_at,
      rec.expires_at,
      rec.last_used_at,
      rec.update_source ? JSON.stringify(rec.update_source) : null,
      JSON.stringify(rec.files),
    );
  }

  /** Writes the mutable fields of `rec` back. */
  update(rec: ImageRecord): void {
    this.db.prepare(
      `UPDATE images SET public = ?, auto_update = ?, cached = ?, properties = ?, profiles = ?,
        expires_at = ?, last_used_at = ?, update_source = ? WHERE fingerprint = ?`,
    ).run(
      rec.public ? 1 : 0,
      rec.auto_update ? 1 : 0,
      rec.cached ? 1 : 0,
      JSON.stringify(rec.properties),
      JSON.stringify(rec.profiles),
      rec.expires_at,
      rec.last_used_at,
      rec.update_source ? JSON.stringify(rec.update_source) : null,
      rec.fingerprint,
    );
  }

  delete(fingerprint: string): void {
    this.db.prepare("DELETE FROM aliases WHERE fingerprint = ?").run(fingerprint);
    this.db.prepare("DELETE FROM images WHERE fingerprint = ?").run(fingerprint);
  }

  alias(name: string): AliasEntry | undefined {
    const row = this.db.prepare(
      `SELECT a.name, a.description, a.fingerprint, i.type FROM aliases a
       JOIN images i ON i.fingerprint = a.fingerprint WHERE a.name = ?`,
    ).get(name) as Row | undefined;
    return row
      ? {
        name: String(row.name),
        description: String(row.description),
        target: String(row.fingerprint),
        type: String(row.type) as ImageType,
      }
      : undefined;
  }

  aliases(): AliasEntry[] {
    const rows = this.db.prepare(
      `SELECT a.name, a.description, a.fingerprint, i.type FROM aliases a
       JOIN images i ON i.fingerprint = a.fingerprint ORDER BY a.name`,
    ).all() as Row[];
    return rows.map((r) => ({
      name: String(r.name),
      description: String(r.description),
      target: String(r.fingerprint),
      type: String(r.type) as ImageType,
    }));
  }

  putAlias(name: string, fingerprint: string, description: string): void {
    this.db.prepare("INSERT INTO aliases (name, fingerprint, description) VALUES (?, ?, ?)")
      .run(name, fingerprint, description);
  }

  setAlias(name: string, fingerprint: string, description: string): void {
    this.db.prepare("UPDATE aliases SET fingerprint = ?, description = ? WHERE name = ?")
      .run(fingerprint, description, name);
  }

  renameAlias(from: string, to: string): void {
    this.db.prepare("UPDATE aliases SET name = ? WHERE name = ?").run(to, from);
  }

  deleteAlias(name: string): void {
    this.db.prepare("DELETE FROM aliases WHERE name = ?").run(name);
  }

  config(key: string): string | undefined {
    const row = this.db.prepare("SELECT value FROM config WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  setConfig(key: string, value: string | undefined): void {
    if (value === undefined) this.db.prepare("DELETE FROM config WHERE key = ?").run(key);
    else {
      this.db.prepare(
        "INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
      ).run(key, value, value);
    }
  }

  allConfig(): Record<string, string> {
    const rows = this.db.prepare("SELECT key, value FROM config ORDER BY key").all() as {
      key: string;
      value: string;
    }[];
    return Object.fromEntries(rows.map((r) => [r.key, r.value]));
  }
}
