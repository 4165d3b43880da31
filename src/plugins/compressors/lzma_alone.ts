/**
 * Streaming decoder for the .lzma ("LZMA-alone") format: a 13-byte header (properties,
 * dictionary size, uncompressed size or all ones for unknown) and one range-coded stream.
 */
import { CorruptDataError, LZMA_IN_MARGIN, LzmaDecoder } from "./lzma_decoder.ts";
import type { PullDecoder } from "./pull_decoder.ts";

const HEADER = 13;
/** Output handed out per `next()`. */
const OUT_MAX = 1 << 20;
/** The largest dictionary accepted: xz itself allows 1.5 GiB, real files use at most 64 MiB. */
export const LZMA_MAX_DICT = 1 << 30;

export class LzmaAloneDecoder implements PullDecoder {
  #dec: LzmaDecoder | undefined;
  #input: Uint8Array = new Uint8Array(0);
  #done = false;

  feed(chunk: Uint8Array): void {
    if (this.#done) return; // trailing bytes after the payload are ignored, as by xz
    if (!this.#dec) {
      this.#input = join(this.#input, chunk);
      return;
    }
    const dec = this.#dec;
    dec.setInput(dec.inLeft ? join(dec.restOfInput(), chunk) : chunk);
  }

  next(end: boolean): Uint8Array | null {
    if (this.#done) return null;
    if (!this.#dec) {
      if (this.#input.length < HEADER + 5) {
        if (end) throw new CorruptDataError("Unexpected end of input");
        return null;
      }
      this.#dec = start(this.#input);
      this.#input = new Uint8Array(0);
    }
    const dec = this.#dec;
    for (;;) {
      dec.decode(OUT_MAX, end);
      if (dec.sawEndMarker) {
        if (!dec.rangeFinished) throw new CorruptDataError("Compressed data is corrupt");
        this.#done = true;
      } else if (dec.unpackLeft === 0) this.#done = true;
      if (dec.pending > 0) return dec.flush();
      if (this.#done) return null;
      if (!end && dec.inLeft < LZMA_IN_MARGIN) return null;
      if (end) throw new CorruptDataError("Unexpected end of input");
    }
  }
}

/** Parses the header, sizes the dictionary and primes the range coder. */
function start(input: Uint8Array): LzmaDecoder {
  let props = input[0];
  if (props >= 9 * 5 * 5) throw new CorruptDataError("Invalid LZMA properties");
  const lc = props % 9;
  props = (props / 9) | 0;
  const lp = props % 5;
  const pb = (props / 5) | 0;
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const dictSize = Math.max(view.getUint32(1, true), 4096);
  if (dictSize > LZMA_MAX_DICT) {
    throw new CorruptDataError(
      `dictionary size ${dictSize} is larger than the supported ${LZMA_MAX_DICT} bytes`,
    );
  }
  const lo = view.getUint32(5, true);
  const hi = view.getUint32(9, true);
  const known = !(lo === 0xffffffff && hi === 0xffffffff);
  const size = hi * 2 ** 32 + lo;
  if (known && hi >= 1 << 21) throw new CorruptDataError("Invalid uncompressed size");
  const dec = new LzmaDecoder(dictSize, known ? Math.min(dictSize, size) : dictSize);
  dec.setProps(lc, lp, pb);
  dec.unpackLeft = known ? size : Infinity;
  dec.setInput(input, HEADER);
  dec.initRange();
  return dec;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (!a.length) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
