/**
 * Streaming .xz decoder (the JS path): stream header, blocks of LZMA2 chunks with their checks,
 * the index, the footer, then stream padding or another concatenated stream, all verified as
 * xz does. Only the LZMA2 filter is decoded (what xz writes for tarballs unless told otherwise);
 * BCJ and delta filters get a clear error.
 */
import { crc32 } from "node:zlib";
import { CorruptDataError, LzmaDecoder } from "./lzma_decoder.ts";
import { LZMA_MAX_DICT } from "./lzma_alone.ts";
import { ByteQueue, type PullDecoder } from "./pull_decoder.ts";
import { type Check, checkSize, makeCheck } from "./xz_check.ts";

const MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const OUT_MAX = 1 << 20;

type Phase = "header" | "block" | "lzma2" | "blockEnd" | "index" | "footer" | "padding";

function corrupt(what = "Compressed data is corrupt"): never {
  throw new CorruptDataError(what);
}

function le32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}

/** Reads an xz variable-length integer at `off`: [value, length], or null if incomplete. */
function varint(b: Uint8Array, off: number): [number, number] | null {
  let v = 0;
  for (let i = 0; i < 9 && off + i < b.length; i++) {
    const byte = b[off + i];
    v += (byte & 0x7f) * 2 ** (7 * i);
    if (!(byte & 0x80)) {
      if (i > 0 && byte === 0) corrupt();
      return [v, i + 1];
    }
  }
  if (b.length - off >= 9) corrupt();
  return null;
}

export class XzDecoder implements PullDecoder {
  #q = new ByteQueue();
  #phase: Phase = "header";
  #flags = new Uint8Array(2);
  #checkId = 0;
  #records: number[] = []; // unpadded size, uncompressed size, per block of this stream
  #out: Uint8Array[] = [];
  // The block being decoded.
  #dec: LzmaDecoder | undefined;
  #check: Check | null = null;
  #headerSize = 0;
  #comp = 0;
  #uncomp = 0;
  #declared: [number, number] = [-1, -1];
  #chunkActive = false;
  #needDict = true;
  #needProps = true;
  // The index and what follows it.
  #index = { crc: 0, size: 0, count: -1, field: 0 };
  #padding = 0;

  feed(chunk: Uint8Array): void {
    this.#q.push(chunk);
  }

