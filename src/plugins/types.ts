/**
 * The small interfaces plugins implement. A plugin module (built-in or external) exports objects
 * of these shapes; the registries in registry.ts hold them by name.
 */
import type { ImageType } from "../core/model.ts";

/** A (de)compression format, detected by magic bytes, never by file name. */
export interface Compressor {
  readonly kind: "compressor";
  /** Name as LXD's images.compression_algorithm uses it: gzip, xz, bzip2, lzma, zstd, none. */
  readonly name: string;
  /** File extension after ".tar" in LXD export names, e.g. ".gz" (".tar" + ext). "" for none. */
  readonly extension: string;
  /** Does this format start with these bytes? Given at least the first 263 bytes when present. */
  matches(head: Uint8Array): boolean;
  /** Decompresses a whole stream; errors on truncated or corrupt input. */
  decompress(): TransformStream<Uint8Array, Uint8Array>;
  /** Absent = read-only format. */
  compress?(level?: number): TransformStream<Uint8Array, Uint8Array>;
}

export interface ConnectOptions {
  /** Pinned server certificate (PEM), when the remote has one. */
  certificate?: string;
  /** Client certificate and key (PEM) for trusted access, when configured. */
  clientCert?: string;
  clientKey?: string;
  signal?: AbortSignal;
  /** Bounds for waiting on the server (remotes/http.ts defaults: 30 s headers, 60 s idle). */
  timeouts?: { headersMs?: number; idleMs?: number };
}

/** One image as a remote describes it (the api.Image subset a remote can know). */
export interface RemoteImage {
  fingerprint: string;
  type: ImageType;
  architecture: string;
  size: number;
  filename: string;
  public: boolean;
  properties: Record<string, string>;
  aliases: { name: string; description: string }[];
  created_at: string;
  uploaded_at: string;
  expires_at: string;
}

/** A file to download: a stream and what its bytes must hash to, when the remote says. */
export interface RemoteFile {
  stream: ReadableStream<Uint8Array>;
  name: string;
  size?: number;
  sha256?: string;
}

export interface RemoteImageFiles {
  metadata: RemoteFile;
  rootfs?: RemoteFile;
}

/** A connected remote image server. */
export interface Remote {
  list(signal?: AbortSignal): AsyncIterable<RemoteImage>;
  resolve(ref: string, want: { arch: string; type?: ImageType }): Promise<RemoteImage>;
  fetch(image: RemoteImage, signal?: AbortSignal): Promise<RemoteImageFiles>;
  close?(): Promise<void>;
}

/** A remote protocol (lxd, simplestreams, direct URL, or a third party's). */
export interface RemoteProtocol {
  readonly kind: "remote";
  readonly name: string;
  connect(url: URL, opts: ConnectOptions): Promise<Remote>;
}

/** What an external plugin file default-exports. */
export interface PluginModule {
  apiVersion: 1;
  compressors?: Compressor[];
  remotes?: RemoteProtocol[];
}
