/**
 * The "simplestreams" remote protocol: a read-only image server made of static JSON and files
 * (images.linuxcontainers.org, cloud-images.ubuntu.com, `imago serve`). The catalogue is read
 * once per connection; fetch() hands out the metadata and rootfs files as lazy streams with the
 * sha256 and size their items give, for the pull pipeline to verify along with the fingerprint.
 */
import { posix } from "node:path";
import { hostArch } from "../../../core/arch.ts";
import { NotFoundError } from "../../../core/errors.ts";
import type { ImageType } from "../../../core/model.ts";
import type {
  ConnectOptions,
  Remote,
  RemoteFile,
  RemoteImage,
  RemoteImageFiles,
  RemoteProtocol,
} from "../../types.ts";
import { createHttpClient, type HttpClient } from "../http.ts";
import { type Catalogue, findImage, loadCatalogue } from "./index.ts";
import type { SsItem } from "./products.ts";
import type { SsImage } from "./to_images.ts";

/** `path` under the base URL's path (LXD joins with path.Join), never leaving its origin. */
export function itemUrl(base: URL, path: string): URL {
  const url = new URL(base.href);
  url.pathname = posix.join("/", base.pathname, path);
  url.search = "";
  url.hash = "";
  return url;
}

/** The RemoteImage part of a catalogue image: what callers see and may serialise. */
function publicImage(image: SsImage): RemoteImage {
  const { meta: _meta, root: _root, ...rest } = image;
  return { ...rest, properties: { ...rest.properties }, aliases: [...rest.aliases] };
}

/** A stream that only sends its GET when first read, so an unread rootfs costs no connection. */
function lazyDownload(client: HttpClient, url: URL, signal?: AbortSignal) {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      reader ??= (await client.download(url, { signal })).body.getReader();
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  });
}

export class SimplestreamsRemote implements Remote {
  readonly #base: URL;
  readonly #client: HttpClient;
  readonly #hostArch: string;
  #catalogue?: Promise<Catalogue>;

  constructor(base: URL, client: HttpClient, host = hostArch()) {
    this.#base = base;
    this.#client = client;
    this.#hostArch = host;
  }

  /** The catalogue, loaded once; a failed load is retried on the next call. */
  catalogue(signal?: AbortSignal): Promise<Catalogue> {
    if (!this.#catalogue) {
      const loading = loadCatalogue(
        (path, limit, s) =>
          this.#client.getJson(itemUrl(this.#base, path), { maxBytes: limit, signal: s }),
        { baseUrl: this.#base.href, hostArch: this.#hostArch, signal },
      );
      this.#catalogue = loading;
      loading.catch(() => {
        if (this.#catalogue === loading) this.#catalogue = undefined;
      });
    }
    return this.#catalogue;
  }

  async *list(signal?: AbortSignal): AsyncIterable<RemoteImage> {
    for (const image of (await this.catalogue(signal)).images) yield publicImage(image);
  }

  async resolve(ref: string, want: { arch: string; type?: ImageType }): Promise<RemoteImage> {
    return publicImage(findImage(await this.catalogue(), ref, want));
  }

  async fetch(image: RemoteImage, signal?: AbortSignal): Promise<RemoteImageFiles> {
    const cat = await this.catalogue(signal);
    const found = cat.images.find((i) => i.fingerprint === image.fingerprint);
    if (!found) {
      throw new NotFoundError(
        `Cannot fetch image "${image.fingerprint.slice(0, 12)}": the remote no longer lists it`,
      );
    }
    const file = (item: SsItem): RemoteFile => ({
      stream: lazyDownload(this.#client, itemUrl(this.#base, item.path), signal),
      name: item.path,
      size: item.size,
      sha256: item.sha256,
    });
    return { metadata: file(found.meta), rootfs: found.root && file(found.root) };
  }
}

export const simplestreams: RemoteProtocol = {
  kind: "remote",
  name: "simplestreams",
  connect(url: URL, opts: ConnectOptions): Promise<Remote> {
    const client = createHttpClient({
      certificate: opts.certificate,
      // A pinned certificate is the remote's own; CDNs it redirects to use the system CAs.
      pinnedOrigin: url.origin,
      clientCert: opts.clientCert,
      clientKey: opts.clientKey,
    });
    return Promise.resolve(new SimplestreamsRemote(url, client));
  },
};
