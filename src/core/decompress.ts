/**
 * A stored image file as its decompressed tar stream: the compression is detected from the
 * first bytes, and a decompressor failure becomes one clear InvalidInputError naming the file.
 */
import { ImagoError, InvalidInputError } from "./errors.ts";
import { mapErrors, peek } from "./streams.ts";
import { DETECT_BYTES, detectCompressor } from "../plugins/detect.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";

/** `raw` decompressed by whichever registered compressor matches its first bytes. */
export async function decompressed(
  raw: ReadableStream<Uint8Array>,
  compressors: Registry<Compressor>,
  label: string,
  action: string,
): Promise<ReadableStream<Uint8Array>> {
  const { head, stream } = await peek(raw, DETECT_BYTES);
  let compressor: Compressor;
  try {
    if (head.byteLength === 0) throw new InvalidInputError(`${action}: "${label}" is empty`);
    compressor = detectCompressor(head, compressors, `"${label}"`);
  } catch (err) {
    await stream.cancel(err).catch(() => {});
    throw err;
  }
  return mapErrors(stream.pipeThrough(compressor.decompress()), (err) => {
    // The decompressor's own wording after its "Cannot decompress xz data: " lead.
    const detail = err instanceof ImagoError
      ? err.message.replace(/^[^:]*: /, "")
      : err instanceof Error
      ? err.message || String(err.cause ?? "")
      : "";
    return new InvalidInputError(
      `${action}: the ${compressor.name} data of "${label}" is corrupt or truncated${
        detail ? `: ${detail}` : ""
      }`,
      { cause: err },
    );
  });
}
