/**
 * Runs a synchronous JS decoder as a stream stage driven by the reader: output is produced only
 * when pulled, so a small input chunk that expands a thousandfold never fills memory.
 */
import { InvalidInputError } from "../../core/errors.ts";

/** A push-input, pull-output decoder (the JS xz, lzma and bzip2 decoders implement this). */
export interface PullDecoder {
  /** Hands over the next input chunk; only called after `next()` returned null. */
  feed(chunk: Uint8Array): void;
  /**
   * The next piece of output (bounded in size), or null when more input is needed. With `end`
   * set there is no more input: null then means the data ended properly, and truncated data
   * must throw.
   */
  next(end: boolean): Uint8Array | null;
}

/** A decoder's failure as an InvalidInputError naming the format, e.g. "xz". */
export function decodeError(format: string, err: unknown): InvalidInputError {
  if (err instanceof InvalidInputError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new InvalidInputError(`Cannot decompress ${format} data: ${detail}`, { cause: err });
}

/** A TransformStream-shaped pair running `decoder`; its errors name `format`. */
export function pullDecoderStream(
  decoder: PullDecoder,
  format: string,
): TransformStream<Uint8Array, Uint8Array> {
  // The writable side is an identity stream we read from only when the decoder needs input.
  const inner = new TransformStream<Uint8Array, Uint8Array>();
  const reader = inner.readable.getReader();
  let ended = false;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          const out = decoder.next(ended);
          if (out) {
            if (out.byteLength) {
              controller.enqueue(out);
              return;
            }
            continue;
          }
          if (ended) {
            controller.close();
            return;
          }
          const r = await reader.read();
          if (r.done) ended = true;
          else if (r.value.byteLength) decoder.feed(r.value);
        }
      } catch (err) {
        const e = decodeError(format, err);
        reader.cancel(e).catch(() => {});
        throw e;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return { writable: inner.writable, readable } as TransformStream<Uint8Array, Uint8Array>;
}

/** Input bytes queued across chunks, read from the front. */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #offset = 0; // into #chunks[0]
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
  }

  /** The next `n` bytes as one array (a view when they sit in one chunk), removed. */
  take(n: number): Uint8Array {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** The next `n` bytes without removing them. */
  peek(n: number): Uint8Array {
    if (n > this.#size) throw new RangeError(`ByteQueue: want ${n} bytes, have ${this.#size}`);
    const first = this.#chunks[0];
    if (first && first.byteLength - this.#offset >= n) {
      return first.subarray(this.#offset, this.#offset + n);
    }
    const out = new Uint8Array(n);
    let have = 0;
    let off = this.#offset;
    for (const c of this.#chunks) {
      const part = c.subarray(off, off + n - have);
      out.set(part, have);
      have += part.byteLength;
      off = 0;
      if (have === n) break;
    }
    return out;
  }

  skip(n: number): void {
    this.#size -= n;
    while (n > 0) {
      const left = this.#chunks[0].byteLength - this.#offset;
      if (n < left) {
        this.#offset += n;
        return;
      }
      n -= left;
      this.#chunks.shift();
      this.#offset = 0;
    }
  }

  /** Everything queued, as one array, removed. */
  takeAll(): Uint8Array {
    return this.take(this.#size);
  }
}
