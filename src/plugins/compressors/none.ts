/** Uncompressed tar: recognised by the ustar magic at offset 257. */
import type { Compressor } from "../types.ts";

const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72]; // "ustar"

export const none: Compressor = {
  kind: "compressor",
  name: "none",
  extension: "",
  matches: (head) => USTAR.every((b, i) => head[257 + i] === b),
  decompress: () => new TransformStream(),
  compress: () => new TransformStream(),
};
