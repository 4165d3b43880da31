/**
 * Trusted client certificates: a client whose TLS certificate's sha256 is listed here sees
 * private images too. Kept in a small table of the store's database.
 */
import { createHash, X509Certificate } from "node:crypto";
import { ConflictError, InvalidInputError, NotFoundError } from "../core/errors.ts";
import type { Store } from "../core/store.ts";

export interface TrustEntry {
  fingerprint: string;
  name: string;
  added_at: string;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS serve_trust (
  fingerprint TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  certificate TEXT NOT NULL,
  added_at TEXT NOT NULL
)`;

/** sha256 of a certificate's DER bytes, as `lxc` shows server and client certificates. */
export function certFingerprint(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
}

export class TrustList {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    store.records.db.exec(SCHEMA);
  }

  /** Whether the certificate with this DER fingerprint is trusted (read fresh each time). */
  has(fingerprint: string): boolean {
    return this.#store.records.db.prepare("SELECT 1 FROM serve_trust WHERE fingerprint = ?")
      .get(fingerprint) !== undefined;
  }

  list(): TrustEntry[] {
    return this.#store.records.db.prepare(
      "SELECT fingerprint, name, added_at FROM serve_trust ORDER BY name, fingerprint",
    ).all() as unknown as TrustEntry[];
  }

  /** Adds a PEM certificate; `name` defaults to its subject's CN. */
  add(pem: string, name?: string): TrustEntry {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (err) {
      throw new InvalidInputError(`Cannot trust certificate: not a PEM certificate`, {
        cause: err,
      });
    }
    const fingerprint = certFingerprint(new Uint8Array(cert.raw));
    if (this.has(fingerprint)) {
      throw new ConflictError(
        `Cannot trust certificate ${fingerprint.slice(0, 12)}: already trusted`,
      );
    }
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? "";
    const entry = { fingerprint, name: name ?? cn, added_at: new Date().toISOString() };
    this.#store.records.db.prepare(
      "INSERT INTO serve_trust (fingerprint, name, certificate, added_at) VALUES (?, ?, ?, ?)",
    ).run(entry.fingerprint, entry.name, cert.toString(), entry.added_at);
    return entry;
  }

  /** Removes by full fingerprint or unique prefix. */
  remove(ref: string): TrustEntry {
    const hits = this.list().filter((e) => e.fingerprint.startsWith(ref.toLowerCase()));
    if (hits.length !== 1 || ref === "") {
      throw new NotFoundError(
        hits.length > 1
          ? `Cannot remove trust "${ref}": more than one certificate matches`
          : `Trusted certificate "${ref}" not found`,
      );
    }
    this.#store.records.db.prepare("DELETE FROM serve_trust WHERE fingerprint = ?")
      .run(hits[0].fingerprint);
    return hits[0];
  }
}
