/**
 * A streaming multipart/form-data reader, for LXD's split-image export: parts come one after
 * the other, each body a ReadableStream read straight off the response, so memory stays flat
 * whatever the part sizes. The next part is available once the previous body has been read (or
 * cancelled, which skips the rest of it).
 */
import { Buffer } from "node:buffer";
import { RemoteError } from "../../core/errors.ts";

export interface Part {
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** From Content-Disposition: the form field name and the file name. */
  name?: string;
  filename?: string;
  body: ReadableStream<Uint8Array>;
}

/** Parameters of a header like `form-data; name="x"; filename=y` (names lower-cased). */
export function headerParams(value: string): { type: string; params: Record<string, string> } {
  const [type] = value.split(";", 1);
  const params: Record<string, string> = {};
  const re = /;\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
  for (const m of value.matchAll(re)) {
    let v = m[2].trim();
    if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    params[m[1].toLowerCase()] = v;
  }
  return { type: type.trim().toLowerCase(), params };
}

const MAX_HEADERS = 16 << 10;
const MAX_PREAMBLE = 64 << 10;
const enc = new TextEncoder();

const indexOf = (hay: Uint8Array, needle: Uint8Array, from = 0) =>
  Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(needle, from);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/** Length of the longest tail of `buf` that is a proper prefix of `delim`. */
function delimiterTail(buf: Uint8Array, delim: Uint8Array): number {
  for (let p = Math.max(0, buf.byteLength - delim.byteLength + 1); p < buf.byteLength; p++) {
    if (buf[p] !== delim[0]) continue;
    let j = 1;
    while (p + j < buf.byteLength && buf[p + j] === delim[j]) j++;
    if (p + j === buf.byteLength) return buf.byteLength - p;
  }
  return 0;
}

