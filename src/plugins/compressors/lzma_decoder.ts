/**
 * The LZMA decoding core shared by the .lzma and .xz (LZMA2) decoders, after Igor Pavlov's
 * LzmaSpec.cpp. It decodes into a circular dictionary that doubles as the output buffer and
 * stops at a caller-set limit, so it can be resumed with more input or more output room.
 */

const STATES = 12;
const POS_STATES = 16;
const MATCH_MIN = 2;
const END_POS_MODEL = 14;
const FULL_DISTANCES = 128;
/** Most input bytes one symbol can consume (xz-embedded's LZMA_IN_REQUIRED is 21). */
export const LZMA_IN_MARGIN = 32;

// Offsets into one probability array.
const IS_MATCH = 0;
const IS_REP = IS_MATCH + STATES * POS_STATES;
const IS_REP_G0 = IS_REP + STATES;
const IS_REP_G1 = IS_REP_G0 + STATES;
const IS_REP_G2 = IS_REP_G1 + STATES;
const IS_REP0_LONG = IS_REP_G2 + STATES;
const POS_SLOT = IS_REP0_LONG + STATES * POS_STATES;
const SPEC_POS = POS_SLOT + 4 * 64;
const ALIGN = SPEC_POS + 1 + FULL_DISTANCES - END_POS_MODEL;
const LEN_SIZE = 2 + 2 * POS_STATES * 8 + 256;
const LEN = ALIGN + 16;
const REP_LEN = LEN + LEN_SIZE;
const LITERAL = REP_LEN + LEN_SIZE;

/** Thrown for data that cannot be valid LZMA; the stream wrapper names the format. */
export class CorruptDataError extends Error {}

export class LzmaDecoder {
  /** Circular dictionary; output is read from it by `flush()`. */
  readonly dict: Uint8Array;
  readonly dictSize: number;
  #pos = 0;
  #flushed = 0;
  #full = false;
  #total = 0; // bytes since the last dictionary reset: positions for pb and lp
  #lc = 0;
  #lpMask = 0;
  #pbMask = 0;
  #probs = new Uint16Array(LITERAL + 0x300);
  #state = 0;
  #rep0 = 0;
  #rep1 = 0;
  #rep2 = 0;
  #rep3 = 0;
  #remLen = 0; // bytes of a match still to copy
  #range = 0;
  #code = 0;
  #in: Uint8Array = new Uint8Array(0);
  #inPos = 0;
  /** Bytes the current stream may still produce (Infinity: unknown). */
  unpackLeft = Infinity;
  /** Set once the end-of-payload marker was decoded. */
  sawEndMarker = false;

  /** `bufSize` may be smaller than `dictSize` when the whole output is known to be smaller. */
  constructor(dictSize: number, bufSize = dictSize) {
    this.dictSize = dictSize;
    this.dict = new Uint8Array(Math.max(bufSize, 4096));
  }

