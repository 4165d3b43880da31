/**
 * zstd through node:zlib (Node 22.15+, Deno 2.9) in both directions: in-process, so no system
 * program is needed. Output carries a checksum, as the zstd program writes by default. Input
 * first passes a frame-structure check, since Deno's decoder ends quietly on truncated input.
 */
import zlib from "node:zlib";
import { ImagoError, InvalidInputError } from "../../core/errors.ts";
import type { Compressor } from "../types.ts";
import { checkLevel } from "./levels.ts";
import { nodeTransform } from "./node_pipe.ts";
import { zstdFrameCheck } from "./zstd_frames.ts";

const CHUNK = 1 << 18;

export const zstd: Compressor = {
  kind: "compressor",
  name: "zstd",
  extension: ".zst",
  matches: (head) => head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd,
  decompress() {
    const check = zstdFrameCheck();
    const decoder = nodeTransform(
      zlib.createZstdDecompress({ chunkSize: CHUNK }),
      (e) =>
        new InvalidInputError(
          `Cannot decompress zstd data: ${e.message.replace(/^Zstd decompress error: /, "")}`,
          { cause: e },
        ),
      true,
    );
    return {
      writable: check.writable,
      readable: check.readable.pipeThrough(decoder),
    } as TransformStream<
      Uint8Array,
      Uint8Array
    >;
  },
  compress(level) {
    const l = checkLevel("zstd", level, 1, 19, 3);
    const { ZSTD_c_compressionLevel, ZSTD_c_checksumFlag } = zlib.constants;
    return nodeTransform(
      zlib.createZstdCompress({
        chunkSize: CHUNK,
        params: { [ZSTD_c_compressionLevel]: l, [ZSTD_c_checksumFlag]: 1 },
      }),
      (e) => new ImagoError(`Cannot compress zstd: ${e.message}`, { cause: e }),
    );
  },
};
