/**
 * Resuming downloads: when a body breaks mid-way (connection closed, server stalled) and the
 * server said it takes byte ranges, ask again for the rest with `Range: bytes=N-` (and If-Range
 * with the ETag or Last-Modified, so a changed file is not stitched onto the old one) and carry
 * on in the same stream, a bounded number of times. The consumer sees one seamless body; the
 * hashes checked after the download catch anything a server got wrong.
 */
import { RemoteError } from "../../core/errors.ts";
import type { HttpClient, HttpResponse } from "./http.ts";

export interface ResumeOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
  /** Attempts after the first request (default 3). */
  maxResumes?: number;
  /** Called before each new attempt with the byte offset it starts at. */
  onResume?: (offset: number) => void;
}

/** The validator for If-Range: a strong ETag, else Last-Modified. */
function validator(headers: Headers): string | undefined {
  const etag = headers.get("etag");
  if (etag && !etag.startsWith("W/")) return etag;
  return headers.get("last-modified") ?? undefined;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `first.body`, continued with Range requests when it breaks; see the module comment. */
export function resumingBody(
  client: HttpClient,
  first: HttpResponse,
  opts: ResumeOptions = {},
): ReadableStream<Uint8Array> {
  const ranges = /\bbytes\b/i.test(first.headers.get("accept-ranges") ?? "");
  const ifRange = validator(first.headers);
  const max = opts.maxResumes ?? 3;
  const url = first.url;
  let reader = first.body.getReader();
  let offset = 0;
  let attempts = 0;

  const resume = async (cause: unknown): Promise<void> => {
    for (;;) {
      if (!ranges || attempts >= max || opts.signal?.aborted || !(cause instanceof RemoteError)) {
        throw cause;
      }
      attempts++;
      if (attempts > 1) await pause(250 * 2 ** (attempts - 2));
      opts.onResume?.(offset);
      try {
        const res = await client.getStream(url, {
          signal: opts.signal,
          headers: opts.headers,
          range: { start: offset, ifRange },
        });
        const range = res.headers.get("content-range") ?? "";
        if (res.status !== 206 || !range.startsWith(`bytes ${offset}-`)) {
          await res.body.cancel().catch(() => {});
          throw new RemoteError(
            `Cannot resume "${url.href}" at byte ${offset}: the server answered ${res.status}` +
              (res.status === 200 ? " (the file changed on the server)" : ""),
            { cause },
          );
        }
        reader = res.body.getReader();
        return;
      } catch (err) {
        // A refused resume is final; a failed connection counts as one more attempt.
        if (err instanceof RemoteError && err.message.startsWith("Cannot resume")) throw err;
        cause = err;
      }
    }
  };

  return new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          await resume(err);
          continue;
        }
        if (r.done) return c.close();
        offset += r.value.byteLength;
        return c.enqueue(r.value);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
