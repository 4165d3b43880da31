/**
 * An HTTP/1.1 response parser fed with socket reads (http_wire.ts): the head (interim 1xx
 * answers skipped), then the body framed by Content-Length, the chunked coding (extensions and
 * trailers ignored) or the end of the connection. Body bytes are passed on as views of the
 * input, valid only during the call. Reads may split the stream anywhere.
 */
import { Buffer } from "node:buffer";

/** Status line and headers together (Go's default limit is 1 MB, node's 16 KiB). */
export const MAX_HEAD = 64 << 10;
/** A chunk-size or trailer line. */
const MAX_LINE = 4 << 10;
const HEAD_END = Buffer.from("\r\n\r\n");
const TOKEN = /^[!#$%&'*+.^`|~\w-]+$/;

export interface ParserEvents {
  /** The final head; `length` is the Content-Length when it frames the body. */
  head(status: number, headers: Headers, length: number | undefined): void;
  /** Body bytes, valid only during the call; false asks the reader to stop for now. */
  body(bytes: Uint8Array): boolean;
  /** The body is complete. */
  end(): void;
}

/** Thrown for a malformed answer; the message says what was wrong. */
export class ParseError extends Error {}

type Framing = "none" | "length" | "chunked" | "close";

/** Status and headers of a response head (without its final blank line). */
function parseHead(text: string): { status: number; headers: Headers } {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]);
  if (!m) throw new ParseError(`invalid status line "${lines[0].slice(0, 80)}"`);
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      throw new ParseError(`invalid header line "${line.slice(0, 80)}"`);
    }
    try {
      headers.append(name, line.slice(colon + 1).trim());
    } catch {
      throw new ParseError(`invalid header "${name}"`);
    }
  }
  return { status: Number(m[1]), headers };
}

export class ResponseParser {
  readonly #method: string;
  readonly #on: ParserEvents;
  #phase: "head" | "body" | "done" = "head";
  #head: Buffer = Buffer.alloc(0);
  #framing: Framing = "none";
  /** Bytes left: of the body (length framing) or of the current chunk. */
  #left = 0;
  #chunk: "size" | "data" | "crlf" | "trailer" = "size";
  #line = "";

  constructor(method: string, on: ParserEvents) {
    this.#method = method.toUpperCase();
    this.#on = on;
  }

  /** "head" until the head is in, "body" while bytes are due, "done" after the end. */
  get phase(): "head" | "body" | "done" {
    return this.#phase;
  }

  /** Takes the next bytes read; false asks the reader to stop for now. */
  push(bytes: Uint8Array): boolean {
    if (this.#phase === "body") return this.#body(bytes);
    if (this.#phase === "done") return true;
    this.#head = Buffer.concat([this.#head, bytes]);
    const end = this.#head.indexOf(HEAD_END);
    if (end < 0) {
      if (this.#head.byteLength > MAX_HEAD) this.#tooLarge();
      return true;
    }
    if (end > MAX_HEAD) this.#tooLarge();
    const { status, headers } = parseHead(this.#head.toString("latin1", 0, end));
    const rest = this.#head.subarray(end + HEAD_END.byteLength);
    this.#head = Buffer.alloc(0);
    // Interim answers (100 Continue, 103 Early Hints) come before the real one.
    if (status >= 100 && status < 200 && status !== 101) return this.push(rest);
    this.#framing = this.#frame(status, headers);
    this.#phase = "body";
    this.#on.head(status, headers, this.#framing === "length" ? this.#left : undefined);
    if (this.#framing === "none" || (this.#framing === "length" && this.#left === 0)) {
      this.#finish();
      return true;
    }
    return rest.byteLength ? this.#body(rest) : true;
  }

  /** The connection ended; true when that completes a body framed by it. */
  eof(): boolean {
    if (this.#phase === "body" && this.#framing === "close") {
      this.#finish();
      return true;
    }
    return this.#phase === "done";
  }

  #tooLarge(): never {
    throw new ParseError(`the headers are larger than ${MAX_HEAD} bytes`);
  }

  #frame(status: number, headers: Headers): Framing {
    if (this.#method === "HEAD" || status === 204 || status === 304) return "none";
    const te = headers.get("transfer-encoding");
    if (te !== null) return /(^|,)\s*chunked\s*$/i.test(te) ? "chunked" : "close";
    const cl = headers.get("content-length");
    if (cl === null) return "close";
    const values = new Set(cl.split(",").map((v) => v.trim()));
    const [only] = values;
    if (values.size !== 1 || !/^\d{1,15}$/.test(only)) {
      throw new ParseError(`invalid Content-Length "${cl}"`);
    }
    this.#left = Number(only);
    return "length";
  }

  #finish(): void {
    this.#phase = "done";
    this.#on.end();
  }

  #body(bytes: Uint8Array): boolean {
    if (this.#framing === "close") return this.#on.body(bytes);
    if (this.#framing === "chunked") return this.#chunked(bytes);
    const n = Math.min(this.#left, bytes.byteLength);
    const more = this.#on.body(n === bytes.byteLength ? bytes : bytes.subarray(0, n));
    this.#left -= n;
    if (this.#left === 0) this.#finish();
    return more;
  }

  #chunked(bytes: Uint8Array): boolean {
    let more = true;
    for (let p = 0; p < bytes.byteLength && this.#phase === "body";) {
      if (this.#chunk === "data") {
        const n = Math.min(this.#left, bytes.byteLength - p);
        more = this.#on.body(bytes.subarray(p, p + n)) && more;
        p += n;
        this.#left -= n;
        if (this.#left === 0) this.#chunk = "crlf";
        continue;
      }
      const nl = bytes.indexOf(0x0a, p);
      const stop = nl < 0 ? bytes.byteLength : nl;
      this.#line += Buffer.from(bytes.buffer, bytes.byteOffset + p, stop - p).toString("latin1");
      if (this.#line.length > MAX_LINE) throw new ParseError("a chunk line is too long");
      if (nl < 0) break;
      p = nl + 1;
      const line = this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line;
      this.#line = "";
      this.#chunkLine(line);
    }
    return more;
  }

  /** One complete line of the chunked coding. */
  #chunkLine(line: string): void {
    if (this.#chunk === "crlf") {
      if (line !== "") throw new ParseError("no line break after a chunk");
      this.#chunk = "size";
    } else if (this.#chunk === "trailer") {
      if (line === "") this.#finish();
    } else {
      const size = line.split(";", 1)[0].trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) {
        throw new ParseError(`invalid chunk size "${size.slice(0, 20)}"`);
      }
      this.#left = Number.parseInt(size, 16);
      this.#chunk = this.#left === 0 ? "trailer" : "data";
    }
  }
}