  /** Sets lc/lp/pb (validated by the caller) and resets the probabilities and state. */
  setProps(lc: number, lp: number, pb: number): void {
    this.#lc = lc;
    this.#lpMask = (1 << lp) - 1;
    this.#pbMask = (1 << pb) - 1;
    const size = LITERAL + (0x300 << (lc + lp));
    if (this.#probs.length !== size) this.#probs = new Uint16Array(size);
    this.resetState();
  }

  resetState(): void {
    this.#probs.fill(1024);
    this.#state =
      this.#rep0 =
      this.#rep1 =
      this.#rep2 =
      this.#rep3 =
        0;
    this.#remLen = 0;
  }

  resetDict(): void {
    this.#pos = this.#flushed = this.#total = 0;
    this.#full = false;
  }

  /** Input for the following `initRange()`/`decode()` calls, read from `pos`. */
  setInput(buf: Uint8Array, pos = 0): void {
    this.#in = buf;
    this.#inPos = pos;
  }

  get inPos(): number {
    return this.#inPos;
  }

  /** Bytes of input not yet consumed. */
  get inLeft(): number {
    return this.#in.length - this.#inPos;
  }

  /** The input not yet consumed. */
  restOfInput(): Uint8Array {
    return this.#in.subarray(this.#inPos);
  }

  /** Reads the 5 range-coder init bytes. */
  initRange(): void {
    if (this.inLeft < 5) throw new CorruptDataError("Unexpected end of input");
    if (this.#in[this.#inPos] !== 0) throw new CorruptDataError("Compressed data is corrupt");
    const b = this.#in;
    const p = this.#inPos;
    this.#code = ((b[p + 1] << 24) | (b[p + 2] << 16) | (b[p + 3] << 8) | b[p + 4]) >>> 0;
    this.#range = 0xffffffff;
    this.#inPos += 5;
    if (this.#code === this.#range) throw new CorruptDataError("Compressed data is corrupt");
  }

  /** True when the range coder ended cleanly (its code is zero). */
  get rangeFinished(): boolean {
    return this.#code === 0;
  }

  /** Undecoded bytes waiting in the dictionary. */
  get pending(): number {
    return this.#pos - this.#flushed;
  }

  /** Bytes the dictionary can still take before it must be flushed. */
  get room(): number {
    return this.dict.length - this.#pos;
  }

  /** Output decoded since the last flush, copied out. */
  flush(): Uint8Array {
    const out = this.dict.slice(this.#flushed, this.#pos);
    if (this.#pos === this.dict.length) {
      this.#pos = 0;
      this.#full = true;
    }
    this.#flushed = this.#pos;
    return out;
  }

  /** Appends stored (uncompressed) bytes to the dictionary; at most `room` bytes. */
  putRaw(src: Uint8Array): void {
    this.dict.set(src, this.#pos);
    this.#pos += src.length;
    this.#total += src.length;
  }

  /**
   * Decodes until `maxOut` bytes are pending, the dictionary end is reached, `unpackLeft` is
   * used up, the end marker is seen, or (unless `final`) fewer than LZMA_IN_MARGIN input bytes
   * remain. With `final`, running out of input is corruption.
   */
  decode(maxOut: number, final: boolean): void {
    const limit = Math.min(this.dict.length, this.#flushed + maxOut);
    if (this.#remLen > 0) this.#copy(this.#rep0 + 1, this.#remLen, limit);
    while (this.#pos < limit && this.unpackLeft > 0 && !this.sawEndMarker) {
      if (!final && this.inLeft < LZMA_IN_MARGIN) return;
      const posState = this.#total & this.#pbMask;
      const state = this.#state;
      if (this.#bit(IS_MATCH + (state << 4) + posState) === 0) {
        this.#literal();
        continue;
      }
      let len: number;
      if (this.#bit(IS_REP + state) !== 0) {
        if (this.#total === 0 && !this.#full) {
          throw new CorruptDataError("Compressed data is corrupt");
        }
        if (this.#bit(IS_REP_G0 + state) === 0) {
          if (this.#bit(IS_REP0_LONG + (state << 4) + posState) === 0) {
            this.#state = state < 7 ? 9 : 11;
            this.#put(this.#byteAt(this.#rep0 + 1));
            continue;
          }
        } else {
          let dist: number;
          if (this.#bit(IS_REP_G1 + state) === 0) dist = this.#rep1;
          else {
            if (this.#bit(IS_REP_G2 + state) === 0) dist = this.#rep2;
            else {
              dist = this.#rep3;
              this.#rep3 = this.#rep2;
            }
            this.#rep2 = this.#rep1;
          }
          this.#rep1 = this.#rep0;
          this.#rep0 = dist;
        }
        len = this.#length(REP_LEN, posState);
        this.#state = state < 7 ? 8 : 11;
      } else {
        this.#rep3 = this.#rep2;
        this.#rep2 = this.#rep1;
        this.#rep1 = this.#rep0;
        len = this.#length(LEN, posState);
        this.#state = state < 7 ? 7 : 10;
        const dist = this.#distance(len);
        if (dist === 0xffffffff) {
          this.sawEndMarker = true;
          return;
        }
        this.#rep0 = dist;
        const have = this.#full ? this.dict.length : this.#pos;
        if (dist >= this.dictSize || dist >= have) {
          throw new CorruptDataError("Compressed data is corrupt");
        }
      }
      this.#copy(this.#rep0 + 1, len + MATCH_MIN, limit);
    }
  }

  #copy(dist: number, len: number, limit: number): void {
    if (len > this.unpackLeft) throw new CorruptDataError("Compressed data is corrupt");
    const dict = this.dict;
    const n = Math.min(len, limit - this.#pos);
    let pos = this.#pos;
    let src = pos - dist;
    if (src < 0) src += dict.length;
    if (dist >= n && src + n <= dict.length) {
      dict.copyWithin(pos, src, src + n);
      pos += n;
    } else {
      for (let i = 0; i < n; i++) {
        dict[pos++] = dict[src++];
        if (src === dict.length) src = 0;
      }
    }
    this.#pos = pos;
    this.#total += n;
    this.unpackLeft -= n;
    this.#remLen = len - n;
  }

  #put(b: number): void {
    this.dict[this.#pos++] = b;
    this.#total++;
    this.unpackLeft--;
  }

  #byteAt(dist: number): number {
    let i = this.#pos - dist;
    if (i < 0) i += this.dict.length;
    return this.dict[i];
  }

  #literal(): void {
    const prev = this.#total === 0 && !this.#full ? 0 : this.#byteAt(1);
    const litState = ((this.#total & this.#lpMask) << this.#lc) + (prev >>> (8 - this.#lc));
    const base = LITERAL + 0x300 * litState;
    let symbol = 1;
    if (this.#state >= 7) {
      let match = this.#byteAt(this.#rep0 + 1);
      do {
        const matchBit = (match >>> 7) & 1;
        match <<= 1;
        const bit = this.#bit(base + ((1 + matchBit) << 8) + symbol);
        symbol = (symbol << 1) | bit;
        if (matchBit !== bit) break;
      } while (symbol < 0x100);
    }
    while (symbol < 0x100) symbol = (symbol << 1) | this.#bit(base + symbol);
    this.#put(symbol - 0x100);
    const s = this.#state;
    this.#state = s < 4 ? 0 : s < 10 ? s - 3 : s - 6;
  }

  #length(base: number, posState: number): number {
    if (this.#bit(base) === 0) return this.#tree(base + 2 + (posState << 3), 3);
    if (this.#bit(base + 1) === 0) return 8 + this.#tree(base + 2 + 128 + (posState << 3), 3);
    return 16 + this.#tree(base + 2 + 256, 8);
  }

  #distance(len: number): number {
    const lenState = len < 3 ? len : 3;
    const slot = this.#tree(POS_SLOT + (lenState << 6), 6);
    if (slot < 4) return slot;
    const direct = (slot >>> 1) - 1;
    let dist = ((2 | (slot & 1)) << direct) >>> 0;
    if (slot < END_POS_MODEL) return dist + this.#reverse(SPEC_POS + dist - slot, direct);
    dist += this.#direct(direct - 4) * 16;
    return dist + this.#reverse(ALIGN, 4);
  }

  #tree(base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.#bit(base + m);
    return m - (1 << bits);
  }

  #reverse(base: number, bits: number): number {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < bits; i++) {
      const bit = this.#bit(base + m);
      m = (m << 1) | bit;
      sym |= bit << i;
    }
    return sym;
  }

  #direct(bits: number): number {
    let res = 0;
    for (let i = 0; i < bits; i++) {
      this.#range = this.#range >>> 1;
      let bit = 0;
      if (this.#code >= this.#range) {
        this.#code -= this.#range;
        bit = 1;
      }
      res = (res << 1) | bit;
      if (this.#range < 0x1000000) this.#normalize();
    }
    return res >>> 0;
  }

  #bit(i: number): number {
    const probs = this.#probs;
    const p = probs[i];
    const bound = (this.#range >>> 11) * p;
    let bit: number;
    if (this.#code < bound) {
      this.#range = bound;
      probs[i] = p + ((2048 - p) >>> 5);
      bit = 0;
    } else {
      this.#range -= bound;
      this.#code -= bound;
      probs[i] = p - (p >>> 5);
      bit = 1;
    }
    if (this.#range < 0x1000000) this.#normalize();
    return bit;
  }

  #normalize(): void {
    if (this.#inPos >= this.#in.length) throw new CorruptDataError("Unexpected end of input");
    this.#range = this.#range * 256;
    this.#code = this.#code * 256 + this.#in[this.#inPos++];
  }
}
