/**
 * Looking inside an image file while it is being stored: the caller writes the raw bytes into a
 * sink (hashing and saving them elsewhere), and the inspection detects the compression, checks
 * every tar entry, reads metadata.yaml and tells a container image from a VM image.
 */
import { annotate, ImagoError, InvalidInputError } from "./errors.ts";
import { parseMetadata } from "./metadata.ts";
import type { ImageMetadata } from "./metadata.ts";
import type { ImageType, RootfsKind } from "./model.ts";
import { mapErrors, peek, readAll } from "./streams.ts";
import { scanTar } from "./tar.ts";
import type { TarEntry } from "./tar.ts";
import { DETECT_BYTES, detectCompressor } from "../plugins/detect.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";

/** metadata.yaml is read into memory, so it is capped. */
export const METADATA_MAX = 1 << 20;

export interface ImageInspection {
  /** Compressor name, e.g. "xz" or "none". */
  compressor: string;
  /** Extension for export names: ".tar" + the compressor's, e.g. ".tar.xz". */
  extension: string;
  metadata: ImageMetadata;
  /** Set for unified images; a split image's type comes from its rootfs file. */
  type?: ImageType;
  /** File names under templates/ (relative to it). */
  templateFiles: string[];
}

/**
 * How much of an image import reads: "full" decompresses and checks every tar entry (truncated
 * streams and hostile entries are refused at the door); "metadata" stops, as LXD does, once
 * metadata.yaml and the image type are known, leaving the entries to be checked when unpacked.
 */
export type ImportCheck = "full" | "metadata";

/**
 * Inspects a unified image or the metadata tarball of a split one. Write the raw file bytes into
 * `sink` and close it; `result` settles once the last byte has been read (or, with check
 * "metadata", once enough was seen: later bytes are then taken and dropped). On a bad image
 * `result` rejects and the sink errors, so the writer stops; aborting the sink rejects `result`
 * with the abort reason. `label` (a file name or URL) is quoted in error messages.
 */
export function inspectImage(
  kind: "unified" | "metadata",
  compressors: Registry<Compressor>,
  label: string,
  check: ImportCheck = "full",
): { sink: WritableStream<Uint8Array>; result: Promise<ImageInspection> } {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  let enough = false;
  const seenEnough = () => (enough = true);
  const result = inspect(kind, compressors, label, pipe.readable, check, seenEnough);
  result.catch(() => {}); // the sink reports the failure too; callers may await only that
  if (check === "full") return { sink: pipe.writable, result };
  // Stopping early cancels the pipe; the caller's copy to the store must go on regardless.
  const writer = pipe.writable.getWriter();
  const sink = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (enough) return;
      await writer.write(chunk).catch((err) => enough ? undefined : Promise.reject(err));
    },
    close: () => enough ? undefined : writer.close(),
    abort: (reason) => enough ? undefined : writer.abort(reason),
  });
  return { sink, result };
}

/** Thrown by an entry handler to end a scan early, successfully. */
const ENOUGH = Symbol("enough seen");

/**
 * Detects the compression of `raw`, decompresses it and scans every tar entry, turning
 * decompressor failures into one clear error. Returns the compressor found. Errors raised by
 * whoever feeds `raw` (an abort) pass through unchanged.
 */
export async function scanCompressedTar(
  raw: ReadableStream<Uint8Array>,
  compressors: Registry<Compressor>,
  label: string,
  onEntry: (e: TarEntry) => Promise<void> | void,
): Promise<Compressor> {
  const action = `Cannot import "${label}"`;
  let upstream: { err: unknown } | undefined;
  const watched = mapErrors(raw, (err) => {
    upstream ??= { err };
    return err;
  });
  const { head, stream } = await peek(watched, DETECT_BYTES);
  let compressor: Compressor;
  try {
    if (head.byteLength === 0) throw new InvalidInputError(`${action}: the file is empty`);
    compressor = detectCompressor(head, compressors, `"${label}"`);
  } catch (err) {
    await stream.cancel(err).catch(() => {});
    throw err;
  }
  try {
    await scanTar(stream.pipeThrough(compressor.decompress()), onEntry, { action });
  } catch (err) {
    if (err === ENOUGH) return compressor;
    if (upstream && err === upstream.err) throw err;
    // scanTar's errors name the file already; anything else came from the decompressor.
    if (err instanceof ImagoError && err.message.startsWith(action)) throw err;
    const detail = describe(err).replace(/^Cannot decompress \S+ data: /, "");
    throw new InvalidInputError(
      `${action}: the ${compressor.name} data is corrupt or truncated${
        detail ? `: ${detail}` : ""
      }`,
      { cause: err },
    );
  }
  return compressor;
}

