/**
 * xz: the xz program when present (about three times faster than the JS decoder), else the
 * built-in streaming decoder. Compression needs the program; it runs single-threaded (-T1)
 * because that output is the same on every xz version and machine.
 */
import type { Compressor } from "../types.ts";
import { checkLevel } from "./levels.ts";
import { programTransform } from "./node_pipe.ts";
import { pullDecoderStream } from "./pull_decoder.ts";
import { requireProgram, systemProgram } from "./system.ts";
import { XzDecoder } from "./xz_decoder.ts";

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a];

export const xz: Compressor = {
  kind: "compressor",
  name: "xz",
  extension: ".xz",
  matches: (head) => MAGIC.every((b, i) => head[i] === b),
  decompress() {
    const path = systemProgram("xz");
    if (!path) return pullDecoderStream(new XzDecoder(), "xz");
    return programTransform(path, ["-d", "-c", "-q", "-T0"], "Cannot decompress xz data", true);
  },
  compress(level) {
    const l = checkLevel("xz", level, 0, 9, 6);
    const path = requireProgram("xz", "xz", "xz-utils");
    return programTransform(path, ["-z", "-c", "-q", "-T1", `-${l}`], "Cannot compress xz", false);
  },
};
