/**
 * A pass-through that follows zstd frame structure (headers and block sizes, never block
 * contents) so input ending inside a frame is an error: Deno's node:zlib zstd decoder ends
 * quietly on truncated input.
 */
import { InvalidInputError } from "../../core/errors.ts";

const FRAME_MAGIC = 0xfd2fb528;

type Want = "magic" | "frameHeader" | "block" | "skipSize";

export function zstdFrameCheck(): TransformStream<Uint8Array, Uint8Array> {
  const fail = (detail: string) => new InvalidInputError(`Cannot decompress zstd data: ${detail}`);
  let want: Want = "magic";
  let need = 4; // header bytes wanted for `want`
  const head: number[] = [];
  let skip = 0; // body bytes to pass over before the next header
  let frames = 0;
  let checksum = 0;

  /** Acts on a complete header in `head`; sets the next `want`/`need`/`skip`. */
  const header = () => {
    const h = head.splice(0);
    if (want === "magic") {
      const magic = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
      if (magic === FRAME_MAGIC) [want, need] = ["frameHeader", 1];
      else if ((magic & 0xfffffff0) === 0x184d2a50) [want, need] = ["skipSize", 4];
      else throw fail("unknown frame descriptor");
    } else if (want === "skipSize") {
      skip = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
      [want, need] = ["magic", 4];
    } else if (want === "frameHeader") {
      if (h.length === 1) {
        const d = h[0];
        const single = (d >> 5) & 1;
        const fcs = [single, 2, 4, 8][d >> 6];
        checksum = d & 4 ? 4 : 0;
        need = 1 + (single ? 0 : 1) + [0, 1, 2, 4][d & 3] + fcs;
        if (need > 1) return head.push(d); // keep the descriptor; wait for the rest
      }
      [want, need] = ["block", 3];
    } else {
      const v = h[0] | (h[1] << 8) | (h[2] << 16);
      const type = (v >> 1) & 3;
      if (type === 3) throw fail("corrupted block detected");
      skip = type === 1 ? 1 : v >> 3;
      if (v & 1) {
        skip += checksum;
        frames++;
        [want, need] = ["magic", 4];
      }
    }
  };

  return new TransformStream({
    transform(chunk, c) {
      let i = 0;
      while (i < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - i);
          skip -= n;
          i += n;
          continue;
        }
        head.push(chunk[i++]);
        if (head.length === need) header();
      }
      c.enqueue(chunk);
    },
    flush() {
      if (want !== "magic" || head.length || skip || !frames) throw fail("unexpected end of file");
    },
  });
}
