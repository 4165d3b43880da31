/**
 * bzip2: the bzip2 program when present (about twice as fast as the JS decoder), else the
 * built-in streaming decoder. Compression needs the program.
 */
import type { Compressor } from "../types.ts";
import { Bzip2Decoder } from "./bzip2_decoder.ts";
import { checkLevel } from "./levels.ts";
import { programTransform } from "./node_pipe.ts";
import { pullDecoderStream } from "./pull_decoder.ts";
import { requireProgram, systemProgram } from "./system.ts";

export const bzip2: Compressor = {
  kind: "compressor",
  name: "bzip2",
  extension: ".bz2",
  // LXD checks only "BZ"; the "h" and block-size digit keep a tar whose first name starts with
  // "BZ" from being taken for bzip2.
  matches: (head) =>
    head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68 && head[3] >= 0x31 && head[3] <= 0x39,
  decompress() {
    const path = systemProgram("bzip2");
    if (!path) return pullDecoderStream(new Bzip2Decoder(), "bzip2");
    return programTransform(path, ["-d", "-c"], "Cannot decompress bzip2 data", true);
  },
  compress(level) {
    const l = checkLevel("bzip2", level, 1, 9, 9);
    const path = requireProgram("bzip2", "bzip2", "bzip2");
    return programTransform(path, ["-z", "-c", "-q", `-${l}`], "Cannot compress bzip2", false);
  },
};
