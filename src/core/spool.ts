/**
 * A spool file: one side downloads a stream into a temp file as fast as the network allows,
 * the other reads the same file from the start, waiting at its end for more bytes until the
 * download is finished. That lets two downloads run in parallel while a consumer takes them one
 * after the other (the store imports metadata first, then the rootfs), with flat memory.
 */
import { open, rm } from "node:fs/promises";
import { CHUNK } from "./streams.ts";

export interface Spool {
  /** Reads the spooled bytes from the start; errors if the download fails. Call once. */
  reader(): ReadableStream<Uint8Array>;
  /** Settles when the download has finished or failed. */
  done: Promise<void>;
  /** Stops the download (if running) and removes the file. */
  dispose(reason?: unknown): Promise<void>;
}

/** Starts copying `source` into `path` (a new file) at once. */
export function spool(source: ReadableStream<Uint8Array>, path: string): Spool {
  let written = 0;
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const reader = source.getReader();
  let writer: Awaited<ReturnType<typeof open>> | undefined;
  let disposed = false;

  const done = (async () => {
    try {
      writer = await open(path, "wx", 0o600);
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        let off = 0;
        while (off < r.value.byteLength) {
          const { bytesWritten } = await writer.write(r.value, off, r.value.byteLength - off);
          off += bytesWritten;
        }
        written += r.value.byteLength;
        notify();
      }
    } catch (err) {
      failure = err;
      await reader.cancel(err).catch(() => {});
    } finally {
      await writer?.close().catch(() => {});
      writer = undefined;
      finished = true;
      notify();
    }
  })();

  const read = (): ReadableStream<Uint8Array> => {
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    let pos = 0;
    let cancelled = false;
    const close = async () => {
      await fh?.close().catch(() => {});
      fh = undefined;
    };
    return new ReadableStream<Uint8Array>({
      async pull(c) {
        for (;;) {
          if (cancelled) return;
          if (failure !== undefined) {
            await close();
            return c.error(failure);
          }
          if (pos < written) {
            // The file exists once bytes were written, so it can be opened now.
            if (!fh) {
              const opened = await open(path, "r");
              // Cancelled while opening: close() already ran and saw no handle.
              if (cancelled) return void await opened.close().catch(() => {});
              fh = opened;
            }
            const buf = new Uint8Array(Math.min(CHUNK, written - pos));
            const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos);
            pos += bytesRead;
            return c.enqueue(bytesRead === buf.byteLength ? buf : buf.subarray(0, bytesRead));
          }
          if (finished) {
            await close();
            return c.close();
          }
          await new Promise<void>((resolve) => {
            const prev = wake;
            wake = () => {
              prev?.();
              resolve();
            };
          });
        }
      },
      cancel() {
        cancelled = true;
        return close();
      },
    });
  };

  return {
    reader: read,
    done,
    async dispose(reason?: unknown) {
      if (!disposed) {
        disposed = true;
        if (!finished) {
          failure ??= reason ?? new Error("spool disposed");
          await reader.cancel(reason).catch(() => {});
        }
        await done;
        await rm(path, { force: true });
      }
    },
  };
}
