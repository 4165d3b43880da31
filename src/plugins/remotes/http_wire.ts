/**
 * HTTP/1.1 on a raw TCP or TLS socket, for http.ts: one request per connection (Connection:
 * close), the answer parsed by http_parse.ts. On node the socket reads with `onread` into one
 * buffer per connection, and body bytes are copied from it straight into the body's chunks
 * (http_body.ts).
 * node's http client cost a fresh Buffer, a parser call and a stream push per 16 KiB TLS record:
 * downloads were CPU-bound near 200 MB/s with tens of MB of dead buffers afloat.
 */
import { Buffer } from "node:buffer";
import * as net from "node:net";
import * as tls from "node:tls";
import { RemoteError } from "../../core/errors.ts";
import { type BodyFeed, bodyFeed, truncated } from "./http_body.ts";
import { ParseError, ResponseParser } from "./http_parse.ts";

const READ_BUFFER = 64 << 10;
/**
 * Deno's node:tls keeps delivering to `onread` after it returned false, and a resume can stall
 * the connection: there the socket's "data" events (pause/resume) carry the bytes instead.
 */
const ONREAD = !("Deno" in globalThis);
const TOKEN = /^[!#$%&'*+.^`|~\w-]+$/;

export interface WireRequest {
  url: URL;
  host: string;
  port: number;
  method: string;
  /** Sent as given after Host; Connection: close is added. */
  headers: Record<string, string>;
  body?: Uint8Array;
  /** node:tls options for https; absent for plain http. */
  tls?: tls.ConnectionOptions;
  idleTimeoutMs: number;
}

export interface WireResponse {
  status: number;
  headers: Headers;
  /** The TLS peer certificate's sha256 as "AB:CD:…", read while the connection was up. */
  peerFingerprint256?: string;
  body: ReadableStream<Uint8Array>;
}

export interface Exchange {
  /** Settles once the response head is in (or the connection failed before it). */
  response: Promise<WireResponse>;
  /** Ends the exchange with `err`: the response rejects, or its body fails, with it. */
  destroy(err: Error): void;
}

/** The request head; header names and values must not smuggle in lines of their own. */
function requestHead(req: WireRequest): string {
  const lines = [`${req.method} ${req.url.pathname}${req.url.search} HTTP/1.1`];
  lines.push(`Host: ${req.url.host}`);
  for (const [k, v] of Object.entries(req.headers)) {
    if (!TOKEN.test(k) || /[\r\n\0]/.test(v)) {
      throw new RemoteError(`Cannot fetch "${req.url.href}": invalid request header "${k}"`);
    }
    lines.push(`${k}: ${v}`);
  }
  lines.push("Connection: close", "", "");
  return lines.join("\r\n");
}

/** The connection ended before the answer did; named as node's http client names it. */
function hangUp(): Error {
  return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
}

/** Sends `req` on a new connection and reads the answer; see the module comment. */
export function exchange(req: WireRequest): Exchange {
  const head = requestHead(req);
  let resolve!: (r: WireResponse) => void;
  let reject!: (err: Error) => void;
  const response = new Promise<WireResponse>((ok, no) => {
    resolve = ok;
    reject = no;
  });
  response.catch(() => {}); // the caller may stop waiting (a timeout) before it settles
  let over = false;
  let feed: BodyFeed | undefined;
  let expected: number | undefined;

  const onread = ONREAD
    ? {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (n: number, b: Uint8Array) => take(b.subarray(0, n)),
    }
    : undefined;
  const where = { host: req.host, port: req.port, onread };
  const socket = req.tls ? tls.connect({ ...req.tls, ...where }) : net.connect(where);
  socket.setNoDelay(true);
  if (!ONREAD) socket.on("data", (chunk: Buffer) => take(chunk) || socket.pause());

  /** Ends the exchange with `err`: before the head the response fails, after it the body. */
  const fail = (err: Error) => {
    if (over) return;
    over = true;
    socket.destroy();
    if (!feed) return reject(err);
    feed.fail(
      err instanceof RemoteError ? err : truncated(req.url.href, feed.received, expected, err),
    );
  };

  const parser = new ResponseParser(req.method, {
    head(status, headers, length) {
      expected = length;
      feed = bodyFeed({
        url: req.url.href,
        idleTimeoutMs: req.idleTimeoutMs,
        expected,
        resume: () => socket.resume(),
        release: () => {
          over = true;
          socket.destroy();
        },
      });
      // Read now: once the body is complete the connection is gone.
      const peer = req.tls ? (socket as tls.TLSSocket).getPeerCertificate?.() : undefined;
      resolve({ status, headers, peerFingerprint256: peer?.fingerprint256, body: feed.stream });
    },
    body: (bytes) => feed!.push(bytes),
    end() {
      over = true;
      feed!.end();
      socket.destroy();
    },
  });

  /** Feeds read bytes to the parser; false: stop reading for now. */
  function take(bytes: Uint8Array): boolean {
    if (over) return false;
    try {
      return parser.push(bytes) && !over;
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      fail(
        new RemoteError(`Cannot fetch "${req.url.href}": invalid HTTP answer: ${err.message}`),
      );
      return false;
    }
  }

  socket.on("error", fail);
  socket.on("end", () => {
    if (!parser.eof()) fail(hangUp());
  });
  socket.on("close", () => fail(hangUp()));
  socket.write(head);
  if (req.body?.byteLength) socket.write(req.body);
  return { response, destroy: fail };
}
