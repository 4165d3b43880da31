/**
 * A loopback stand-in for an LXD image server: the public subset of the REST API with LXD's
 * envelopes (§2 of the protocol notes), unified exports with Content-Disposition and split ones
 * as a chunked multipart body (closing boundary twice, as LXD writes it), download secrets for
 * a trusted client, and images/aliases that a test can change between calls.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { makeSplit, makeUnified } from "../../helpers.ts";
import { startHttps, type TestServer } from "./tls_helpers.ts";

export interface FakeImage {
  fingerprint: string;
  metadata: Uint8Array;
  rootfs?: Uint8Array;
  /** Multipart field of the rootfs part (default "rootfs"). */
  rootfsField?: string;
  type?: string;
  public: boolean;
  properties: Record<string, string>;
  aliases: { name: string; description: string }[];
  architecture?: string;
  filename?: string;
}

export interface FakeLxd extends TestServer {
  images: FakeImage[];
  /** Fingerprints of client certificates treated as trusted. */
  trusted: Set<string>;
  /** Issued download secrets → fingerprint. */
  secrets: Map<string, string>;
}

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

/** A fake image from tar files made by tests/helpers.ts (unified, or split with `split`). */
export function fakeImage(
  dir: string,
  name: string,
  opts: { split?: boolean; public?: boolean; aliases?: string[]; description?: string } = {},
): FakeImage {
  const props = { description: opts.description ?? `Image ${name}`, os: "testos", release: "1" };
  let metadata: Uint8Array;
  let rootfs: Uint8Array | undefined;
  if (opts.split) {
    const f = makeSplit(dir, name, { properties: props, compression: "gz" });
    metadata = new Uint8Array(readFileSync(f.metadata));
    rootfs = new Uint8Array(readFileSync(f.rootfs));
  } else {
    metadata = new Uint8Array(
      readFileSync(makeUnified(dir, name, { properties: props, compression: "gz" })),
    );
  }
  const fingerprint = rootfs ? sha(metadata, rootfs) : sha(metadata);
  return {
    fingerprint,
    metadata,
    rootfs,
    public: opts.public ?? true,
    properties: props,
    aliases: (opts.aliases ?? []).map((n) => ({ name: n, description: `alias ${n}` })),
    filename: `${name}.tar.gz`,
  };
}

const envelope = (metadata: unknown) => ({
  type: "sync",
  status: "Success",
  status_code: 200,
  operation: "",
  error_code: 0,
  error: "",
  metadata,
});

function send(res: ServerResponse, status: number, body: unknown, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers })
    .end(JSON.stringify(body));
}

function error(res: ServerResponse, code: number, text: string) {
  send(res, code, {
    type: "error",
    status: "",
    status_code: 0,
    operation: "",
    error_code: code,
    error: text,
    metadata: null,
  });
}

function apiImage(img: FakeImage) {
  return {
    auto_update: false,
    properties: img.properties,
    public: img.public,
    expires_at: "1970-01-01T00:00:00Z",
    profiles: ["default"],
    aliases: img.aliases,
    architecture: img.architecture ?? "x86_64",
    cached: false,
    filename: img.filename ?? "",
    fingerprint: img.fingerprint,
    size: img.metadata.byteLength + (img.rootfs?.byteLength ?? 0),
    type: img.type ?? "container",
    created_at: "2023-11-14T22:13:20Z",
    last_used_at: "0001-01-01T00:00:00Z",
    uploaded_at: "2026-01-02T15:04:05Z",
    some_future_field: { ignored: true },
  };
}

