/** The integrity checks an .xz block may carry: none, CRC32, CRC64 or SHA-256. */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";

/** A running check over a block's uncompressed bytes. */
export interface Check {
  update(data: Uint8Array): void;
  /** The value as stored in the file (little-endian for the CRCs). */
  digest(): Uint8Array;
}

/** Bytes the check occupies for each check id (0..15), per the .xz spec. */
export function checkSize(id: number): number {
  return id === 0 ? 0 : 4 << Math.floor((id - 1) / 3);
}

/** The check for `id`, or null when it is not one we can verify (then it is skipped, as xz does). */
export function makeCheck(id: number): Check | null {
  if (id === 1) {
    let v = 0;
    return {
      update: (d) => void (v = crc32(d, v)),
      digest: () => le32(v),
    };
  }
  if (id === 4) return crc64();
  if (id === 10) {
    const h = createHash("sha256");
    return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
  }
  return null;
}

function le32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v >>> 0, true);
  return out;
}

let tables: [Int32Array, Int32Array] | undefined;

/** CRC-64/XZ (ECMA-182 polynomial, reflected), kept as two 32-bit halves. */
function crc64(): Check {
  if (!tables) tables = crc64Tables();
  const [tLo, tHi] = tables;
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  return {
    update(d) {
      // Locals, not the closure's variables, in the loop: several times faster on V8.
      let l = lo | 0;
      let h = hi | 0;
      for (let i = 0; i < d.length; i++) {
        const idx = (l ^ d[i]) & 0xff;
        l = tLo[idx] ^ ((l >>> 8) | (h << 24));
        h = tHi[idx] ^ (h >>> 8);
      }
      lo = l >>> 0;
      hi = h >>> 0;
    },
    digest() {
      const out = new Uint8Array(8);
      const v = new DataView(out.buffer);
      v.setUint32(0, ~lo >>> 0, true);
      v.setUint32(4, ~hi >>> 0, true);
      return out;
    },
  };
}

function crc64Tables(): [Int32Array, Int32Array] {
  const polyLo = 0xd7870f42; // the reflected polynomial 0xC96C5795D7870F42, in halves
  const polyHi = 0xc96c5795;
  const tLo = new Int32Array(256);
  const tHi = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let lo = n;
    let hi = 0;
    for (let k = 0; k < 8; k++) {
      const odd = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (odd) {
        lo = (lo ^ polyLo) >>> 0;
        hi = (hi ^ polyHi) >>> 0;
      }
    }
    tLo[n] = lo;
    tHi[n] = hi;
  }
  return [tLo, tHi];
}
