/** Builders for tar test inputs: tar-stream for hostile archives, GNU tar for real ones. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pack } from "tar-stream";
import type { Header } from "tar-stream";

export interface PackEntry extends Partial<Header> {
  name: string;
  body?: string | Uint8Array;
}

/** An uncompressed tar holding exactly these headers (names are not checked). */
export async function packTar(entries: PackEntry[]): Promise<Uint8Array> {
  const p = pack();
  const parts: Uint8Array[] = [];
  const done = (async () => {
    for await (const chunk of p) parts.push(chunk as Uint8Array);
  })();
  for (const { body, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      p.entry(header, body ?? "", (err) => err ? reject(err) : resolve());
    });
  }
  p.finalize();
  await done;
  return join1(parts);
}

function join1(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** A temporary directory removed by the returned function. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "imago-test-"));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs GNU tar over a directory holding `files` (path → content; a path ending in "/" is an empty
 * directory) and returns the archive; `flags` go before the file list (e.g. "-z").
 */
export function gnuTar(files: Record<string, string>, flags: string[] = []): Uint8Array {
  const t = tempDir();
  try {
    const root = join(t.dir, "root");
    mkdirSync(root);
    for (const [path, content] of Object.entries(files)) {
      if (path.endsWith("/")) {
        mkdirSync(join(root, path), { recursive: true });
        continue;
      }
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    const out = join(t.dir, "out.tar");
    execFileSync("tar", ["-c", ...flags, "-f", out, "-C", root, "."]);
    return new Uint8Array(readFileSync(out));
  } finally {
    t.remove();
  }
}

/** Bytes as a stream of `chunk`-sized pieces, to cross tar block boundaries. */
export function streamOf(bytes: Uint8Array, chunk = 1000): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(off, off + chunk));
      off += chunk;
    },
  });
}

export async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** A ustar header block for a regular file, for archives generated on the fly. */
export function fileHeader(name: string, size: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, off: number) => h.set(new TextEncoder().encode(s), off);
  const oct = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0";
  put(name, 0);
  put(oct(0o644, 8), 100);
  put(oct(0, 8), 108);
  put(oct(0, 8), 116);
  put(oct(size, 12), 124);
  put(oct(0, 12), 136);
  put("        ", 148); // checksum field counts as spaces while summing
  put("0", 156);
  put("ustar\x0000", 257);
  const sum = h.reduce((a, b) => a + b, 0);
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return h;
}
