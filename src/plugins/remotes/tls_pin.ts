/**
 * TLS trust as lxc sets it up: TLS 1.3 minimum (unless LXD_INSECURE_TLS), system CAs, or one
 * pinned server certificate. A pinned certificate is matched exactly (sha256 of its DER); the
 * host name check is relaxed like lxc's: when the certificate has DNS SANs the first one is used
 * as the name to verify, so a pinned certificate works whatever address reaches the server.
 */
import { Buffer } from "node:buffer";
import { createHash, X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { isIP } from "node:net";
import process from "node:process";
import { RemoteError } from "../../core/errors.ts";

/** The node:tls options of one connection. */
export interface TlsSettings {
  minVersion: "TLSv1.2" | "TLSv1.3";
  ca?: string[];
  servername?: string;
  cert?: string;
  key?: string;
  checkServerIdentity?: (host: string, cert: tls.PeerCertificate) => Error | undefined;
  /** sha256 (hex, lowercase) the peer certificate must have; checked again on connect. */
  pin?: string;
}

/** A certificate's sha256(DER) fingerprint, lowercase hex (what `lxc remote add` prints). */
export function certificateFingerprint(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
}

/** "AB:CD:…" (node's fingerprint256) to "abcd…". */
export function bareFingerprint(colons: string): string {
  return colons.replaceAll(":", "").toLowerCase();
}

/** The DNS names in a certificate's subjectAltName, in order. */
export function dnsNames(pem: string): string[] {
  const san = new X509Certificate(pem).subjectAltName ?? "";
  return san.split(",").map((s) => s.trim()).filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4));
}

let systemCas: string[] | undefined;

/** Bundled plus system CA roots, read once per process (undefined: the runtime default). */
function systemRoots(): string[] | undefined {
  const get = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  if (!get) return undefined;
  if (!systemCas) {
    try {
      systemCas = [...new Set([...get("default"), ...get("system")])];
    } catch {
      systemCas = [];
    }
  }
  return systemCas.length ? systemCas : undefined;
}

/** Whether LXD_INSECURE_TLS is set: then TLS 1.2 is allowed too, as lxc allows it. */
export function insecureTls(env: Record<string, string | undefined>): boolean {
  return (env.LXD_INSECURE_TLS ?? "") !== "";
}

/** TLS options for a connection to `host`, pinned to `certificate` when given. */
export function tlsSettings(opts: {
  host: string;
  certificate?: string;
  clientCert?: string;
  clientKey?: string;
  insecure?: boolean;
}): TlsSettings {
  const out: TlsSettings = {
    minVersion: opts.insecure ? "TLSv1.2" : "TLSv1.3",
    cert: opts.clientCert,
    key: opts.clientKey,
  };
  if (!opts.certificate) {
    out.ca = systemRoots();
    if (!isIP(opts.host)) out.servername = opts.host;
    return out;
  }
  let pin: string;
  let names: string[];
  try {
    pin = certificateFingerprint(opts.certificate);
    names = dnsNames(opts.certificate);
  } catch (err) {
    throw new RemoteError(
      `Cannot use the pinned certificate: ${
        (err as Error).message
      }: remove and add the remote again`,
      { cause: err },
    );
  }
  const name = names[0] ?? (isIP(opts.host) ? undefined : opts.host);
  out.pin = pin;
  out.ca = [opts.certificate];
  out.servername = name;
  out.checkServerIdentity = (host, cert) => {
    const got = bareFingerprint(cert.fingerprint256 ?? "");
    if (got !== pin) return pinMismatch(pin, got);
    return tls.checkServerIdentity(name ?? host, cert);
  };
  return out;
}

/** The error for a server whose certificate is not the pinned one (a plain Error for node:tls). */
export function pinMismatch(want: string, got: string): Error {
  return new Error(
    `the server certificate ${got.slice(0, 12)} is not the pinned one (${want.slice(0, 12)}): ` +
      `if the server changed its certificate, remove the remote and add it again`,
  );
}

/**
 * Connects with verification off and returns the server's leaf certificate (PEM) and its
 * fingerprint, for `remote add` to show and pin, as lxc's GetRemoteCertificate does.
 */
export function grabCertificate(
  url: URL,
  opts: { timeoutMs?: number; insecure?: boolean } = {},
): Promise<{ pem: string; fingerprint: string }> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || 443);
  return new Promise((resolve, reject) => {
    const fail = (detail: string, cause?: unknown) =>
      reject(
        new RemoteError(`Cannot get the certificate of "${url.origin}": ${detail}`, { cause }),
      );
    const sock = tls.connect({
      host,
      port,
      servername: isIP(host) ? undefined : host,
      rejectUnauthorized: false,
      minVersion: (opts.insecure ?? insecureTls(process.env)) ? "TLSv1.2" : "TLSv1.3",
    }, () => {
      const cert = sock.getPeerCertificate(true);
      sock.destroy();
      if (!cert?.raw) return fail("the server sent no certificate");
      const der = new Uint8Array(cert.raw);
      const b64 = Buffer.from(der).toString("base64").replace(/(.{64})/g, "$1\n").replace(
        /\n$/,
        "",
      );
      const pem = `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
      resolve({ pem, fingerprint: createHash("sha256").update(der).digest("hex") });
    });
    sock.setTimeout(opts.timeoutMs ?? 30_000, () => {
      sock.destroy();
      fail(`no answer within ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s`);
    });
    sock.on("error", (err) => fail(err.message, err));
  });
}
