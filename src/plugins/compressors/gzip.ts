/** gzip through the web-standard streams both runtimes implement natively. */
import type { Compressor } from "../types.ts";

export const gzip: Compressor = {
  kind: "compressor",
  name: "gzip",
  extension: ".gz",
  matches: (head) => head[0] === 0x1f && head[1] === 0x8b,
  decompress: () => new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
  compress: () => new CompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
};
