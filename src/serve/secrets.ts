/**
 * Image download secrets, LXD's "token" operations: a trusted client asks
 * POST /1.0/images/<fp>/secret and hands the secret on (in `lxc image copy` to the target LXD
 * daemon), which may then read that one private image's record and download it once with
 * `?secret=`. A wrong, used or expired secret changes nothing, so the image stays exactly as
 * missing as without one. Secrets live in memory only; a restart forgets them, as LXD's
 * operations. They never go into error messages.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import { randomBytes, randomUUID } from "node:crypto";
import { NotFoundError } from "../core/errors.ts";
import type { ImageRecord } from "../core/model.ts";
import type { ServeEnv } from "./app.ts";
import { syncResponse } from "./envelopes.ts";
import { HEX_PREFIX, ImageView } from "./view.ts";

export interface SecretOptions {
  /** How long an unused secret stays valid; default 5 minutes (LXD's never expire). */
  ttlMs?: number;
  /** After the download started, how long ranged requests may still resume it; default 60 s. */
  resumeMs?: number;
  /** Most secrets kept at a time; beyond it the oldest is dropped. Default 1000. */
  max?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** What a request wants a secret for: the record or a HEAD, a download, or resuming one. */
export type SecretUse = "read" | "download" | "resume";

interface Entry {
  id: string;
  secret: string;
  fingerprint: string;
  created: number;
  /** When the first download started: from then on only resuming it is allowed. */
  spent?: number;
}

/** LXD's api.Operation, as GET /1.0/operations/<id> shows it. */
export interface Operation {
  id: string;
  class: "token";
  description: string;
  created_at: string;
  updated_at: string;
  status: "Running" | "Cancelled";
  status_code: 103 | 401;
  resources: { images: string[] };
  metadata: { secret: string };
  may_cancel: true;
  err: "";
  location: "none";
}

export class ImageSecrets {
  readonly #byId = new Map<string, Entry>();
  readonly #bySecret = new Map<string, Entry>();
  readonly #ttl: number;
  readonly #resume: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(opts: SecretOptions = {}) {
    this.#ttl = opts.ttlMs ?? 5 * 60_000;
    this.#resume = opts.resumeMs ?? 60_000;
    this.#max = opts.max ?? 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** A new secret for the image with this full fingerprint; returns its operation. */
  create(fingerprint: string): Operation {
    this.#prune();
    while (this.#byId.size >= this.#max) this.#drop(this.#byId.values().next().value!);
    const e: Entry = {
      id: randomUUID(),
      secret: randomBytes(32).toString("hex"),
      fingerprint,
      created: this.#now(),
    };
    this.#byId.set(e.id, e);
    this.#bySecret.set(e.secret, e);
    return toOperation(e);
  }

  operation(id: string): Operation | undefined {
    this.#prune();
    const e = this.#byId.get(id);
    return e && toOperation(e);
  }

  operations(): Operation[] {
    this.#prune();
    return [...this.#byId.values()].map(toOperation);
  }

  /** Revokes a secret (DELETE on its operation); false when there is no such operation. */
  cancel(id: string): boolean {
    this.#prune();
    const e = this.#byId.get(id);
    if (e) this.#drop(e);
    return e !== undefined;
  }

  /**
   * The fingerprint `secret` opens when `ref` (a fingerprint or prefix) names its image, else
   * undefined. A download spends the secret: afterwards only ranged requests resuming it work,
   * for a short while, as LXD lets a used token linger a few seconds.
   */
  open(secret: string, ref: string, use: SecretUse): string | undefined {
    this.#prune();
    const e = this.#bySecret.get(secret);
    const prefix = ref.toLowerCase();
    if (!e || !HEX_PREFIX.test(prefix) || !e.fingerprint.startsWith(prefix)) return undefined;
    if (e.spent !== undefined) return use === "resume" ? e.fingerprint : undefined;
    if (use !== "read") e.spent = this.#now();
    return e.fingerprint;
  }

  #prune(): void {
    const now = this.#now();
    for (const e of this.#byId.values()) {
      const end = e.spent === undefined ? e.created + this.#ttl : e.spent + this.#resume;
      if (now >= end) this.#drop(e);
    }
  }

  #drop(e: Entry): void {
    this.#byId.delete(e.id);
    this.#bySecret.delete(e.secret);
  }
}

