/**
 * The LXD REST protocol as a client ("lxd"): what `lxc image list/info/export/copy` ask of an
 * LXD server (or `imago serve`). A name resolves through /1.0/images/aliases/<name> first, then
 * as a fingerprint or prefix; the export is one file (named by Content-Disposition) or, for a
 * split image, a multipart body read as a stream. Private images are reachable with a trusted
 * client certificate, through a download secret as LXD's own pulls do.
 */
import { NotFoundError, RemoteError, UsageError } from "../../core/errors.ts";
import type { ImageType } from "../../core/model.ts";
import type {
  ConnectOptions,
  Remote,
  RemoteImage,
  RemoteImageFiles,
  RemoteProtocol,
} from "../types.ts";
import { HttpClient, type HttpResponse } from "./http.ts";
import { readSmall } from "./http_body.ts";
import { resumingBody } from "./http_resume.ts";
import {
  pathEscape,
  type ServerInfo,
  toAlias,
  toRemoteImage,
  toServerInfo,
  unwrap,
} from "./lxd_api.ts";
import { headerParams, MultipartReader } from "./multipart.ts";

/** Error answers and JSON lists are small; a larger one is refused. */
const ERROR_LIMIT = 1 << 20;

export class LxdRemote implements Remote {
  readonly base: string;
  readonly http: HttpClient;
  readonly #trusted: boolean;
  #info?: ServerInfo;

  constructor(url: URL, http: HttpClient, opts: { trusted?: boolean } = {}) {
    this.base = url.href.replace(/\/+$/, "");
    this.http = http;
    this.#trusted = opts.trusted ?? false;
  }

  /** GET /1.0 (once): the server's auth state, public flag and extensions. */
  async server(signal?: AbortSignal): Promise<ServerInfo> {
    if (!this.#info) {
      const url = `${this.base}/1.0`;
      this.#info = toServerInfo(await this.#query(url, { signal }), url);
    }
    return this.#info;
  }

  async *list(signal?: AbortSignal): AsyncIterable<RemoteImage> {
    const url = `${this.base}/1.0/images?recursion=1`;
    const meta = await this.#query(url, { signal });
    if (!Array.isArray(meta)) throw new RemoteError(`Cannot read "${url}": no image list`);
    for (const raw of meta) {
      const img = toRemoteImage(raw);
      if (img) yield img;
    }
  }

