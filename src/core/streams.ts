/** Stream helpers shared by the store, plugins and server. Web streams cross every boundary. */
import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";
import { open } from "node:fs/promises";
import { chunkAllocated } from "./chunk_gc.ts";
import { InvalidInputError } from "./errors.ts";

/** Chunk size for file reads: measured fastest with the least memory in flight (256 KiB). */
export const CHUNK = 1 << 18;

/** Reads a file as a byte stream in CHUNK-sized chunks, from `start` to `end` (exclusive). */
export function fileStream(path: string, start = 0, end = Infinity): ReadableStream<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  let pos = start;
  return new ReadableStream<Uint8Array>({
    type: "bytes",
    async start() {
      fh = await open(path, "r");
    },
    async pull(controller) {
      const want = Math.min(CHUNK, end - pos);
      if (want <= 0) {
        await fh?.close();
        fh = undefined;
        controller.close();
        return;
      }
      // Not zero-filled: the read overwrites it, and only the bytes read are passed on.
      const buf = Buffer.allocUnsafeSlow(want);
      chunkAllocated(want);
      // Sequential reads (position null) also work on pipes and FIFOs; ranges need a position.
      const { bytesRead } = await fh!.read(buf, 0, want, start > 0 ? pos : null);
      if (bytesRead === 0) {
        await fh?.close();
        fh = undefined;
        controller.close();
        return;
      }
      pos += bytesRead;
      controller.enqueue(bytesRead === want ? buf : buf.subarray(0, bytesRead));
    },
    async cancel() {
      await fh?.close();
      fh = undefined;
    },
    // Read ahead a few chunks so the disk read overlaps whatever the consumer does.
  }, { highWaterMark: 4 * CHUNK });
}

/** Running sha256 over everything passed to `update`. */
export function sha256(): Hash {
  return createHash("sha256");
}

/** A pass-through that hashes what flows by; `digest()` is valid once the stream has ended. */
export function hashing(): { stream: TransformStream<Uint8Array, Uint8Array>; digest(): string } {
  const h = sha256();
  let hex = "";
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      h.update(chunk);
      c.enqueue(chunk);
    },
    flush() {
      hex = h.digest("hex");
    },
  });
  return {
    stream,
    digest() {
      if (!hex) throw new RangeError("hashing(): digest() called before the stream ended");
      return hex;
    },
  };
}

/**
 * `stream` passed on chunk by chunk as it is read (nothing buffered), with whatever its reads
 * throw replaced by `map(err)`: how a stage names the errors of the one before it.
 */
export function mapErrors(
  stream: ReadableStream<Uint8Array>,
  map: (err: unknown) => unknown,
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (err) {
        throw map(err);
      }
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** Errors once more than `max` bytes pass; `what` names the thing in the message. */
export function limitBytes(max: number, what: string): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, c) {
      seen += chunk.byteLength;
      if (seen > max) {
        c.error(new InvalidInputError(`${what} is larger than the limit of ${max} bytes`));
        return;
      }
      c.enqueue(chunk);
    },
  });
}

/** Calls `onProgress(total)` as bytes pass. */
export function counting(
  onProgress: (bytes: number) => void,
): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, c) {
      seen += chunk.byteLength;
      onProgress(seen);
      c.enqueue(chunk);
    },
  });
}

/**
 * Reads up to `n` bytes from the front of `stream` and returns them with a stream that replays
 * them followed by the rest: how formats are detected without consuming the input.
 */
export async function peek(
  stream: ReadableStream<Uint8Array>,
  n: number,
): Promise<{ head: Uint8Array; stream: ReadableStream<Uint8Array> }> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    parts.push(r.value);
    have += r.value.byteLength;
  }
  const head = concat(parts);
  const replay = new ReadableStream<Uint8Array>({
    start(c) {
      if (head.byteLength) c.enqueue(head);
      if (done) c.close();
    },
    async pull(c) {
      const r = await reader.read();
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { head: head.subarray(0, n), stream: replay };
}

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/**
 * Sends every chunk of `source` to each sink, waiting for all of them (so the slowest sets the
 * pace and memory stays flat). An error in any sink aborts the others and the source.
 */
export async function fanOut(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  sinks: WritableStream<Uint8Array>[],
): Promise<void> {
  const writers = sinks.map((s) => s.getWriter());
  try {
    for await (const chunk of source) {
      await Promise.all(writers.map(async (w) => {
        await w.ready;
        await w.write(chunk);
      }));
    }
    await Promise.all(writers.map((w) => w.close()));
  } catch (err) {
    await Promise.allSettled(writers.map((w) => w.abort(err)));
    throw err;
  }
}

/** Collects a (small) stream into one buffer; for metadata and JSON, never image bodies. */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  max: number,
  what: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream.pipeThrough(limitBytes(max, what))) parts.push(chunk);
  return concat(parts);
}
