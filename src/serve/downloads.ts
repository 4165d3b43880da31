/**
 * File answers for image downloads: one file with HEAD, Range, ETag/If-None-Match and
 * Last-Modified, or a split image as multipart/form-data the way LXD's export sends it. Bodies
 * stream from disk chunk by chunk (memory stays flat whatever the image size), and nothing is
 * opened for HEAD or 304 answers. Each body is also planned for direct_send.ts, through which
 * the node:http server sends it; other callers read the web stream.
 */
import { stat } from "node:fs/promises";
import { ImagoError } from "../core/errors.ts";
import { fileStream } from "../core/streams.ts";
import { type Piece, planned } from "./direct_send.ts";
import { errorResponse } from "./envelopes.ts";

/** One file on disk as it is offered for download. */
export interface DownloadFile {
  path: string;
  /** Name for Content-Disposition / the multipart filename. */
  name: string;
  /** Size the store recorded; a file of another size on disk is reported as damaged. */
  size: number;
}

interface Stat {
  size: number;
  mtime: Date;
}

async function statChecked(f: DownloadFile): Promise<Stat> {
  const s = await stat(f.path).catch((err) => {
    throw new ImagoError(`Cannot read image file "${f.name}": ${err.message}`, { cause: err });
  });
  if (s.size !== f.size) {
    throw new ImagoError(
      `Cannot serve image file "${f.name}": it has ${s.size} bytes on disk but ${f.size} ` +
        `recorded; run "imago fsck"`,
    );
  }
  return { size: s.size, mtime: s.mtime };
}

/** True when If-None-Match lists `etag` (weak comparison) or is "*". */
function noneMatch(header: string | null, etag: string): boolean {
  if (header === null) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || bare(t) === bare(etag));
}

function notModified(req: Request, etag: string, mtime: Date): boolean {
  const inm = req.headers.get("If-None-Match");
  if (inm !== null) return noneMatch(inm, etag);
  const ims = Date.parse(req.headers.get("If-Modified-Since") ?? "");
  return !Number.isNaN(ims) && Math.floor(mtime.getTime() / 1000) * 1000 <= ims;
}

export type RangeResult = { kind: "full" } | { kind: "part"; start: number; end: number } | {
  kind: "bad";
};

/**
 * Reads a Range header against a body of `size` bytes. One `bytes=` range gives a part
 * (`end` inclusive); several ranges are answered with the whole file, which HTTP allows;
 * anything malformed or unsatisfiable is "bad" (416).
 */
export function parseRange(header: string | null, size: number): RangeResult {
  if (header === null) return { kind: "full" };
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m || header.length > 200) return { kind: "bad" };
  const specs = m[1].split(",").map((s) => s.trim());
  const one = /^(\d{0,16})-(\d{0,16})$/;
  if (!specs.every((s) => one.test(s) && s !== "-")) return { kind: "bad" };
  if (specs.length > 1) return { kind: "full" };
  const [, a, b] = one.exec(specs[0])!;
  let start: number;
  let end: number;
  if (a === "") {
    const n = Number(b);
    if (n === 0) return { kind: "bad" };
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== "" && Number(b) < start) return { kind: "bad" };
  }
  if (start >= size) return { kind: "bad" };
  return { kind: "part", start, end };
}

/** One file: 200, 206, 304, 416 or a HEAD answer. `etag` must be quoted, e.g. `"<fp>"`. */
export async function fileResponse(
  req: Request,
  file: DownloadFile,
  etag: string,
): Promise<Response> {
  const st = await statChecked(file);
  const headers: Record<string, string> = {
    "Accept-Ranges": "bytes",
    "Content-Disposition": `inline;filename=${file.name}`,
    "Content-Type": "application/octet-stream",
    "ETag": etag,
    "Last-Modified": st.mtime.toUTCString(),
  };
  if (notModified(req, etag, st.mtime)) return new Response(null, { status: 304, headers });
  let range = parseRange(req.headers.get("Range"), st.size);
  const ifRange = req.headers.get("If-Range");
  if (range.kind !== "full" && ifRange !== null && ifRange.trim() !== etag) {
    range = { kind: "full" };
  }
  if (range.kind === "bad") {
    const res = errorResponse(416, `Invalid range "${req.headers.get("Range")?.slice(0, 100)}"`);
    res.headers.set("Content-Range", `bytes */${st.size}`);
    return res;
  }
  const [status, start, end] = range.kind === "part"
    ? [206, range.start, range.end + 1]
    : [200, 0, st.size];
  headers["Content-Length"] = String(end - start);
  if (status === 206) headers["Content-Range"] = `bytes ${start}-${end - 1}/${st.size}`;
  if (req.method === "HEAD") return new Response(null, { status, headers });
  const piece = { path: file.path, name: file.name, start, end };
  return planned(new Response(lazyStream([piece]), { status, headers }), [piece]);
}

/** A multipart part: form field name plus the file behind it. */
export interface Part {
  field: string;
  file: DownloadFile;
}

const enc = new TextEncoder();

/** Part headers as Go's mime/multipart writes them (headers sorted, CRLF line ends). */
function partHead(boundary: string, p: Part, first: boolean): Uint8Array {
  return enc.encode(
    `${first ? "" : "\r\n"}--${boundary}\r\n` +
      `Content-Disposition: form-data; name="${p.field}"; filename="${p.file.name}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`,
  );
}

/** Yields each piece in turn, opening a file only when it is reached; cancel closes it. */
function lazyStream(pieces: Piece[]): ReadableStream<Uint8Array> {
  let idx = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      for (;;) {
        if (reader) {
          const r = await reader.read();
          if (!r.done) return c.enqueue(r.value);
          reader = undefined;
        }
        if (idx >= pieces.length) return c.close();
        const p = pieces[idx++];
        if (p instanceof Uint8Array) return c.enqueue(p);
        reader = fileStream(p.path, p.start, p.end).getReader();
      }
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * A split image as LXD's export sends it: multipart/form-data, part "metadata" then "rootfs"
 * (or "rootfs.img"). The length is known up front, so unlike LXD we send Content-Length.
 * The boundary is random per answer, so the ETag is weak.
 */
export async function multipartResponse(
  req: Request,
  parts: Part[],
  etag: string,
): Promise<Response> {
  let mtime = new Date(0);
  for (const p of parts) {
    const st = await statChecked(p.file);
    if (st.mtime > mtime) mtime = st.mtime;
  }
  const weak = `W/${etag}`;
  const boundary = Array.from(crypto.getRandomValues(new Uint8Array(30)))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  const headers: Record<string, string> = {
    "Content-Type": `multipart/form-data; boundary=${boundary}`,
    "ETag": weak,
    "Last-Modified": mtime.toUTCString(),
  };
  if (notModified(req, weak, mtime)) return new Response(null, { status: 304, headers });
  const pieces: Piece[] = [];
  parts.forEach((p, i) => {
    pieces.push(partHead(boundary, p, i === 0));
    pieces.push({ path: p.file.path, name: p.file.name, start: 0, end: p.file.size });
  });
  pieces.push(enc.encode(`\r\n--${boundary}--\r\n`));
  const length = pieces.reduce(
    (n, p) => n + (p instanceof Uint8Array ? p.byteLength : p.end - p.start),
    0,
  );
  headers["Content-Length"] = String(length);
  if (req.method === "HEAD") return new Response(null, { status: 200, headers });
  return planned(new Response(lazyStream(pieces), { status: 200, headers }), pieces);
}
