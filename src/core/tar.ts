/**
 * Reading tar archives: a thin wrapper over tar-stream (a library we may swap) that speaks web
 * streams, refuses entries that would land outside the extraction directory and reports
 * truncated or non-tar input. Entries are handled one at a time, so memory stays flat.
 */
import { extract as tarExtract } from "tar-stream";
import type { Header } from "tar-stream";
import { ImagoError, InvalidInputError } from "./errors.ts";

export type TarEntryType =
  | "file"
  | "directory"
  | "symlink"
  | "link"
  | "character-device"
  | "block-device"
  | "fifo"
  | "contiguous-file"
  | "unknown";

export interface TarEntry {
  /** Normalised: no leading "./", no trailing "/"; the archive root itself is ".". */
  name: string;
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Target of a symlink or hard link (hard links normalised like `name`). */
  linkname?: string;
  /** The entry's data; whatever is left unread when the handler returns is skipped. */
  body(): ReadableStream<Uint8Array>;
}

export interface ScanOptions {
  /** Starts every error message, e.g. `Cannot import "x.tar"`. */
  action?: string;
}

/**
 * `name` without leading "./" and trailing "/", or undefined when it is absolute or has a ".."
 * component (it would escape the directory it is extracted into).
 */
export function safeEntryName(name: string): string | undefined {
  if (name.startsWith("/") || name.split("/").includes("..")) return undefined;
  let n = name;
  while (n.startsWith("./")) n = n.slice(2).replace(/^\/+/, "");
  n = n.replace(/\/+$/, "");
  return n === "" ? "." : n;
}

/** Minimal view of the streamx Readable that tar-stream hands out per entry. */
type Source = AsyncIterable<unknown> & {
  destroy(err?: unknown): void;
  resume(): void;
  on(event: string, fn: (arg?: unknown) => void): void;
};

/**
 * Reads the tar in `stream`, calling `onEntry` for each entry in order (the next one is read only
 * once the handler has settled). Rejects with InvalidInputError on an unsafe name or hard link,
 * a truncated stream, an empty stream or bytes that are not a tar; a handler's error is passed
 * through unchanged. The input is cancelled on any error.
 */
export async function scanTar(
  stream: ReadableStream<Uint8Array>,
  onEntry: (e: TarEntry) => Promise<void> | void,
  options: ScanOptions = {},
): Promise<void> {
  const action = options.action ?? "Cannot read tar archive";
  const ex = tarExtract();
  const reader = stream.getReader();
  let current: string | undefined; // entry whose data is being read, for truncation messages
  let seen = false; // whether any entry was read
  let failed = false; // a flag apart from `failure`, which may be undefined (abort())
  let failure: unknown;
  // No Promise.race against a long-lived promise here: each race would keep its chunk alive.
  let wake = () => {};
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    failure = err;
    reader.cancel(err).catch(() => {}); // ends a pending read
    wake();
  };
  const until = (event: "drain" | "finish") =>
    new Promise<void>((resolve) => {
      wake = resolve;
      ex.once(event, () => resolve());
    });
  ex.on("error", (err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    fail(tarError(err, action, current, seen) ?? new InvalidInputError(`${action}: ${msg}`));
  });
  ex.on("entry", (header, source, next) => {
    current = header.name;
    seen = true;
    handle(header, source, onEntry, action).then(
      () => {
        current = undefined;
        next();
      },
      (err) => {
        // An entry body rejects with tar-stream's own error when the archive is bad.
        fail(tarError(err, action, current, seen) ?? err);
        source.destroy();
        ex.destroy();
      },
    );
  });

  let total = 0;
  try {
    while (!failed) {
      const r = await reader.read();
      if (r.done || failed) break;
      total += r.value.byteLength;
      if (!ex.write(r.value)) await until("drain");
    }
    if (!failed) {
      if (total === 0) throw new InvalidInputError(`${action}: the file is empty`);
      ex.end(undefined);
      await until("finish");
    }
  } catch (err) {
    fail(err);
  }
  if (failed) {
    ex.destroy();
    await reader.cancel(failure).catch(() => {});
  }
  reader.releaseLock();
  if (failed) throw failure;
}

/** Checks one entry, lets the handler see it, then skips what it left unread. */
async function handle(
  header: Header,
  source: Source,
  onEntry: (e: TarEntry) => Promise<void> | void,
  action: string,
): Promise<void> {
  const name = safeEntryName(header.name);
  if (name === undefined) {
    throw new InvalidInputError(
      `${action}: unsafe tar entry "${header.name}": absolute paths and ".." are not allowed`,
    );
  }
  let linkname: string | undefined = header.linkname ?? undefined;
  if (header.type === "link" && linkname !== undefined) {
    linkname = safeEntryName(linkname);
    if (linkname === undefined) {
      throw new InvalidInputError(
        `${action}: unsafe hard link "${header.name}" to "${header.linkname}": ` +
          `absolute targets and ".." are not allowed`,
      );
    }
  }
  // Most entries are only looked at: their body stream is made when asked for, and the data of
  // the others is drained without a promise per chunk (tar-stream's resume()).
  let it: AsyncIterator<unknown> | undefined;
  let pending: Promise<unknown> = Promise.resolve();
  let body: ReadableStream<Uint8Array> | undefined;
  const makeBody = () => {
    const iter = it = source[Symbol.asyncIterator]();
    return new ReadableStream<Uint8Array>({
      pull: async (c) => {
        const p = iter.next();
        pending = p;
        const r = await p;
        if (r.done) return c.close();
        const chunk = r.value as Uint8Array;
        c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      },
      // Stopping early is allowed: the rest is skipped after the handler returns.
    }, { highWaterMark: 0 });
  };
  await onEntry({
    name,
    type: (header.type ?? "unknown") as TarEntryType,
    size: header.size ?? 0,
    mode: header.mode ?? 0,
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    linkname,
    body: () => body ??= makeBody(),
  });
  if (!it) return await drain(source);
  await pending.catch(() => {});
  for (;;) {
    const r = await it.next();
    if (r.done) break;
  }
}

/** Skips an entry's data; rejects with the archive's error when it breaks off. */
function drain(source: Source): Promise<void> {
  return new Promise((resolve, reject) => {
    source.on("end", () => resolve());
    source.on("error", reject);
    source.on("close", () => resolve());
    source.resume();
  });
}

/** tar-stream's errors for bad input, as InvalidInputError; undefined for any other error. */
function tarError(err: unknown, action: string, entry: string | undefined, seen: boolean) {
  if (!(err instanceof Error) || err instanceof ImagoError) return undefined;
  const msg = err.message;
  if (msg === "Unexpected end of data") {
    const what = entry !== undefined
      ? `the tar archive is truncated in entry "${entry}"`
      : seen
      ? "the tar archive is truncated"
      : "not a tar archive, or one truncated in its first header";
    return new InvalidInputError(`${action}: ${what}`, { cause: err });
  }
  if (msg.startsWith("Invalid tar header") || msg === "Header exceeds max size") {
    return new InvalidInputError(
      `${action}: not a tar archive, or a corrupt one (${msg.replace(/\..*$/, "")})`,
      { cause: err },
    );
  }
  return undefined;
}
