/**
 * imago as a library: an LXD-compatible image store, fingerprinting, metadata parsing and the
 * plugin registries the CLI and server are built on.
 *
 * @example Import a unified image and list the store
 * ```ts
 * import { fileStream, Store } from "./mod.ts";
 *
 * const store = await Store.open("/tmp/imago-store");
 * const { image } = await store.import({ stream: fileStream("alpine.tar.xz"), name: "alpine.tar.xz" });
 * console.log(image.fingerprint, store.list().length);
 * store.close();
 * ```
 *
 * @module
 */

export { defaultStoreDir, Store } from "./src/core/store.ts";
export type { ExportFiles, ImportOptions, ImportResult, ImportSource } from "./src/core/store.ts";
export { checkStore } from "./src/core/fsck.ts";
export type { FsckReport } from "./src/core/fsck.ts";
export type {
  AliasEntry,
  ImageAlias,
  ImageFiles,
  ImagePut,
  ImageRecord,
  ImageType,
  RootfsKind,
  UpdateSource,
} from "./src/core/model.ts";
export { parseMetadata } from "./src/core/metadata.ts";
export type { ImageMetadata, TemplateEntry } from "./src/core/metadata.ts";
export { canonicalArch, hostArch } from "./src/core/arch.ts";
export { fingerprintFiles } from "./src/core/fingerprint.ts";
export { counting, fileStream, hashing, limitBytes, peek } from "./src/core/streams.ts";
export * from "./src/core/errors.ts";
export { Registry } from "./src/plugins/registry.ts";
export { builtinCompressors, builtinRemotes } from "./src/plugins/builtin.ts";
export { detectCompressor } from "./src/plugins/detect.ts";
export type {
  Compressor,
  ConnectOptions,
  PluginModule,
  Remote,
  RemoteFile,
  RemoteImage,
  RemoteImageFiles,
  RemoteProtocol,
} from "./src/plugins/types.ts";
