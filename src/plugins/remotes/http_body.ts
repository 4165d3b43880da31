/**
 * Response bodies as web streams: a node IncomingMessage becomes a ReadableStream that carries
 * backpressure (the socket pauses while the consumer is busy), fails with a RemoteError when the
 * server stalls while we wait for bytes or closes before the announced length, and releases the
 * socket when cancelled.
 */
import type { IncomingMessage } from "node:http";
import { RemoteError } from "../../core/errors.ts";

/** Queue this many bytes before pausing the socket (more did not make downloads faster). */
const HIGH_WATER = 256 << 10;

export interface BodyOptions {
  /** Fail when no byte arrives for this long while the consumer waits for one. */
  idleTimeoutMs: number;
  /** For messages: the URL the body comes from. */
  url: string;
}

/**
 * The body of `res` as a ReadableStream. The idle timer only runs while a read is pending, so a
 * slow consumer (which pauses the socket) never trips it.
 */
export function bodyStream(res: IncomingMessage, opts: BodyOptions): ReadableStream<Uint8Array> {
  const expected = Number(res.headers["content-length"] ?? NaN);
  let received = 0;
  let finished = false;
  let waiting: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const disarm = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    waiting?.();
    waiting = undefined;
  };
  const fail = (c: ReadableStreamDefaultController<Uint8Array>, err: RemoteError) => {
    if (finished) return;
    finished = true;
    disarm();
    c.error(err);
    res.destroy();
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      res.on("data", (chunk: Uint8Array) => {
        if (finished) return;
        received += chunk.byteLength;
        c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        disarm();
        if ((c.desiredSize ?? 0) <= 0) res.pause();
      });
      res.on("end", () => {
        if (finished) return;
        if (Number.isFinite(expected) && received < expected) {
          return fail(c, truncated(opts.url, received, expected));
        }
        finished = true;
        disarm();
        c.close();
      });
      // "aborted"/"error"/"close" without "end": the connection went away mid-body.
      const broken = (err?: Error) =>
        fail(
          c,
          err instanceof RemoteError
            ? err
            : truncated(opts.url, received, Number.isFinite(expected) ? expected : undefined, err),
        );
      res.on("error", broken);
      res.on("aborted", () => broken());
      res.on("close", () => {
        if (!res.complete) broken();
      });
    },
    pull(c) {
      if (finished) return;
      res.resume();
      return new Promise<void>((resolve) => {
        waiting = resolve;
        timer = setTimeout(() => {
          fail(
            c,
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
      finished = true;
      disarm();
      res.destroy();
    },
  }, { highWaterMark: HIGH_WATER, size: (chunk) => chunk.byteLength });
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