  next(end: boolean): Uint8Array | null {
    for (;;) {
      const out = this.#out.shift();
      if (out) return out;
      if (this.#step()) continue;
      if (!end) return null;
      if (this.#phase !== "padding" || this.#q.size) corrupt("Unexpected end of input");
      if (this.#padding % 4) corrupt("Stream padding is invalid");
      return null;
    }
  }

  /** Advances one step; false when more input is needed. */
  #step(): boolean {
    switch (this.#phase) {
      case "header":
        return this.#streamHeader();
      case "block":
        return this.#blockHeader();
      case "lzma2":
        return this.#chunkActive ? this.#decodeChunk() : this.#chunkHeader();
      case "blockEnd":
        return this.#blockEnd();
      case "index":
        return this.#indexStep();
      case "footer":
        return this.#footer();
      case "padding":
        return this.#streamPadding();
    }
  }

  #streamHeader(): boolean {
    if (this.#q.size < 12) return false;
    const h = this.#q.take(12);
    if (!MAGIC.every((b, i) => h[i] === b)) corrupt("File format not recognized");
    if (crc32(h.subarray(6, 8)) !== le32(h, 8)) corrupt("Stream header is corrupt");
    if (h[6] !== 0 || h[7] > 0x0f) corrupt("Unsupported options");
    this.#flags = h.slice(6, 8);
    this.#checkId = h[7];
    this.#records = [];
    this.#phase = "block";
    return true;
  }

  #blockHeader(): boolean {
    if (this.#q.size < 1) return false;
    const first = this.#q.peek(1)[0];
    if (first === 0) {
      this.#index = { crc: 0, size: 0, count: -1, field: 0 };
      this.#phase = "index";
      return true;
    }
    const size = (first + 1) * 4;
    if (this.#q.size < size) return false;
    const h = this.#q.take(size);
    if (crc32(h.subarray(0, size - 4)) !== le32(h, size - 4)) corrupt("Block header is corrupt");
    const flags = h[1];
    if (flags & 0x3c) corrupt("Unsupported options");
    let off = 2;
    const field = (present: boolean): number => {
      if (!present) return -1;
      const r = varint(h, off) ?? corrupt();
      off += r[1];
      return r[0];
    };
    this.#declared = [field(!!(flags & 0x40)), field(!!(flags & 0x80))];
    const id = field(true);
    const propSize = field(true);
    if ((flags & 3) !== 0 || id !== 0x21 || propSize !== 1) {
      throw new CorruptDataError(
        `unsupported filter chain (filter id 0x${id.toString(16)}): only LZMA2 is decoded ` +
          `without the xz program; install the Debian package xz-utils`,
      );
    }
    const bits = h[off++];
    if (bits > 40) corrupt("Unsupported options");
    const dictSize = bits === 40 ? 0xffffffff : (2 | (bits & 1)) * 2 ** ((bits >>> 1) + 11);
    if (dictSize > LZMA_MAX_DICT) corrupt(`Dictionary size ${dictSize} is too large`);
    for (; off < size - 4; off++) if (h[off] !== 0) corrupt("Block header is corrupt");
    const known = this.#declared[1];
    this.#dec = new LzmaDecoder(dictSize, known >= 0 ? Math.min(known, dictSize) : dictSize);
    this.#check = makeCheck(this.#checkId);
    this.#headerSize = size;
    this.#comp = this.#uncomp = 0;
    this.#needDict = this.#needProps = true;
    this.#phase = "lzma2";
    return true;
  }

  #chunkHeader(): boolean {
    const q = this.#q;
    const dec = this.#dec!;
    if (q.size < 1) return false;
    const c = q.peek(1)[0];
    if (c === 0) {
      q.skip(1);
      this.#comp += 1;
      this.#phase = "blockEnd";
      return true;
    }
    if (c === 1 || c === 2) {
      if (q.size < 3) return false;
      const size = ((q.peek(3)[1] << 8) | q.peek(3)[2]) + 1;
      if (q.size < 3 + size) return false;
      q.skip(3);
      let data = q.take(size);
      this.#comp += 3 + size;
      if (c === 1) dec.resetDict();
      else if (this.#needDict) corrupt();
      this.#needDict = false;
      while (data.length) {
        const n = Math.min(dec.room, data.length);
        dec.putRaw(data.subarray(0, n));
        this.#emit(dec.flush());
        data = data.subarray(n);
      }
      return true;
    }
    if (c < 0x80) corrupt();
    const reset = (c >>> 5) & 3;
    const hs = reset >= 2 ? 6 : 5;
    if (q.size < hs) return false;
    const h = q.peek(hs);
    const unpacked = (c & 0x1f) * 65536 + ((h[1] << 8) | h[2]) + 1;
    const packed = ((h[3] << 8) | h[4]) + 1;
    if (q.size < hs + packed) return false;
    q.skip(hs);
    const data = q.take(packed);
    this.#comp += hs + packed;
    if (reset === 3) dec.resetDict();
    else if (this.#needDict) corrupt();
    this.#needDict = false;
    if (reset >= 2) {
      const p = h[5];
      if (p >= 225) corrupt();
      const lc = p % 9;
      const lp = Math.floor(p / 9) % 5;
      if (lc + lp > 4) corrupt();
      dec.setProps(lc, lp, Math.floor(p / 45));
      this.#needProps = false;
    } else if (this.#needProps) corrupt();
    else if (reset === 1) dec.resetState();
    dec.unpackLeft = unpacked;
    dec.sawEndMarker = false;
    dec.setInput(data);
    dec.initRange();
    this.#chunkActive = true;
    return true;
  }

  #decodeChunk(): boolean {
    const dec = this.#dec!;
    dec.decode(OUT_MAX, true);
    if (dec.sawEndMarker) corrupt();
    if (dec.pending > 0) this.#emit(dec.flush());
    if (dec.unpackLeft === 0) {
      if (dec.inLeft !== 0 || !dec.rangeFinished) corrupt();
      this.#chunkActive = false;
    }
    return true;
  }

  #emit(out: Uint8Array): void {
    this.#check?.update(out);
    this.#uncomp += out.length;
    this.#out.push(out);
  }

  #blockEnd(): boolean {
    const pad = (4 - (this.#comp % 4)) % 4;
    const cs = checkSize(this.#checkId);
    if (this.#q.size < pad + cs) return false;
    const tail = this.#q.take(pad + cs);
    for (let i = 0; i < pad; i++) if (tail[i] !== 0) corrupt();
    const want = this.#check?.digest();
    if (want && !want.every((b, i) => tail[pad + i] === b)) corrupt("Data integrity check failed");
    const [comp, uncomp] = this.#declared;
    if ((comp >= 0 && comp !== this.#comp) || (uncomp >= 0 && uncomp !== this.#uncomp)) corrupt();
    this.#records.push(this.#headerSize + this.#comp + cs, this.#uncomp);
    this.#dec = undefined;
    this.#phase = "block";
    return true;
  }

  #indexStep(): boolean {
    const q = this.#q;
    const ix = this.#index;
    const eat = (n: number) => {
      ix.crc = crc32(q.take(n), ix.crc);
      ix.size += n;
    };
    if (ix.size === 0) {
      eat(1); // the indicator byte
      return true;
    }
    const recordFields = this.#records.length;
    if (ix.count < 0 || ix.field < recordFields) {
      const r = varint(q.peek(Math.min(9, q.size)), 0);
      if (!r) return false;
      if (ix.count < 0) {
        ix.count = r[0];
        if (ix.count * 2 !== recordFields) corrupt("Index is corrupt");
      } else if (r[0] !== this.#records[ix.field++]) corrupt("Index is corrupt");
      eat(r[1]);
      return true;
    }
    const pad = (4 - (ix.size % 4)) % 4;
    if (q.size < pad + 4) return false;
    const padding = q.peek(pad);
    if (padding.some((b) => b !== 0)) corrupt("Index is corrupt");
    eat(pad);
    if (le32(q.take(4), 0) !== ix.crc) corrupt("Index is corrupt");
    ix.size += 4;
    this.#phase = "footer";
    return true;
  }

  #footer(): boolean {
    if (this.#q.size < 12) return false;
    const f = this.#q.take(12);
    if (f[10] !== 0x59 || f[11] !== 0x5a) corrupt();
    if (crc32(f.subarray(4, 10)) !== le32(f, 0)) corrupt("Stream footer is corrupt");
    if ((le32(f, 4) + 1) * 4 !== this.#index.size) corrupt("Stream footer is corrupt");
    if (f[8] !== this.#flags[0] || f[9] !== this.#flags[1]) corrupt("Stream footer is corrupt");
    this.#padding = 0;
    this.#phase = "padding";
    return true;
  }

  #streamPadding(): boolean {
    const q = this.#q;
    while (q.size && q.peek(1)[0] === 0) {
      q.skip(1);
      this.#padding++;
    }
    if (!q.size) return false;
    if (this.#padding % 4) corrupt("Stream padding is invalid");
    this.#phase = "header";
    return true;
  }
}