async function inspect(
  kind: "unified" | "metadata",
  compressors: Registry<Compressor>,
  label: string,
  raw: ReadableStream<Uint8Array>,
  check: ImportCheck,
  seenEnough: () => void,
): Promise<ImageInspection> {
  const action = `Cannot import "${label}"`;
  let metadata: ImageMetadata | undefined;
  let rootfsDir = false;
  let rootfsImg = false;
  const templateFiles: string[] = [];
  const onEntry = async (e: TarEntry) => {
    if (e.name === "metadata.yaml") metadata = await readMetadata(e, metadata, action);
    else if (e.name.startsWith("templates/") && isFile(e)) {
      templateFiles.push(e.name.slice("templates/".length));
    } else if (e.name.startsWith("rootfs/") || (e.name === "rootfs" && e.type === "directory")) {
      rootfsDir = true;
    } else if (e.name === "rootfs.img") rootfsImg = true;
    if (check === "metadata" && metadata && (kind === "metadata" || rootfsDir || rootfsImg)) {
      seenEnough();
      throw ENOUGH;
    }
  };
  const compressor = await scanCompressedTar(raw, compressors, label, onEntry);

  if (!metadata) {
    throw new InvalidInputError(`${action}: metadata.yaml is missing from the tarball`);
  }
  const inspection: ImageInspection = {
    compressor: compressor.name,
    extension: ".tar" + compressor.extension,
    metadata,
    templateFiles,
  };
  if (kind === "unified") {
    // As LXD does, rootfs.img wins when both are present.
    if (rootfsImg) inspection.type = "virtual-machine";
    else if (rootfsDir) inspection.type = "container";
    else {
      throw new InvalidInputError(
        `${action}: the image has neither rootfs/ nor rootfs.img: ` +
          `give the rootfs file as a second argument for a split image`,
      );
    }
  }
  return inspection;
}

/** An error's message; Node's DecompressionStream leaves it empty and puts it in the cause. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message) return err.message;
  return err.cause instanceof Error ? err.cause.message : "";
}

function isFile(e: TarEntry): boolean {
  return e.type === "file" || e.type === "contiguous-file";
}

async function readMetadata(
  e: TarEntry,
  had: ImageMetadata | undefined,
  action: string,
): Promise<ImageMetadata> {
  if (had) throw new InvalidInputError(`${action}: the tarball has more than one metadata.yaml`);
  if (!isFile(e)) throw new InvalidInputError(`${action}: metadata.yaml is not a regular file`);
  const tooBig = `${action}: metadata.yaml is larger than 1 MiB`;
  if (e.size > METADATA_MAX) throw new InvalidInputError(tooBig);
  let bytes: Uint8Array;
  try {
    bytes = await readAll(e.body(), METADATA_MAX, "metadata.yaml");
  } catch (err) {
    // limitBytes' own wording; the header size was checked above, so this is a lying header.
    if (err instanceof InvalidInputError) throw new InvalidInputError(tooBig, { cause: err });
    throw err;
  }
  try {
    return parseMetadata(bytes);
  } catch (err) {
    throw err instanceof ImagoError ? annotate(err, action) : err;
  }
}

/**
 * What a split image's rootfs file is, from its first bytes (at least 263 when it has them).
 * `label` (a file name) is quoted in the error for an unknown format.
 */
export function detectRootfs(
  head: Uint8Array,
  compressors: Registry<Compressor>,
  label: string,
): { kind: RootfsKind; ext: string; type: ImageType; compressor?: string } {
  const ascii = String.fromCharCode(...head.subarray(0, 4));
  if (ascii === "hsqs") return { kind: "squashfs", ext: ".squashfs", type: "container" };
  if (ascii === "QFI\xfb") return { kind: "qcow2", ext: ".qcow2", type: "virtual-machine" };
  let c: Compressor;
  try {
    c = detectCompressor(head, compressors, `"${label}"`);
  } catch (err) {
    throw new InvalidInputError(
      `Cannot read "${label}": unsupported rootfs format: expected SquashFS, qcow2 or a tar ` +
        `(known compressions: ${compressors.names().join(", ")})`,
      { cause: err },
    );
  }
  return { kind: "tar", ext: ".tar" + c.extension, type: "container", compressor: c.name };
}
