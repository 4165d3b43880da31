/**
 * The server's TLS identity: a self-signed EC P-256 certificate with DNS and IP
 * subjectAltNames (lxc 5.0 rejects certificates without a SAN), made once and kept in the store
 * as server.crt / server.key, like LXD's own. Built with node:crypto only, so the binary needs
 * no openssl program.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { isIP } from "node:net";
import { InvalidInputError } from "../core/errors.ts";
import {
  bitString,
  boolean,
  explicit,
  integer,
  octetString,
  oid,
  sequence,
  set,
  time,
  tlv,
  utf8String,
} from "./der.ts";
import { certFingerprint } from "./trust.ts";

export interface TlsIdentity {
  cert: string;
  key: string;
  /** sha256 of the certificate's DER, as `lxc remote add` shows it. */
  fingerprint: string;
}

const ECDSA_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split(".").map(Number));
  // Expand "::" and write eight 16-bit groups.
  const [head, tail = ""] = ip.includes("::") ? ip.split("::") : [ip, undefined as never];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function pem(label: string, der: Uint8Array): string {
  const b64 = btoa(String.fromCharCode(...der)).replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** The DER bytes of the first certificate in a PEM text. */
export function pemToDer(text: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  if (!m) throw new InvalidInputError("Cannot read certificate: no PEM CERTIFICATE block found");
  return Uint8Array.from(atob(m[1].replace(/\s+/g, "")), (ch) => ch.charCodeAt(0));
}

/** A self-signed certificate for `names` (DNS names and IP addresses) and its key, as PEM. */
export function makeSelfSigned(
  names: string[],
  opts: { commonName?: string; days?: number; key?: KeyObject } = {},
): { cert: string; key: string } {
  const privateKey = opts.key ??
    generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  const spki = new Uint8Array(createPublicKey(privateKey).export({ type: "spki", format: "der" }));
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const name = sequence(
    set(sequence(oid("2.5.4.10"), utf8String("imago"))),
    set(sequence(oid("2.5.4.3"), utf8String(opts.commonName ?? "imago"))),
  );
  const sans = names.map((n) =>
    isIP(n) ? tlv(0x87, ipBytes(n)) : tlv(0x82, new TextEncoder().encode(n))
  );
  const now = Date.now();
  const tbs = sequence(
    explicit(0, integer(Uint8Array.of(2))),
    integer(serial),
    ECDSA_SHA256,
    name,
    sequence(time(new Date(now - 3600_000)), time(new Date(now + (opts.days ?? 3650) * 864e5))),
    name,
    spki,
    explicit(
      3,
      sequence(
        extension("2.5.29.15", true, bitString(Uint8Array.of(0x80))), // digitalSignature
        extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // serverAuth
        extension("2.5.29.19", true, sequence()), // CA:FALSE, as LXD's server.crt
        extension("2.5.29.17", false, sequence(...sans)),
      ),
    ),
  );
  const signature = new Uint8Array(sign("sha256", tbs, privateKey));
  const cert = sequence(tbs, ECDSA_SHA256, bitString(signature));
  return {
    cert: pem("CERTIFICATE", cert),
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

/** The names a generated certificate covers: this host, localhost and the loopback IPs. */
export function defaultNames(): string[] {
  const names = [hostname(), "localhost", "127.0.0.1", "::1"];
  return [...new Set(names.filter((n) => n !== ""))];
}

/**
 * The certificate and key at the given paths, or the store's server.crt/server.key, generated
 * on first use (key file mode 0600).
 */
export function loadOrCreateIdentity(
  storeDir: string,
  paths: { cert?: string; key?: string } = {},
): TlsIdentity & { created: boolean } {
  if ((paths.cert === undefined) !== (paths.key === undefined)) {
    throw new InvalidInputError("Cannot use TLS certificate: give both --tls-cert and --tls-key");
  }
  const certPath = paths.cert ?? join(storeDir, "server.crt");
  const keyPath = paths.key ?? join(storeDir, "server.key");
  let created = false;
  if (!paths.cert && !(existsSync(certPath) && existsSync(keyPath))) {
    const made = makeSelfSigned(defaultNames(), { commonName: `imago@${hostname()}` });
    // Written aside and renamed, so a half-written pair is never picked up.
    writeFileSync(`${keyPath}.new`, made.key, { mode: 0o600 });
    writeFileSync(`${certPath}.new`, made.cert, { mode: 0o644 });
    renameSync(`${keyPath}.new`, keyPath);
    renameSync(`${certPath}.new`, certPath);
    created = true;
  }
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certPath, "utf8");
    key = readFileSync(keyPath, "utf8");
  } catch (err) {
    throw new InvalidInputError(
      `Cannot read TLS certificate or key: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return { cert, key, fingerprint: certFingerprint(pemToDer(cert)), created };
}
