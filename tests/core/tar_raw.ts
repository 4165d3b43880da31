/**
 * Tar archives written block by block, for hostile inputs no tar tool would produce: any name,
 * type, size field or checksum. Headers are ustar; pax and GNU long-name entries are built from
 * the same pieces.
 */
const enc = new TextEncoder();

export interface RawHeader {
  type?: string;
  /** The size field; defaults to the body's length. */
  size?: number;
  linkname?: string;
  mode?: number;
  /** Add this to the computed checksum (non-zero: a corrupt header). */
  checksumDelta?: number;
}

function field(b: Uint8Array, off: number, len: number, text: string): void {
  b.set(enc.encode(text).subarray(0, len), off);
}

const octal = (n: number, len: number) => n.toString(8).padStart(len - 1, "0") + "\0";

/** One 512-byte ustar header. */
export function header(name: string, h: RawHeader = {}): Uint8Array {
  const b = new Uint8Array(512);
  field(b, 0, 100, name);
  field(b, 100, 8, octal(h.mode ?? 0o644, 8));
  field(b, 108, 8, octal(0, 8));
  field(b, 116, 8, octal(0, 8));
  field(b, 124, 12, octal(h.size ?? 0, 12));
  field(b, 136, 12, octal(1700000000, 12));
  field(b, 156, 1, h.type ?? "0");
  field(b, 157, 100, h.linkname ?? "");
  field(b, 257, 8, "ustar\x0000");
  b.fill(0x20, 148, 156);
  const sum = b.reduce((a, x) => a + x, 0) + (h.checksumDelta ?? 0);
  field(b, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** A header and its body padded to whole blocks. */
export function entry(name: string, body: string | Uint8Array = "", h: RawHeader = {}): Uint8Array {
  const data = typeof body === "string" ? enc.encode(body) : body;
  const padded = new Uint8Array(Math.ceil(data.byteLength / 512) * 512);
  padded.set(data);
  return concat([header(name, { size: data.byteLength, ...h }), padded]);
}

/** A pax extended header ('x', or 'g' for global) holding `records`. */
export function pax(records: Record<string, string>, type = "x"): Uint8Array {
  let text = "";
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len++;
    text += `${len}${rest}`;
  }
  return entry("PaxHeaders/x", text, { type });
}

/** A GNU long name ('L') or long link ('K') entry. */
export function gnuLong(name: string, type = "L"): Uint8Array {
  return entry("././@LongLink", `${name}\0`, { type });
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** The archive: the parts, then the two zero blocks. */
export function tarOf(...parts: Uint8Array[]): Uint8Array {
  return concat([...parts, new Uint8Array(1024)]);
}

/** Bytes as a stream of `chunk`-sized pieces. */
export function chunked(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(off, off + chunk));
      off += chunk;
    },
  });
}
