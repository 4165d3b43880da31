/**
 * lzma ("LZMA-alone", .lzma): decoded by `xz --format=lzma` when present, else by the built-in
 * streaming decoder; compressed by xz only.
 */
import type { Compressor } from "../types.ts";
import { checkLevel } from "./levels.ts";
import { LzmaAloneDecoder } from "./lzma_alone.ts";
import { programTransform } from "./node_pipe.ts";
import { pullDecoderStream } from "./pull_decoder.ts";
import { requireProgram, systemProgram } from "./system.ts";

const SEVEN_ZXZ = [0x37, 0x7a, 0x58, 0x5a]; // "7zXZ"

export const lzma: Compressor = {
  kind: "compressor",
  name: "lzma",
  extension: ".lzma",
  // LXD's rules: "7zXZ" at offset 1 without the xz 0xFD before it, or properties 0x5D with a
  // dictionary size whose two low bytes are zero (every preset's).
  matches: (head) =>
    (head[0] !== 0xfd && SEVEN_ZXZ.every((b, i) => head[1 + i] === b)) ||
    (head[0] === 0x5d && head[1] === 0 && head[2] === 0),
  decompress() {
    const path = systemProgram("xz");
    if (!path) return pullDecoderStream(new LzmaAloneDecoder(), "lzma");
    return programTransform(
      path,
      ["--format=lzma", "-d", "-c", "-q"],
      "Cannot decompress lzma data",
      true,
    );
  },
  compress(level) {
    const l = checkLevel("lzma", level, 0, 9, 6);
    const path = requireProgram("xz", "lzma", "xz-utils");
    return programTransform(
      path,
      ["--format=lzma", "-z", "-c", "-q", `-${l}`],
      "Cannot compress lzma",
      false,
    );
  },
};
