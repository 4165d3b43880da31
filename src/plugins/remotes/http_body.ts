/**
 * Response bodies as web streams, fed by the wire reader (http_wire.ts): it copies body bytes
 * from the socket's read buffer straight into chunks of up to 256 KiB, so everything downstream
 * runs per chunk, not per 16 KiB TLS record. The stream carries backpressure (a full queue asks
 * the socket to stop reading), fails with a RemoteError when the server stalls while we wait for
 * bytes (after handing on the bytes that did arrive, so a resume starts after them), and releases
 * the socket when cancelled.
 */
import { Buffer } from "node:buffer";
import { RemoteError } from "../../core/errors.ts";
import { chunkAllocated } from "../../core/chunk_gc.ts";

/** Bytes handed on at once: per-chunk stream overhead made 16 KiB records the bottleneck. */
export const GROUP = 256 << 10;
/** Queue this many bytes before the socket stops reading, so it keeps flowing during a chunk. */
const HIGH_WATER = 2 * GROUP;
/** How long a partial chunk waits for more bytes before it is handed on anyway. */
const GROUP_WAIT_MS = 10;

export interface FeedOptions {
  /** Fail when no byte arrives for this long while the consumer waits for one. */
  idleTimeoutMs: number;
  /** For messages: the URL the body comes from. */
  url: string;
  /** The announced length, when there is one: chunks are sized not to overshoot it. */
  expected?: number;
  /** Reading, stopped by a push that returned false, may go on. */
  resume(): void;
  /** The consumer cancelled the body (or it failed): release the connection. */
  release(): void;
}

/** The producer's side of a body stream. */
export interface BodyFeed {
  readonly stream: ReadableStream<Uint8Array>;
  /** Bytes pushed so far. */
  readonly received: number;
  /**
   * Copies `bytes` (valid only during the call) into the body. false: the queue is full, stop
   * reading until `resume`; bytes pushed meanwhile are still taken.
   */
  push(bytes: Uint8Array): boolean;
  /** All bytes arrived. */
  end(): void;
  fail(err: RemoteError): void;
}

/**
 * A body stream and its feed. The idle timer only runs while a read is pending, so a slow
 * consumer (which stops the socket) never trips it.
 */
export function bodyFeed(opts: FeedOptions): BodyFeed {
  let received = 0;
  let placed = 0;
  let finished = false;
  let failure: RemoteError | undefined;
  let stopped = false;
  let chunk: Buffer | undefined;
  let fill = 0;
  let waiting: (() => void) | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let grouping: ReturnType<typeof setTimeout> | undefined;
  let c!: ReadableStreamDefaultController<Uint8Array>;

  const wake = () => {
    if (idle) clearTimeout(idle);
    idle = undefined;
    waiting?.();
    waiting = undefined;
  };
  const emit = (bytes: Uint8Array) => {
    c.enqueue(bytes);
    wake();
    if ((c.desiredSize ?? 0) <= 0) stopped = true;
  };
  /** Hands on what the current chunk holds: a small part as a copy, keeping the chunk. */
  const flush = () => {
    if (grouping) clearTimeout(grouping);
    grouping = undefined;
    if (!chunk || fill === 0 || finished) return;
    if (fill <= chunk.byteLength / 4) {
      emit(Uint8Array.prototype.slice.call(chunk, 0, fill));
    } else {
      emit(new Uint8Array(chunk.buffer, chunk.byteOffset, fill));
      chunk = undefined;
    }
    fill = 0;
  };
  const stop = () => {
    finished = true;
    if (grouping) clearTimeout(grouping);
    grouping = undefined;
    chunk = undefined;
    wake();
  };

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      c = controller;
    },
    pull() {
      // A failure waits for the consumer to take the bytes queued before it.
      if (failure) return void (c.desiredSize === HIGH_WATER && c.error(failure));
      if (finished) return;
      if (stopped) {
        stopped = false;
        opts.resume();
      }
      return new Promise<void>((resolve) => {
        waiting = resolve;
        idle = setTimeout(() => {
          feed.fail(
            new RemoteError(
              `Cannot download "${opts.url}": the server sent nothing for ` +
                `${seconds(opts.idleTimeoutMs)} after ${received} bytes`,
              { timeout: true },
            ),
          );
        }, opts.idleTimeoutMs);
      });
    },
    cancel() {
      stop();
      opts.release();
    },
  }, { highWaterMark: HIGH_WATER, size: (bytes) => bytes.byteLength });

  const feed: BodyFeed = {
    stream,
    get received() {
      return received;
    },
    push(bytes) {
      if (finished) return false;
      received += bytes.byteLength;
      // Bytes arrived: the server is not stalled, even if no chunk is complete yet.
      idle?.refresh();
      for (let p = 0; p < bytes.byteLength;) {
        if (!chunk) {
          const left = opts.expected === undefined ? GROUP : opts.expected - placed;
          chunk = Buffer.allocUnsafeSlow(Math.max(1, Math.min(GROUP, left)));
          chunkAllocated(chunk.byteLength);
          fill = 0;
        }
        const n = Math.min(chunk.byteLength - fill, bytes.byteLength - p);
        chunk.set(bytes.subarray(p, p + n), fill);
        fill += n;
        p += n;
        placed += n;
        if (fill === chunk.byteLength) {
          const full = chunk;
          chunk = undefined;
          fill = 0;
          emit(new Uint8Array(full.buffer, full.byteOffset, full.byteLength));
        }
      }
      if (fill > 0) grouping ??= setTimeout(flush, GROUP_WAIT_MS);
      return !stopped;
    },
    end() {
      if (finished) return;
      flush();
      stop();
      c.close();
    },
    fail(err) {
      if (finished) return;
      // Hand on what did arrive first, so a resumed download starts after it.
      flush();
      stop();
      opts.release();
      failure = err;
      if (c.desiredSize === HIGH_WATER) c.error(err);
    },
  };
  return feed;
}

export function truncated(
  url: string,
  received: number,
  expected?: number,
  cause?: unknown,
): RemoteError {
  const of = expected === undefined ? "" : ` of ${expected}`;
  return new RemoteError(
    `Cannot download "${url}": the connection closed after ${received}${of} bytes`,
    { cause },
  );
}

/** "30 s", "0.2 s": timeouts in messages. */
export function seconds(ms: number): string {
  return `${ms >= 1000 ? Math.round(ms / 1000) : ms / 1000} s`;
}

/** Reads a whole small body, failing once it passes `maxBytes`. */
export async function readSmall(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  url: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    total += r.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(url, maxBytes);
    }
    parts.push(r.value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

export function tooLarge(url: string, maxBytes: number): RemoteError {
  return new RemoteError(
    `Cannot read "${url}": the response is larger than the limit of ${maxBytes} bytes`,
  );
}
