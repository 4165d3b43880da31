/**
 * The import pipeline: one streaming pass over the input hashes it, writes it to staging and
 * inspects it (metadata.yaml, type, entry safety) at the same time. Nothing touches images/
 * here; the store commits the staged files once everything checked out.
 */
import { join } from "node:path";
import { IntegrityError, InvalidInputError } from "./errors.ts";
import { detectRootfs, type ImportCheck, inspectImage, scanCompressedTar } from "./inspect.ts";
import type { ImageMetadata } from "./metadata.ts";
import type { ImageFiles, ImageType } from "./model.ts";
import { DETECT_BYTES } from "../plugins/detect.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";
import { counting, fanOut, peek, sha256 } from "./streams.ts";
import { fileSink } from "./staging.ts";

/** One input file: its bytes and a name for messages and the image's filename. */
export interface ImportSource {
  stream: ReadableStream<Uint8Array>;
  name: string;
}

/** What a staged import produced, ready to be committed by the store. */
export interface StagedImage {
  fingerprint: string;
  metadata: ImageMetadata;
  type: ImageType;
  files: ImageFiles;
  metadataPath: string;
  rootfsPath?: string;
}

export interface StageOptions {
  compressors: Registry<Compressor>;
  /** Full fingerprint or prefix the bytes must hash to (remote downloads). */
  expectedFingerprint?: string;
  onProgress?: (bytes: number) => void;
  /** How much is read and checked (inspect.ts ImportCheck); default "full". */
  check?: ImportCheck;
}

/** Scans a split rootfs tarball fully, so truncated or hostile rootfs files are refused too. */
function rootfsTarSink(
  compressors: Registry<Compressor>,
  label: string,
): { sink: WritableStream<Uint8Array>; done: Promise<void> } {
  const ts = new TransformStream<Uint8Array, Uint8Array>();
  const done = scanCompressedTar(ts.readable, compressors, label, () => {}).then(() => {});
  done.catch(() => {}); // observed by the caller; keep it from being reported unhandled
  return { sink: ts.writable, done };
}

/**
 * Streams `metadata` (and `rootfs` for split images) into `stagingDir` and inspects them. On
 * failure every input stream not yet consumed is cancelled, so no file handle stays open.
 */
export async function stageImage(
  stagingDir: string,
  metadata: ImportSource,
  rootfs: ImportSource | undefined,
  opts: StageOptions,
): Promise<StagedImage> {
  const inputs = [metadata.stream, ...(rootfs ? [rootfs.stream] : [])];
  try {
    return await stage(stagingDir, metadata, rootfs, opts, inputs);
  } catch (err) {
    await Promise.allSettled(inputs.map((s) => s.locked ? undefined : s.cancel(err)));
    throw err;
  }
}

async function stage(
  stagingDir: string,
  metadata: ImportSource,
  rootfs: ImportSource | undefined,
  opts: StageOptions,
  inputs: ReadableStream<Uint8Array>[],
): Promise<StagedImage> {
  const hash = sha256();
  let total = 0;
  const progress = (base: () => number) =>
    counting((n) => opts.onProgress?.(base() + n)) as TransformStream<Uint8Array, Uint8Array>;

  const metadataPath = join(stagingDir, "metadata");
  const meta = fileSink(metadataPath, hash);
  const inspection = inspectImage(
    rootfs ? "metadata" : "unified",
    opts.compressors,
    metadata.name,
    opts.check,
  );
  inspection.result.catch(() => {});
  try {
    await fanOut(metadata.stream.pipeThrough(progress(() => 0)), [meta.sink, inspection.sink]);
  } catch (err) {
    // The inspector's reason is the useful one when it stopped the copy.
    await inspection.result;
    throw err;
  }
  const info = await inspection.result;
  if (meta.size() === 0) {
    throw new InvalidInputError(`Cannot import "${metadata.name}": the file is empty`);
  }
  total = meta.size();

  let type = info.type;
  let rootfsPath: string | undefined;
  let rootfsFiles: ImageFiles["rootfs"];
  if (rootfs) {
    const { head, stream } = await peek(rootfs.stream, DETECT_BYTES);
    inputs.push(stream);
    if (head.byteLength === 0) {
      throw new InvalidInputError(`Cannot import "${rootfs.name}": the rootfs file is empty`);
    }
    const kind = detectRootfs(head, opts.compressors, rootfs.name);
    rootfsPath = join(stagingDir, "rootfs");
    const root = fileSink(rootfsPath, hash);
    const sinks = [root.sink];
    let scanned: Promise<void> | undefined;
    if (kind.kind === "tar" && opts.check !== "metadata") {
      const scan = rootfsTarSink(opts.compressors, rootfs.name);
      sinks.push(scan.sink);
      scanned = scan.done;
    }
    const base = total;
    try {
      await fanOut(stream.pipeThrough(progress(() => base)), sinks);
    } catch (err) {
      await scanned;
      throw err;
    }
    await scanned;
    type = kind.type;
    rootfsFiles = { kind: kind.kind, ext: kind.ext, size: root.size() };
  }
  if (!type) throw new InvalidInputError(`Cannot import "${metadata.name}": unknown image type`);

  const fingerprint = hash.digest("hex");
  const want = opts.expectedFingerprint?.toLowerCase();
  if (want && !fingerprint.startsWith(want)) {
    throw new IntegrityError(`Cannot import "${metadata.name}"`, want, fingerprint);
  }
  return {
    fingerprint,
    metadata: info.metadata,
    type,
    files: { metadata_ext: info.extension, metadata_size: meta.size(), rootfs: rootfsFiles },
    metadataPath,
    rootfsPath,
  };
}
