/**
 * Streaming bzip2 decoder (the JS path), after the format as bzip2 1.0.8 writes it: each block
 * is decoded once all of its input is buffered (at most ~1 MB), then its output is produced in
 * pieces as it is pulled. Block and stream CRCs are checked; concatenated streams (pbzip2) work.
 */
import type { PullDecoder } from "./pull_decoder.ts";
import { ByteQueue } from "./pull_decoder.ts";
import { CorruptDataError } from "./lzma_decoder.ts";

const OUT_MAX = 1 << 20;
const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
const END_MAGIC_HI = 0x177245;
const END_MAGIC_LO = 0x385090;

/** Thrown by the bit reader when input runs out; rolled back unless the input has ended. */
class NeedInput extends Error {}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  return t;
})();

function corrupt(what = "Compressed data is corrupt"): never {
  throw new CorruptDataError(what);
}

export class Bzip2Decoder implements PullDecoder {
  #q = new ByteQueue();
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #bitBuf = 0;
  #bitCount = 0;
  #level = 0; // 0 until a stream header is read
  #streamCrc = 0;
  #tt = new Int32Array(0);
  // The block being output.
  #left = 0; // bytes of BWT output still to read
  #tPos = 0;
  #blockCrc = 0;
  #wantCrc = 0;
  #last = -1; // previous byte, for the run-length stage
  #run = 0; // equal bytes seen in a row
  #repeat = 0; // copies of #last still to emit
  #active = false;
  #sawStream = false; // a whole stream was read: input may end here

  feed(chunk: Uint8Array): void {
    this.#q.push(chunk);
  }

