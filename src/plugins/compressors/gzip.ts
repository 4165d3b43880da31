/**
 * gzip through node:zlib in both directions (in-process, with a level). The header it writes
 * has no name and a zero mtime, as `gzip -n` does, so the same input always gives the same bytes.
 */
import zlib from "node:zlib";
import { ImagoError, InvalidInputError } from "../../core/errors.ts";
import type { Compressor } from "../types.ts";
import { checkLevel } from "./levels.ts";
import { nodeTransform } from "./node_pipe.ts";

const CHUNK = 1 << 18;

export const gzip: Compressor = {
  kind: "compressor",
  name: "gzip",
  extension: ".gz",
  matches: (head) => head[0] === 0x1f && head[1] === 0x8b,
  decompress: () =>
    nodeTransform(
      zlib.createGunzip({ chunkSize: CHUNK }),
      (e) => new InvalidInputError(`Cannot decompress gzip data: ${e.message}`, { cause: e }),
    ),
  compress: (level) =>
    nodeTransform(
      zlib.createGzip({ chunkSize: CHUNK, level: checkLevel("gzip", level, 1, 9, 6) }),
      (e) => new ImagoError(`Cannot compress gzip: ${e.message}`, { cause: e }),
    ),
};
