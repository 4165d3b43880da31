/**
 * The Hono app behind `imago serve`: LXD's public REST API, a simplestreams tree, static URL
 * import and the catalogue page, over one store. Routing only; each concern has its module.
 * `/1.0/images/aliases…` is routed before `/1.0/images/<fp>`.
 */
import { type Context, Hono } from "hono";
import type { Store } from "../core/store.ts";
import { VERSION } from "../version.ts";
import { prefersHtml, renderCatalogue } from "./catalogue.ts";
import { fileResponse } from "./downloads.ts";
import { errorResponse, syncResponse } from "./envelopes.ts";
import { HttpError, toErrorResponse } from "./errors.ts";
import { FileHashes } from "./file_hashes.ts";
import {
  exportImage,
  getAlias,
  getImage,
  listAliases,
  listImages,
  rawRemainder,
  type ServerIdentity,
  serverInfo,
} from "./lxd_api.ts";
import { ListCache } from "./list_cache.ts";
import { indexJson, productsJson } from "./simplestreams.ts";
import { ImageSecrets, secretAccess, secretRoutes } from "./secrets.ts";
import { parseArchitectures, pickImage, staticHeaders } from "./static_url.ts";
import { certFingerprint, TrustList } from "./trust.ts";
import { imageNotFound, ImageView } from "./view.ts";

/** Per-request state and the node bindings @hono/node-server passes (absent in app.request). */
export type ServeEnv = {
  Variables: { view: ImageView };
  Bindings: { incoming?: { socket?: { getPeerCertificate?(): { raw?: Uint8Array } | null } } };
};

export interface AppOptions {
  /** DER of the client's TLS certificate; default: read from the node socket when there is one. */
  clientCertificate?: (c: Context<ServeEnv>) => Uint8Array | undefined;
  /** Behind a reverse proxy: take scheme and host from X-Forwarded-Proto/-Host. */
  trustProxy?: boolean;
  identity?: Partial<ServerIdentity>;
  /** Remote name used in the catalogue's command lines. */
  remoteName?: string;
  /** Per-file hash cache; the server passes its own so it can compute hashes ahead. */
  hashes?: FileHashes;
  /** Image download secrets; tests pass their own (shared, or with a fake clock). */
  secrets?: ImageSecrets;
}

const MAX_URL = 8192;

/** Routes LXD knows but keeps from untrusted clients: 403 for them, 501 for trusted ones here. */
const RESTRICTED = [
  "/1.0/certificates",
  "/1.0/certificates/*",
  "/1.0/cluster",
  "/1.0/cluster/*",
  "/1.0/events",
  "/1.0/instances",
  "/1.0/instances/*",
  "/1.0/containers",
  "/1.0/containers/*",
  "/1.0/virtual-machines",
  "/1.0/virtual-machines/*",
  "/1.0/metrics",
  "/1.0/networks",
  "/1.0/networks/*",
  "/1.0/operations",
  "/1.0/operations/*",
  "/1.0/profiles",
  "/1.0/profiles/*",
  "/1.0/projects",
  "/1.0/projects/*",
  "/1.0/resources",
  "/1.0/storage-pools",
  "/1.0/storage-pools/*",
  "/1.0/warnings",
  "/1.0/warnings/*",
];

function defaultClientCertificate(c: Context<ServeEnv>): Uint8Array | undefined {
  const cert = c.env?.incoming?.socket?.getPeerCertificate?.();
  return cert?.raw && cert.raw.byteLength > 0 ? cert.raw : undefined;
}

/** scheme://host the client used, for absolute URLs we hand out. */
function origin(c: Context, trustProxy: boolean): string {
  const url = new URL(c.req.url);
  let proto = url.protocol.slice(0, -1);
  let host = url.host;
  if (trustProxy) {
    const p = c.req.header("X-Forwarded-Proto")?.split(",")[0].trim();
    const h = c.req.header("X-Forwarded-Host")?.split(",")[0].trim();
    if (p === "http" || p === "https") proto = p;
    if (h && /^[\w.:[\]-]{1,300}$/.test(h)) host = h;
  }
  return `${proto}://${host}`;
}

function forbidden(c: Context<ServeEnv>): Response {
  if (!c.get("view").trusted) return errorResponse(403, "not authorized");
  return errorResponse(501, "not implemented");
}

/**
 * Builds the app over `store`. Lists are re-read whenever the database changed (ListCache), so
 * images the CLI imports or publishes while the server runs show up at once.
 */