  next(end: boolean): Uint8Array | null {
    for (;;) {
      if (this.#active) return this.#output();
      const need = this.#level ? this.#level * 100_000 + 20_000 : 4;
      if (!end && this.#q.size + this.#buf.length - this.#pos < need) return null;
      const drained = this.#q.size === 0 && this.#pos >= this.#buf.length && !this.#bitCount;
      if (end && drained && !this.#level) {
        if (this.#sawStream) return null;
        corrupt("Unexpected end of input");
      }
      this.#buf = join(this.#buf.subarray(this.#pos), this.#q.takeAll());
      this.#pos = 0;
      const saved = [this.#bitBuf, this.#bitCount];
      try {
        if (!this.#level) this.#streamHeader();
        else this.#block();
      } catch (e) {
        if (!(e instanceof NeedInput)) throw e;
        if (end) corrupt("Unexpected end of input");
        this.#pos = 0;
        [this.#bitBuf, this.#bitCount] = saved;
        return null;
      }
    }
  }

  #bits(n: number): number {
    while (this.#bitCount < n) {
      if (this.#pos >= this.#buf.length) throw new NeedInput();
      this.#bitBuf = (this.#bitBuf << 8) | this.#buf[this.#pos++];
      this.#bitCount += 8;
    }
    this.#bitCount -= n;
    return (this.#bitBuf >>> this.#bitCount) & ((1 << n) - 1);
  }

  #streamHeader(): void {
    const b = this.#bits(8);
    const z = this.#bits(8);
    const h = this.#bits(8);
    const level = this.#bits(8) - 0x30;
    if (b !== 0x42 || z !== 0x5a || h !== 0x68 || level < 1 || level > 9) {
      corrupt(this.#sawStream ? "Trailing garbage after the compressed data" : "Not bzip2 data");
    }
    this.#level = level;
    this.#streamCrc = 0;
    if (this.#tt.length < level * 100_000) this.#tt = new Int32Array(level * 100_000);
  }

  /** Reads one block (or the end-of-stream record) and sets up its output. */
  #block(): void {
    const hi = this.#bits(24);
    const lo = this.#bits(24);
    if (hi === END_MAGIC_HI && lo === END_MAGIC_LO) {
      const crc = ((this.#bits(16) << 16) | this.#bits(16)) >>> 0;
      if (crc !== this.#streamCrc >>> 0) corrupt("Stream CRC mismatch");
      this.#bitCount -= this.#bitCount % 8; // streams are byte-aligned
      this.#level = 0;
      this.#sawStream = true;
      return;
    }
    if (hi !== BLOCK_MAGIC_HI || lo !== BLOCK_MAGIC_LO) corrupt();
    this.#wantCrc = ((this.#bits(16) << 16) | this.#bits(16)) >>> 0;
    if (this.#bits(1)) corrupt("Randomised blocks are not supported");
    const origPtr = this.#bits(24);
    const symbols = this.#symbolMap();
    const count = this.#decodeSymbols(symbols);
    if (origPtr >= count) corrupt();
    // Inverse BWT: each tt entry gets the index of its successor in its high 24 bits.
    const tt = this.#tt;
    const cf = new Int32Array(256);
    for (let i = 0; i < count; i++) cf[tt[i] & 0xff]++;
    for (let i = 0, sum = 0; i < 256; i++) {
      const c = cf[i];
      cf[i] = sum;
      sum += c;
    }
    for (let i = 0; i < count; i++) tt[cf[tt[i] & 0xff]++] |= i << 8;
    this.#tPos = tt[origPtr] >>> 8;
    this.#left = count;
    this.#blockCrc = -1;
    this.#last = -1;
    this.#run = this.#repeat = 0;
    this.#active = true;
  }

  #symbolMap(): number[] {
    const used = this.#bits(16);
    const symbols: number[] = [];
    for (let i = 0; i < 16; i++) {
      if (!(used & (0x8000 >>> i))) continue;
      const bits = this.#bits(16);
      for (let j = 0; j < 16; j++) if (bits & (0x8000 >>> j)) symbols.push(i * 16 + j);
    }
    if (!symbols.length) corrupt();
    return symbols;
  }

  /** Huffman + MTF + RUNA/RUNB stage into tt's low bytes; returns the block length. */
  #decodeSymbols(symbols: number[]): number {
    const alpha = symbols.length + 2;
    const groups = this.#bits(3);
    const nSel = this.#bits(15);
    if (groups < 2 || groups > 6 || nSel < 1) corrupt();
    const mtfG = [0, 1, 2, 3, 4, 5];
    const selectors = new Uint8Array(nSel);
    for (let i = 0; i < nSel; i++) {
      let j = 0;
      while (this.#bits(1)) if (++j >= groups) corrupt();
      const g = mtfG[j];
      mtfG.splice(j, 1);
      mtfG.unshift(g);
      selectors[i] = g;
    }
    const tables: Huffman[] = [];
    for (let t = 0; t < groups; t++) {
      const lens = new Uint8Array(alpha);
      let len = this.#bits(5);
      for (let i = 0; i < alpha; i++) {
        for (;;) {
          if (len < 1 || len > 20) corrupt();
          if (!this.#bits(1)) break;
          len += this.#bits(1) ? -1 : 1;
        }
        lens[i] = len;
      }
      tables.push(huffman(lens));
    }
    const tt = this.#tt;
    const max = this.#level * 100_000;
    const mtf = Uint8Array.from(symbols);
    const eob = alpha - 1;
    let count = 0;
    let run = 0;
    let runBit = 1;
    let sel = 0;
    let left = 0;
    let table = tables[0];
    for (;;) {
      if (left-- === 0) {
        if (sel >= nSel) corrupt();
        table = tables[selectors[sel++]];
        left = 49;
      }
      let n = table.minLen;
      let v = this.#bits(n);
      while (v > table.limit[n]) {
        if (++n > table.maxLen) corrupt();
        v = (v << 1) | this.#bits(1);
      }
      const sym = table.perm[v - table.base[n]];
      if (sym <= 1) {
        run += runBit << sym; // RUNA adds 1x, RUNB 2x the current weight
        runBit <<= 1;
        if (run > max) corrupt();
        continue;
      }
      if (run) {
        if (count + run > max) corrupt();
        tt.fill(mtf[0], count, count + run);
        count += run;
        run = 0;
        runBit = 1;
      }
      if (sym === eob) return count;
      if (count >= max) corrupt();
      const k = sym - 1;
      const b = mtf[k];
      mtf.copyWithin(1, 0, k);
      mtf[0] = b;
      tt[count++] = b;
    }
  }

  /** Undoes the BWT and the initial run-length stage for up to OUT_MAX bytes. */
  #output(): Uint8Array {
    const out = new Uint8Array(OUT_MAX);
    const tt = this.#tt;
    let n = 0;
    let crc = this.#blockCrc;
    let tPos = this.#tPos;
    let left = this.#left;
    let last = this.#last;
    let run = this.#run;
    let repeat = this.#repeat;
    while (n < OUT_MAX) {
      if (repeat > 0) {
        out[n++] = last;
        crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ last) & 0xff];
        repeat--;
        continue;
      }
      if (left === 0) break;
      const entry = tt[tPos];
      const b = entry & 0xff;
      tPos = entry >>> 8;
      left--;
      if (run === 4) {
        repeat = b;
        run = 0;
        continue;
      }
      run = b === last ? run + 1 : 1;
      last = b;
      out[n++] = b;
      crc = (crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff];
    }
    this.#tPos = tPos;
    this.#left = left;
    this.#last = last;
    this.#run = run;
    this.#repeat = repeat;
    this.#blockCrc = crc;
    if (left === 0 && repeat === 0) {
      this.#active = false;
      const got = ~crc >>> 0;
      if (got !== this.#wantCrc) corrupt("Block CRC mismatch");
      this.#streamCrc = ((this.#streamCrc << 1) | (this.#streamCrc >>> 31)) ^ got;
    }
    return out.subarray(0, n);
  }
}

interface Huffman {
  minLen: number;
  maxLen: number;
  limit: Int32Array;
  base: Int32Array;
  perm: Int32Array;
}

/** Canonical Huffman decoding tables, as bzip2's hbCreateDecodeTables builds them. */
function huffman(lens: Uint8Array): Huffman {
  let minLen = 32;
  let maxLen = 0;
  for (const l of lens) {
    if (l < minLen) minLen = l;
    if (l > maxLen) maxLen = l;
  }
  const perm = new Int32Array(lens.length);
  let pp = 0;
  for (let l = minLen; l <= maxLen; l++) {
    for (let s = 0; s < lens.length; s++) if (lens[s] === l) perm[pp++] = s;
  }
  const count = new Int32Array(maxLen + 2);
  for (const l of lens) count[l]++;
  const limit = new Int32Array(maxLen + 2).fill(-1);
  const base = new Int32Array(maxLen + 2);
  let code = 0;
  let index = 0;
  for (let l = minLen; l <= maxLen; l++) {
    base[l] = code - index; // perm index = v - base[l]
    code += count[l];
    index += count[l];
    limit[l] = code - 1;
    code <<= 1;
  }
  return { minLen, maxLen, limit, base, perm };
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b;
  if (!b.length) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
