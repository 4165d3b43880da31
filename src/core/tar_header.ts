/**
 * Decoding single tar header fields the way GNU tar does: NUL-terminated strings (kept as
 * latin1, so every byte survives), octal or base-256 numbers, the header checksum (signed or
 * unsigned) and pax extended header records.
 */

/** The field's bytes up to the first NUL, one character per byte. */
export function readString(h: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && h[end] !== 0) end++;
  return String.fromCharCode(...h.subarray(off, end));
}

/** An octal field (leading spaces allowed) or a base-256 one; NaN when it is neither. */
export function readNumber(h: Uint8Array, off: number, len: number): number {
  if (h[off] & 0x80) {
    if (h[off] === 0xff) return NaN; // negative: never a valid size
    let n = h[off] & 0x7f;
    for (let i = off + 1; i < off + len; i++) n = n * 256 + h[i];
    return n;
  }
  let i = off;
  while (i < off + len && h[i] === 0x20) i++;
  let n = 0;
  let digits = 0;
  for (; i < off + len && h[i] !== 0 && h[i] !== 0x20; i++) {
    const d = h[i] - 0x30;
    if (d < 0 || d > 7) return NaN;
    n = n * 8 + d;
    digits++;
  }
  return digits === 0 ? 0 : n;
}

/** True when the stored checksum matches the unsigned or the signed sum, as GNU tar accepts. */
export function validChecksum(h: Uint8Array): boolean {
  const stored = readNumber(h, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Pax records ("<len> <key>=<value>\n"), or undefined when a length does not fit. */
export function parsePax(text: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  let off = 0;
  while (off < text.length) {
    if (text.charCodeAt(off) === 0) break; // NUL padding after the last record
    const space = text.indexOf(" ", off);
    if (space < 0) return undefined;
    const len = Number(text.slice(off, space));
    if (!Number.isSafeInteger(len) || len <= space - off + 1 || off + len > text.length) {
      return undefined;
    }
    const record = text.slice(space + 1, off + len);
    if (!record.endsWith("\n")) return undefined;
    const eq = record.indexOf("=");
    if (eq <= 0) return undefined;
    const key = record.slice(0, eq);
    const value = record.slice(eq + 1, -1);
    // An empty value deletes the keyword, as POSIX says.
    if (value === "") out.delete(key);
    else out.set(key, value);
    off += len;
  }
  return out;
}