function exportImage(res: ServerResponse, img: FakeImage) {
  if (!img.rootfs) {
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(img.metadata.byteLength),
      "content-disposition": `inline;filename=${img.fingerprint}.tar.gz`,
    }).end(img.metadata);
    return;
  }
  const b = "0123456789abcdef".repeat(4);
  const head = (field: string, file: string, first: boolean) =>
    `${first ? "" : "\r\n"}--${b}\r\nContent-Disposition: form-data; name="${field}"; ` +
    `filename="${file}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  res.writeHead(200, { "content-type": `multipart/form-data; boundary=${b}` });
  res.write(head("metadata", `meta-${img.fingerprint}.tar.gz`, true));
  res.write(img.metadata);
  res.write(head(img.rootfsField ?? "rootfs", `${img.fingerprint}.tar.gz`, false));
  res.write(img.rootfs);
  res.end(`\r\n--${b}--\r\n--${b}--\r\n`);
}

/** Starts the fake server with `images` (the array stays live: tests may change it). */
export async function startLxd(images: FakeImage[]): Promise<FakeLxd> {
  const trusted = new Set<string>();
  const secrets = new Map<string, string>();
  const server = await startHttps((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "https://x");
    const seen = server.requests.at(-1);
    const isTrusted = !!seen?.clientCert && trusted.has(seen.clientCert);
    const secret = url.searchParams.get("secret");
    const visible = (img: FakeImage) =>
      img.public || isTrusted || (secret !== null && secrets.get(secret) === img.fingerprint);
    const path = url.pathname;
    const stat = /^\/static\/(.+)$/.exec(path);
    if (stat && req.method === "HEAD") {
      // A static URL import: LXD-Image-* point at the export of the aliased image.
      const img = images.find((i) => i.public && i.aliases.some((a) => a.name === stat[1]));
      if (!img) return void res.writeHead(404).end();
      return void res.writeHead(200, {
        "LXD-Image-Hash": img.fingerprint,
        "LXD-Image-URL": `${server.url}/1.0/images/${img.fingerprint}/export`,
      }).end();
    }
    if (path === "/1.0") {
      return send(
        res,
        200,
        envelope({
          api_extensions: ["images_expiry"],
          api_status: "stable",
          api_version: "1.0",
          auth: isTrusted ? "trusted" : "untrusted",
          public: true,
          auth_methods: ["tls"],
        }),
      );
    }
    if (path === "/1.0/images" && url.searchParams.get("recursion") === "1") {
      const list = images.filter(visible).map(apiImage);
      return send(res, 200, envelope([...list, { fingerprint: "not-a-fingerprint" }]));
    }
    const alias = /^\/1\.0\/images\/aliases\/(.+)$/.exec(path);
    if (alias) {
      const name = decodeURIComponent(alias[1]);
      const img = images.find((i) => visible(i) && i.aliases.some((a) => a.name === name));
      if (!img) return error(res, 404, "Image alias not found");
      return send(
        res,
        200,
        envelope({
          name,
          description: "",
          target: img.fingerprint,
          type: img.type ?? "container",
        }),
      );
    }
    const m = /^\/1\.0\/images\/([^/]+)(\/export|\/secret)?$/.exec(path);
    if (!m) return error(res, 404, "not found");
    const ref = decodeURIComponent(m[1]);
    const hits = images.filter((i) => visible(i) && i.fingerprint.startsWith(ref));
    if (m[2] === "/secret" && req.method === "POST") {
      const img = images.find((i) => i.fingerprint.startsWith(ref));
      if (!isTrusted || !img) return error(res, 403, "not authorized");
      const s = createHash("sha256").update(String(Math.random())).digest("hex");
      secrets.set(s, img.fingerprint);
      return send(res, 202, {
        type: "async",
        status: "Operation created",
        status_code: 100,
        operation: "/1.0/operations/1",
        error_code: 0,
        error: "",
        metadata: { id: "1", class: "token", status_code: 103, metadata: { secret: s } },
      }, { location: "/1.0/operations/1" });
    }
    if (hits.length === 0) return error(res, 404, "not found");
    if (hits.length > 1) return error(res, 500, "More than one image matches");
    if (m[2] === "/export") return exportImage(res, hits[0]);
    return send(res, 200, envelope(apiImage(hits[0])));
  });
  return { ...server, images, trusted, secrets };
}
