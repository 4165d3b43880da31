/**
 * The public side of LXD's REST API for images: server info, image and alias lists and objects,
 * and exports, with LXD's envelopes. Every lookup goes through the request's ImageView, so
 * private images stay invisible to untrusted clients.
 */
import type { Context } from "hono";
import { toApiAlias, toApiImage } from "../core/api_image.ts";
import { InvalidInputError } from "../core/errors.ts";
import { hostArch, personalities } from "../core/arch.ts";
import { syncEnvelope, syncEnvelopeJson, syncResponse } from "./envelopes.ts";
import { fileResponse, multipartResponse } from "./downloads.ts";
import { matchFilter, parseFilter } from "./filter.ts";
import type { ImageView } from "./view.ts";
import type { ServeEnv } from "./app.ts";

/** API extensions we implement and clients look at; `lxc` works with an empty list too. */
export const API_EXTENSIONS: readonly string[] = ["api_filtering"];

export interface ServerIdentity {
  /** Our certificate (PEM) and its fingerprint, shown to trusted clients as LXD does. */
  certificate?: string;
  certificateFingerprint?: string;
  serverName: string;
  version: string;
}

/** GET /1.0 */
export function serverInfo(c: Context<ServeEnv>, id: ServerIdentity): Response {
  const view = c.get("view");
  const info: Record<string, unknown> = {
    api_extensions: API_EXTENSIONS,
    api_status: "stable",
    api_version: "1.0",
    auth: view.trusted ? "trusted" : "untrusted",
    public: true,
    auth_methods: ["tls"],
  };
  if (view.trusted) {
    const arch = hostArch();
    info.config = {};
    info.environment = {
      architectures: [arch, ...personalities(arch)],
      certificate: id.certificate ?? "",
      certificate_fingerprint: id.certificateFingerprint ?? "",
      project: "default",
      server: "imago",
      server_clustered: false,
      server_name: id.serverName,
      server_version: id.version,
    };
  }
  return syncResponse(info);
}

/** recursion=0 (or anything not a positive number) lists URLs; 1 and 2 list objects. */
function recursion(c: Context): number {
  const n = Number.parseInt(c.req.query("recursion") ?? "0", 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** GET /1.0/images; the unfiltered answers are serialised once per database change. */
export function listImages(c: Context<ServeEnv>): Response {
  const view = c.get("view");
  const filter = c.req.query("filter") ?? "";
  const clauses = parseFilter(filter);
  const deep = recursion(c) > 0;
  const make = () => {
    const images = view.list().map(toApiImage).filter((i) => matchFilter(i, clauses));
    return JSON.stringify(
      syncEnvelope(deep ? images : images.map((i) => `/1.0/images/${i.fingerprint}`)),
    );
  };
  // Unfiltered, the objects come from the per-image serialisations the cache keeps.
  const all = () =>
    deep
      ? syncEnvelopeJson(view.listJson())
      : JSON.stringify(syncEnvelope(view.list().map((i) => `/1.0/images/${i.fingerprint}`)));
  const body = clauses.length ? make() : view.cache.memo(`images:${view.trusted}:${deep}`, all);
  return new Response(body, { headers: { "Content-Type": "application/json" } });
}

/** GET /1.0/images/<fp> */
export function getImage(c: Context<ServeEnv>): Response {
  return syncResponse(toApiImage(c.get("view").image(c.req.param("fp") ?? "")));
}

/** GET /1.0/images/<fp>/export: the unified file, or multipart for a split image. */
export function exportImage(c: Context<ServeEnv>): Promise<Response> {
  const view: ImageView = c.get("view");
  const rec = view.image(c.req.param("fp") ?? "");
  const files = view.store.files(rec.fingerprint);
  const etag = `"${rec.fingerprint}"`;
  if (!files.rootfs) return fileResponse(c.req.raw, files.metadata, etag);
  const rootfsField = rec.type === "virtual-machine" ? "rootfs.img" : "rootfs";
  return multipartResponse(c.req.raw, [
    { field: "metadata", file: files.metadata },
    { field: rootfsField, file: files.rootfs },
  ], etag);
}

/** GET /1.0/images/aliases: public aliases (real LXD answers 403 here; this is harmless). */
export function listAliases(c: Context<ServeEnv>): Response {
  const clauses = parseFilter(c.req.query("filter") ?? "");
  const aliases = c.get("view").aliases().map(toApiAlias).filter((a) => matchFilter(a, clauses));
  if (recursion(c) > 0) return syncResponse(aliases);
  return syncResponse(aliases.map((a) => `/1.0/images/aliases/${encodeURIComponent(a.name)}`));
}

/** The alias name in a path: the raw remainder after `prefix`, percent-decoded once. */
export function rawRemainder(c: Context, prefix: string): string {
  const path = new URL(c.req.url).pathname;
  const raw = path.startsWith(prefix) ? path.slice(prefix.length) : "";
  if (raw.length > 1024) throw new InvalidInputError(`Invalid name: longer than 1024 characters`);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InvalidInputError(`Invalid name "${raw.slice(0, 100)}": bad percent-encoding`);
  }
}

/** GET /1.0/images/aliases/<name> */
export function getAlias(c: Context<ServeEnv>): Response {
  const name = rawRemainder(c, "/1.0/images/aliases/");
  return syncResponse(toApiAlias(c.get("view").alias(name)));
}