export function createApp(store: Store, opts: AppOptions = {}): Hono<ServeEnv> {
  const app = new Hono<ServeEnv>();
  const trust = new TrustList(store);
  const hashes = opts.hashes ?? new FileHashes(store);
  const cache = new ListCache(store);
  const clientCert = opts.clientCertificate ?? defaultClientCertificate;
  const secrets = opts.secrets ?? new ImageSecrets();
  const identity: ServerIdentity = {
    serverName: opts.identity?.serverName ?? "imago",
    version: opts.identity?.version ?? VERSION,
    certificate: opts.identity?.certificate,
    certificateFingerprint: opts.identity?.certificateFingerprint,
  };

  app.onError((err) => toErrorResponse(err));
  app.notFound(() => errorResponse(404, "not found"));

  app.use(async (c, next) => {
    if (c.req.url.length > MAX_URL) throw new HttpError(414, "request URI too long");
    const der = clientCert(c);
    const trusted = der !== undefined && trust.has(certFingerprint(der));
    c.set("view", new ImageView(store, trusted, cache));
    await next();
  });

  app.get("/", (c) => {
    if (!prefersHtml(c.req.header("Accept") ?? null)) return syncResponse(["/1.0"]);
    const html = renderCatalogue(c.get("view").list().filter((r) => r.public), {
      url: origin(c, opts.trustProxy ?? false),
      remote: opts.remoteName,
    });
    return c.html(html);
  });
  app.get("/1.0", (c) => serverInfo(c, identity));

  app.get("/1.0/images", listImages);
  app.get("/1.0/images/aliases", listAliases);
  app.get("/1.0/images/aliases/*", getAlias);
  app.get("/1.0/images/:fp", secretAccess(secrets), getImage);
  app.get("/1.0/images/:fp/export", secretAccess(secrets), exportImage);
  app.on(["POST"], ["/1.0/images", "/1.0/images/aliases"], forbidden);
  app.on(["PUT", "PATCH", "POST", "DELETE"], "/1.0/images/aliases/*", forbidden);
  app.on(["PUT", "PATCH", "DELETE"], "/1.0/images/:fp", forbidden);
  app.on(["POST"], "/1.0/images/:fp/export", forbidden);
  app.on(["POST"], "/1.0/images/:fp/refresh", forbidden);
  secretRoutes(app, secrets, forbidden);
  app.all("/1.0/*", (c, next) => {
    const path = c.req.path;
    const hit = RESTRICTED.some((r) =>
      r.endsWith("/*") ? path.startsWith(r.slice(0, -1)) : path === r
    );
    return hit ? forbidden(c) : next();
  });

  app.get("/streams/v1/index.json", (c) => c.json(indexJson(c.get("view").list())));
  app.get("/streams/v1/images.json", async (c) => {
    const view = c.get("view");
    const key = `products:${view.trusted}`;
    let body = cache.peek<string>(key);
    if (body === undefined) {
      const version = cache.version();
      body = JSON.stringify(await productsJson(view.list(), store, hashes));
      // Kept only when nothing changed meanwhile (newly computed hashes do, once).
      cache.put(key, body, version);
    }
    return c.body(body, 200, { "Content-Type": "application/json" });
  });
  app.get("/images/:fp/:name", (c) => {
    const fp = c.req.param("fp");
    const name = c.req.param("name");
    const rec = fp.length === 64 ? c.get("view").image(fp) : undefined;
    if (!rec) throw imageNotFound(fp);
    const files = store.files(rec.fingerprint);
    const file = [files.metadata, files.rootfs].find((f) => f?.name === name);
    if (!file) throw imageNotFound(`${fp}/${name}`);
    // Both halves of a split image share the fingerprint, so each file gets its own tag.
    return fileResponse(
      c.req.raw,
      file,
      `"${rec.fingerprint}${file === files.rootfs ? "-rootfs" : ""}"`,
    );
  });

  app.get("/static/*", (c) => {
    const name = rawRemainder(c, "/static/");
    const archs = parseArchitectures(
      c.req.header("LXD-Server-Architectures") ?? c.req.header("Incus-Server-Architectures") ??
        null,
    );
    const rec = pickImage(c.get("view"), name, archs);
    const headers = staticHeaders(origin(c, opts.trustProxy ?? false), rec);
    const res = syncResponse({ fingerprint: rec.fingerprint, url: headers["LXD-Image-URL"] });
    for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
    return res;
  });

  return app;
}
