/** File checks shared by commands, turning file system errors into one-line ImagoErrors. */
import { stat } from "node:fs/promises";
import { ImagoError, NotFoundError } from "../core/errors.ts";
import { fileStream } from "../core/streams.ts";

/** Size of a regular file that a command reads; a clear error when it is missing or a folder. */
export async function inputFile(path: string, action: string): Promise<number> {
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") throw new NotFoundError(`${action}: file "${path}" not found`);
    throw new ImagoError(`${action}: cannot read "${path}": ${err.message}`, { cause: err });
  });
  if (st.isDirectory()) {
    throw new ImagoError(`${action}: "${path}" is a folder: use "imago build" for image folders`);
  }
  return st.size;
}

/** Wraps a file system error (anything with an errno code) into an ImagoError for `action`. */
export function fsError(err: unknown, action: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (err instanceof ImagoError || typeof code !== "string") return err;
  return new ImagoError(`${action}: ${(err as Error).message}`, { cause: err });
}

/**
 * A file's byte stream plus `close()`, which releases the file even when a consumer locked the
 * stream and then gave up on it without cancelling (so no handle is left to the GC).
 */
export function closableFileStream(path: string): {
  stream: ReadableStream<Uint8Array>;
  close(): Promise<void>;
} {
  const reader = fileStream(path).getReader();
  let open = true;
  const close = async () => {
    if (open) await reader.cancel().catch(() => {});
    open = false;
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(c) {
      const r = await reader.read();
      if (r.done) {
        open = false;
        c.close();
      } else c.enqueue(r.value);
    },
    cancel: close,
  });
  return { stream, close };
}