/** The parts of a multipart body with `boundary`, in order. */
export class MultipartReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #delim: Uint8Array;
  readonly #what: string;
  #back: Uint8Array = new Uint8Array(0);
  #started = false;
  #ended = false;
  #current?: { done: Promise<void> };
  #broken?: unknown;

  constructor(body: ReadableStream<Uint8Array>, boundary: string, what: string) {
    this.#reader = body.getReader();
    this.#delim = enc.encode(`\r\n--${boundary}`);
    this.#what = what;
  }

  /** The next part, or undefined after the closing boundary. Waits for the previous body. */
  async next(): Promise<Part | undefined> {
    if (this.#current) await this.#current.done;
    if (this.#broken) throw this.#broken;
    if (this.#ended) return undefined;
    if (!this.#started) {
      this.#started = true;
      await this.#skipPreamble();
    }
    // After a delimiter: "--" ends the body, else optional padding and CRLF.
    const after = await this.#take(2);
    if (after[0] === 0x2d && after[1] === 0x2d) {
      this.#ended = true;
      await this.cancel();
      return undefined;
    }
    this.#unread(after);
    const headers = await this.#headers();
    const cd = headerParams(headers["content-disposition"] ?? "");
    return {
      headers,
      name: cd.params.name,
      filename: cd.params.filename,
      body: this.#body(),
    };
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason).catch(() => {});
  }

  #bad(detail: string): RemoteError {
    return new RemoteError(`Cannot read the multipart answer of ${this.#what}: ${detail}`);
  }

  async #read(): Promise<Uint8Array | undefined> {
    if (this.#back.byteLength) {
      const b = this.#back;
      this.#back = new Uint8Array(0);
      return b;
    }
    const r = await this.#reader.read();
    return r.done ? undefined : r.value;
  }

  #unread(b: Uint8Array): void {
    if (b.byteLength) this.#back = concat(b, this.#back);
  }

  async #take(n: number): Promise<Uint8Array> {
    let got: Uint8Array = new Uint8Array(0);
    while (got.byteLength < n) {
      const c = await this.#read();
      if (!c) throw this.#bad("it ends early");
      got = concat(got, c);
    }
    this.#unread(got.subarray(n));
    return got.subarray(0, n);
  }

  /** Reads until `marker`, returning what came before it (at most `max` bytes). */
  async #until(marker: Uint8Array, max: number, what: string): Promise<Uint8Array> {
    let buf: Uint8Array = new Uint8Array(0);
    for (;;) {
      const i = indexOf(buf, marker);
      if (i >= 0) {
        this.#unread(buf.subarray(i + marker.byteLength));
        return buf.subarray(0, i);
      }
      if (buf.byteLength > max) throw this.#bad(`${what} is longer than ${max} bytes`);
      const c = await this.#read();
      if (!c) throw this.#bad(`it ends in the ${what}`);
      buf = concat(buf, c);
    }
  }

  async #skipPreamble(): Promise<void> {
    // The first boundary may come without the CRLF in front of it.
    this.#unread(enc.encode("\r\n"));
    await this.#until(this.#delim, MAX_PREAMBLE, "preamble");
  }

  async #headers(): Promise<Record<string, string>> {
    const raw = await this.#until(enc.encode("\r\n\r\n"), MAX_HEADERS, "part headers");
    const lines = new TextDecoder().decode(raw).split("\r\n");
    // The first line holds the rest of the boundary line: transport padding only.
    if (lines[0].trim() !== "") throw this.#bad("garbage after a boundary");
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
    }
    return headers;
  }

  /** The current part's body: bytes up to the next delimiter. */
  #body(): ReadableStream<Uint8Array> {
    const delim = this.#delim;
    let pending: Uint8Array = new Uint8Array(0);
    let end = false;
    let finish!: () => void;
    const done = new Promise<void>((r) => finish = r);
    /** The next body bytes, and whether the delimiter came right after them. */
    const step = async (): Promise<{ data: Uint8Array; end: boolean }> => {
      const chunk = await this.#read();
      if (!chunk) throw this.#bad("it ends inside a part");
      // A delimiter may start in the bytes held back from the previous chunk.
      if (pending.byteLength) {
        const window = concat(pending, chunk.subarray(0, delim.byteLength - 1));
        const w = indexOf(window, delim);
        if (w >= 0 && w < pending.byteLength) {
          this.#unread(chunk.subarray(w + delim.byteLength - pending.byteLength));
          const data = pending.subarray(0, w);
          pending = new Uint8Array(0);
          return { data, end: true };
        }
      }
      const i = indexOf(chunk, delim);
      if (i >= 0) {
        this.#unread(chunk.subarray(i + delim.byteLength));
        const data = concat(pending, chunk.subarray(0, i));
        pending = new Uint8Array(0);
        return { data, end: true };
      }
      // Hold back only a tail that could begin a delimiter (rarely any: it starts with CR), so
      // most chunks pass through without a copy.
      const joined = concat(pending, chunk);
      const keep = delimiterTail(joined, delim);
      pending = keep ? joined.slice(joined.byteLength - keep) : new Uint8Array(0);
      return { data: joined.subarray(0, joined.byteLength - keep), end: false };
    };
    this.#current = { done };
    const broke = (err: unknown) => {
      this.#broken = err;
      finish();
    };
    // One step at a time: a cancel waits for a read in flight before it skips the rest.
    let busy: Promise<unknown> = Promise.resolve();
    let cancelled = false;
    return new ReadableStream<Uint8Array>({
      pull: (c) => {
        const run = (async () => {
          try {
            while (!end) {
              const r = await step();
              end = r.end;
              if (cancelled) return;
              if (r.data.byteLength) return c.enqueue(r.data);
            }
            if (!cancelled) c.close();
            finish();
          } catch (err) {
            if (!cancelled) c.error(err);
            broke(err);
          }
        })();
        busy = run;
        return run;
      },
      cancel: async () => {
        cancelled = true;
        await busy;
        try {
          while (!end) end = (await step()).end;
          finish();
        } catch (err) {
          broke(err);
        }
      },
    }, { highWaterMark: 0 });
  }
}