function toOperation(e: Entry): Operation {
  const spent = e.spent !== undefined;
  return {
    id: e.id,
    class: "token",
    description: "Image download token",
    created_at: new Date(e.created).toISOString(),
    updated_at: new Date(e.spent ?? e.created).toISOString(),
    status: spent ? "Cancelled" : "Running",
    status_code: spent ? 401 : 103,
    resources: { images: [`/1.0/images/${e.fingerprint}`] },
    metadata: { secret: e.secret },
    may_cancel: true,
    err: "",
    location: "none",
  };
}

/** An untrusted client's view that also shows the one image a secret opened. */
class GrantedView extends ImageView {
  readonly #fingerprint: string;

  constructor(view: ImageView, fingerprint: string) {
    super(view.store, view.trusted, view.cache);
    this.#fingerprint = fingerprint;
  }

  override image(ref: string): ImageRecord {
    const rec = this.store.get(this.#fingerprint);
    if (rec && ref !== "" && this.#fingerprint.startsWith(ref.toLowerCase())) return rec;
    return super.image(ref);
  }
}

/** Middleware for GET /1.0/images/<fp>[/export]: a valid `?secret=` opens that image. */
export function secretAccess(secrets: ImageSecrets): MiddlewareHandler<ServeEnv> {
  return async (c, next) => {
    const view = c.get("view");
    const secret = c.req.query("secret");
    if (!view.trusted && secret) {
      const download = c.req.method === "GET" && c.req.path.endsWith("/export");
      const use = !download ? "read" : c.req.header("Range") ? "resume" : "download";
      const fp = secrets.open(secret, c.req.param("fp") ?? "", use);
      if (fp) c.set("view", new GrantedView(view, fp));
    }
    await next();
  };
}

/** LXD's async answer: 202, the operation in `metadata` and its URL in `operation`. */
function asyncResponse(op: Operation): Response {
  const url = `/1.0/operations/${op.id}`;
  const body = {
    type: "async",
    status: "Operation created",
    status_code: 100,
    operation: url,
    error_code: 0,
    error: "",
    metadata: op,
  };
  return new Response(JSON.stringify(body), {
    status: 202,
    headers: { "Content-Type": "application/json", "Location": url },
  });
}

function operationNotFound(c: Context): NotFoundError {
  return new NotFoundError(`Operation "${(c.req.param("id") ?? "").slice(0, 100)}" not found`);
}

/**
 * POST /1.0/images/<fp>/secret and the operation routes for the secrets; only trusted
 * clients reach them, everyone else gets `deny`. Registered before the catch-all for
 * /1.0/operations, so other operation paths keep their answers.
 */
export function secretRoutes(
  app: Hono<ServeEnv>,
  secrets: ImageSecrets,
  deny: (c: Context<ServeEnv>) => Response,
): void {
  const trusted = (handler: (c: Context<ServeEnv>) => Response) => (c: Context<ServeEnv>) =>
    c.get("view").trusted ? handler(c) : deny(c);

  app.post(
    "/1.0/images/:fp/secret",
    trusted((c) => {
      const rec = c.get("view").image(c.req.param("fp") ?? "");
      return asyncResponse(secrets.create(rec.fingerprint));
    }),
  );
  app.get(
    "/1.0/operations",
    trusted((c) => {
      const deep = Number.parseInt(c.req.query("recursion") ?? "0", 10) > 0;
      const byStatus: Record<string, unknown[]> = {};
      for (const op of secrets.operations()) {
        (byStatus[op.status.toLowerCase()] ??= []).push(deep ? op : `/1.0/operations/${op.id}`);
      }
      return syncResponse(byStatus);
    }),
  );
  app.get(
    "/1.0/operations/:id",
    trusted((c) => {
      const op = secrets.operation(c.req.param("id") ?? "");
      if (!op) throw operationNotFound(c);
      return syncResponse(op);
    }),
  );
  app.delete(
    "/1.0/operations/:id",
    trusted((c) => {
      if (!secrets.cancel(c.req.param("id") ?? "")) throw operationNotFound(c);
      return syncResponse({});
    }),
  );
}

/** The URL with `secret=` values masked: whoever reads the log could use a download secret. */
export function hideSecrets(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const params = url.slice(q + 1).split("&").map((kv) => {
    const name = kv.split("=", 1)[0];
    let key = name;
    try {
      key = decodeURIComponent(name.replaceAll("+", " "));
    } catch { /* not percent-encoded properly: compared as it is */ }
    return key.toLowerCase() === "secret" ? `${name}=-` : kv;
  });
  return `${url.slice(0, q + 1)}${params.join("&")}`;
}
