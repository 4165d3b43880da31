/**
 * Static URL import ("direct", `lxc image import https://…`): HEAD the URL with the host's
 * architectures and a server version (LXD's and Incus's header names), read the image's hash
 * and download URL from the answer, then GET that URL. Only unified images come this way, and
 * the bytes must hash to exactly the announced sha256. There is nothing to list.
 */
import { basename } from "node:path";
import { hostArch, personalities } from "../../core/arch.ts";
import { InvalidInputError, RemoteError, UsageError } from "../../core/errors.ts";
import { EPOCH } from "../../core/model.ts";
import type {
  ConnectOptions,
  Remote,
  RemoteImage,
  RemoteImageFiles,
  RemoteProtocol,
} from "../types.ts";
import { HttpClient } from "./http.ts";

/** The LXD release whose URL-import behaviour we follow, sent as LXD-Server-Version. */
export const LXD_COMPAT_VERSION = "5.0.2";
const HASH = /^[0-9a-f]{64}$/;

/** "x86_64, i686": the host architecture and its personalities, as LXD sends them. */
export function serverArchitectures(arch = hostArch()): string {
  return [arch, ...personalities(arch)].join(", ");
}

/** The headers a static URL server chooses an image by. */
export function directHeaders(arch = hostArch()): Record<string, string> {
  const archs = serverArchitectures(arch);
  return {
    "LXD-Server-Architectures": archs,
    "LXD-Server-Version": LXD_COMPAT_VERSION,
    "Incus-Server-Architectures": archs,
    "Incus-Server-Version": LXD_COMPAT_VERSION,
  };
}

class DirectRemote implements Remote {
  readonly #url: URL;
  readonly #http: HttpClient;
  readonly #imageUrls = new Map<string, string>();

  constructor(url: URL, http: HttpClient) {
    this.#url = url;
    this.#http = http;
  }

  // deno-lint-ignore require-yield
  async *list(): AsyncIterable<RemoteImage> {
    throw new UsageError(`Cannot list "${this.#url.href}": a static URL offers one image only`);
  }

  /** HEAD the URL (`ref` is ignored: the URL names the image) and read the two headers. */
  async resolve(_ref: string, want: { arch: string }): Promise<RemoteImage> {
    const what = `Cannot import "${this.#url.href}"`;
    const res = await this.#http.head(this.#url, { headers: directHeaders(want.arch) });
    const header = (name: string) =>
      res.headers.get(`LXD-${name}`) ?? res.headers.get(`Incus-${name}`) ?? undefined;
    const hash = header("Image-Hash")?.trim();
    const target = header("Image-URL")?.trim();
    const status = res.status >= 400 ? ` (the server answered ${res.status})` : "";
    if (!hash) throw new RemoteError(`${what}: missing LXD-Image-Hash header${status}`);
    if (!target) throw new RemoteError(`${what}: missing LXD-Image-URL header${status}`);
    if (!HASH.test(hash)) {
      throw new RemoteError(`${what}: LXD-Image-Hash "${hash.slice(0, 80)}" is not a sha256`);
    }
    let imageUrl: URL;
    try {
      imageUrl = new URL(target);
    } catch {
      throw new RemoteError(`${what}: LXD-Image-URL "${target.slice(0, 200)}" is not absolute`);
    }
    if (this.#url.protocol === "https:" && imageUrl.protocol !== "https:") {
      throw new RemoteError(`${what}: LXD-Image-URL "${imageUrl.href}" is not https`);
    }
    this.#imageUrls.set(hash, imageUrl.href);
    return {
      fingerprint: hash,
      type: "container", // the real type comes from the file
      architecture: "",
      size: 0,
      filename: basename(imageUrl.pathname) || hash,
      public: false,
      properties: {},
      aliases: [],
      created_at: EPOCH,
      uploaded_at: EPOCH,
      expires_at: EPOCH,
    };
  }

  async fetch(image: RemoteImage, signal?: AbortSignal): Promise<RemoteImageFiles> {
    const url = this.#imageUrls.get(image.fingerprint);
    if (!url) throw new RangeError("direct: fetch() of an image resolve() did not return");
    const res = await this.#http.download(url, { signal });
    const type = res.headers.get("content-type") ?? "";
    if (/^multipart\//i.test(type)) {
      await res.body.cancel().catch(() => {});
      throw new InvalidInputError(
        `Cannot import "${this.#url.href}": a static URL must give a unified image, not a ` +
          `split one`,
      );
    }
    const length = Number(res.headers.get("content-length") ?? NaN);
    return {
      metadata: {
        stream: res.body,
        name: image.filename,
        sha256: image.fingerprint,
        size: Number.isFinite(length) ? length : undefined,
      },
    };
  }
}

/** The static URL protocol plugin; `connect` contacts nothing. */
export const direct: RemoteProtocol = {
  kind: "remote",
  name: "direct",
  connect(url: URL, opts: ConnectOptions): Promise<Remote> {
    if (url.protocol !== "https:") {
      return Promise.reject(
        new UsageError(`Only https:// is supported for remote image import: "${url.href}"`),
      );
    }
    // LXD's daemon uses the system CA roots only, never a pinned certificate, for URL imports.
    const http = new HttpClient({
      certificate: opts.certificate,
      pinnedOrigin: url.origin,
      headersTimeoutMs: opts.timeouts?.headersMs,
      idleTimeoutMs: opts.timeouts?.idleMs,
    });
    return Promise.resolve(new DirectRemote(url, http));
  },
};