  /**
   * An alias (of the wanted type, when one is given), else a fingerprint or unique prefix.
   * LXD aliases name one image each, so `want.arch` does not select anything here.
   */
  async resolve(ref: string, want: { arch: string; type?: ImageType }): Promise<RemoteImage> {
    if (!ref) throw new UsageError("Cannot resolve an image: no alias or fingerprint given");
    let target = ref;
    const aliasUrl = `${this.base}/1.0/images/aliases/${pathEscape(ref)}`;
    // A 404 here means "not an alias": then the name is taken as a fingerprint or prefix.
    const alias = await this.#query(aliasUrl).then(
      (meta) => toAlias(meta, aliasUrl),
      (err) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      },
    );
    if (alias && want.type && alias.type !== want.type) {
      throw new NotFoundError(
        `Alias "${ref}" on "${this.base}" names a ${alias.type} image, not a ${want.type}`,
      );
    }
    if (alias) target = alias.target;
    const url = `${this.base}/1.0/images/${encodeURIComponent(target)}`;
    let img: RemoteImage | undefined;
    try {
      img = toRemoteImage(await this.#query(url));
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new NotFoundError(`Image "${ref}" not found on "${this.base}"`, { cause: err });
      }
      throw err;
    }
    if (!img) throw new RemoteError(`Cannot read "${url}": no valid image object`);
    if (want.type && img.type !== want.type) {
      throw new NotFoundError(
        `Image "${ref}" on "${this.base}" is a ${img.type} image, not a ${want.type}`,
      );
    }
    return img;
  }

  async fetch(image: RemoteImage, signal?: AbortSignal): Promise<RemoteImageFiles> {
    const fp = image.fingerprint;
    let query = "";
    if (!image.public && this.#trusted) query = `?secret=${await this.#secret(fp, signal)}`;
    const url = `${this.base}/1.0/images/${fp}/export${query}`;
    const res = await this.http.getStream(url, { signal });
    if (res.status !== 200) await this.#failed(res);
    const type = headerParams(res.headers.get("content-type") ?? "");
    if (type.type === "multipart/form-data") return await this.#split(res, type.params.boundary);
    const cd = headerParams(res.headers.get("content-disposition") ?? "");
    if (!cd.params.filename) {
      await res.body.cancel().catch(() => {});
      throw new RemoteError(`Cannot download "${url}": no filename in Content-Disposition header`);
    }
    const length = Number(res.headers.get("content-length") ?? NaN);
    return {
      metadata: {
        stream: resumingBody(this.http, res, { signal }),
        name: cd.params.filename,
        size: Number.isFinite(length) ? length : undefined,
      },
    };
  }

  async #split(res: HttpResponse, boundary: string | undefined): Promise<RemoteImageFiles> {
    const what = `"${res.url.href}"`;
    if (!boundary) {
      await res.body.cancel().catch(() => {});
      throw new RemoteError(`Cannot download ${what}: multipart answer without a boundary`);
    }
    const parts = new MultipartReader(res.body, boundary, what);
    const meta = await parts.next().catch(async (err) => {
      await parts.cancel(err);
      throw err;
    });
    const bad = async (detail: string) => {
      const err = new RemoteError(`Cannot download ${what}: invalid multipart image: ${detail}`);
      await parts.cancel(err);
      return err;
    };
    if (!meta || meta.name !== "metadata") throw await bad(`the first part is not "metadata"`);
    // The rootfs part can only start once the metadata part has been read to its end.
    let rootReader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const rootfs = new ReadableStream<Uint8Array>({
      async start(c) {
        try {
          const part = await parts.next();
          if (!part || (part.name !== "rootfs" && part.name !== "rootfs.img")) {
            c.error(await bad(`the second part is not "rootfs" or "rootfs.img"`));
            return;
          }
          rootReader = part.body.getReader();
        } catch (err) {
          await parts.cancel(err);
          c.error(err);
        }
      },
      async pull(c) {
        const r = await rootReader!.read();
        if (r.done) {
          await parts.cancel();
          c.close();
        } else c.enqueue(r.value);
      },
      async cancel(reason) {
        await rootReader?.cancel(reason);
        await parts.cancel(reason);
      },
    });
    return {
      metadata: { stream: meta.body, name: meta.filename || "metadata" },
      rootfs: { stream: rootfs, name: "rootfs" },
    };
  }

  /** A download secret for a private image (needs a trusted client certificate). */
  async #secret(fp: string, signal?: AbortSignal): Promise<string> {
    const url = `${this.base}/1.0/images/${fp}/secret`;
    const op = await this.#query(url, { method: "POST", body: "{}", signal });
    const secret = (op as { metadata?: { secret?: unknown } } | null)?.metadata?.secret;
    if (typeof secret !== "string" || !secret) {
      throw new RemoteError(`Cannot get a download secret from "${url}": no secret in the answer`);
    }
    return encodeURIComponent(secret);
  }

  async #query(
    url: string,
    opts: { method?: string; body?: string; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const headers = opts.body === undefined ? undefined : { "Content-Type": "application/json" };
    const res = await this.http.requestJson(url, { ...opts, headers });
    return unwrap(res.json, res.status, res.url.href);
  }

  /** Turns a failed download answer (an error envelope, or not) into the error. */
  async #failed(res: HttpResponse): Promise<never> {
    const text = new TextDecoder().decode(
      await readSmall(res.body, ERROR_LIMIT, res.url.href).catch(() => new Uint8Array()),
    );
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RemoteError(`Failed to fetch "${res.url.href}": ${res.status}`);
    }
    unwrap(json, res.status, res.url.href);
    throw new RemoteError(`Failed to fetch "${res.url.href}": ${res.status}`);
  }
}

/** The LXD protocol plugin. `connect` asks GET /1.0 at once, so a bad server fails early. */
export const lxd: RemoteProtocol = {
  kind: "remote",
  name: "lxd",
  async connect(url: URL, opts: ConnectOptions): Promise<Remote> {
    if (url.protocol !== "https:") {
      throw new UsageError(`Invalid URL scheme "${url.protocol.slice(0, -1)}" in "${url.href}"`);
    }
    const http = new HttpClient({
      certificate: opts.certificate,
      pinnedOrigin: url.origin,
      clientCert: opts.clientCert,
      clientKey: opts.clientKey,
      headersTimeoutMs: opts.timeouts?.headersMs,
      idleTimeoutMs: opts.timeouts?.idleMs,
    });
    const remote = new LxdRemote(url, http, { trusted: !!opts.clientCert });
    const info = await remote.server(opts.signal);
    if (opts.clientCert && info.auth !== "trusted") {
      // Not trusted after all: public images only, and no secrets to ask for.
      return new LxdRemote(url, http, { trusted: false });
    }
    return remote;
  },
};
