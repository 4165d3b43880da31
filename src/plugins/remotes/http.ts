/**
 * The one HTTP(S) client of every remote plugin, HTTP/1.1 on node:net/node:tls sockets
 * (http_wire.ts, which reads bodies without per-record overhead): TLS as lxc sets it up
 * (tls_pin.ts), bounded waits (headers timeout, body idle timeout, AbortSignal), size-capped
 * JSON, redirects with a hop limit and never from https to http, and downloads that resume with
 * Range when the connection breaks mid-body (http_resume.ts). Errors are RemoteErrors naming the
 * URL and what went wrong.
 */
import process from "node:process";
import { ImagoError, RemoteError } from "../../core/errors.ts";
import { VERSION } from "../../version.ts";
import { readSmall, seconds, tooLarge } from "./http_body.ts";
import { resumingBody } from "./http_resume.ts";
import { type Exchange, exchange } from "./http_wire.ts";
import { bareFingerprint, insecureTls, pinMismatch, tlsSettings } from "./tls_pin.ts";

export { certificateFingerprint, grabCertificate } from "./tls_pin.ts";

export interface HttpClientOptions {
  /** Pinned server certificate (PEM): trusted exactly, instead of the system CAs. */
  certificate?: string;
  /** The pin applies to this origin only (e.g. "https://host:8443"); default: every origin. */
  pinnedOrigin?: string;
  clientCert?: string;
  clientKey?: string;
  /** Wait at most this long for response headers (default 30 s, like LXD). */
  headersTimeoutMs?: number;
  /** Fail a body when no byte arrives for this long while we wait (default 60 s). */
  idleTimeoutMs?: number;
  /** Redirect hops before "too many redirects" (default 10, like Go's client). */
  maxRedirects?: number;
  /** Environment read for LXD_INSECURE_TLS (default process.env). */
  env?: Record<string, string | undefined>;
  userAgent?: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** Ask for the bytes from `start` on (sends Range, and If-Range when given). */
  range?: { start: number; ifRange?: string };
  /** Default true. */
  followRedirects?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The URL that answered, after redirects. */
  url: URL;
  /** Empty for HEAD. Cancel it when the body is not wanted. */
  body: ReadableStream<Uint8Array>;
}

/** Default cap for JSON answers: simplestreams products files of real servers are ~30 MB. */
export const DEFAULT_JSON_LIMIT = 64 << 20;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

const CERT_ERRORS =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** A node network error as a short reason. */
function reason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (code === "ECONNRESET") return "connection reset";
  if (CERT_ERRORS.test(code)) return `the server certificate is not trusted: ${err.message}`;
  if (/protocol.version|PROTOCOL_VERSION|alert number 70/i.test(`${code} ${err.message}`)) {
    return `TLS handshake failed: ${err.message}: the server does not offer TLS 1.3 ` +
      `(set LXD_INSECURE_TLS=1 to allow TLS 1.2)`;
  }
  return err.message;
}

export class HttpClient {
  readonly #opts: HttpClientOptions;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;

  constructor(opts: HttpClientOptions = {}) {
    this.#opts = opts;
    this.headersTimeoutMs = opts.headersTimeoutMs ?? 30_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  }

  /** One request, following redirects; any status is returned (check `status`). */
  async request(url: string | URL, opts: RequestOptions = {}): Promise<HttpResponse> {
    let current = new URL(url);
    let method = (opts.method ?? "GET").toUpperCase();
    let body = opts.body;
    const max = this.#opts.maxRedirects ?? 10;
    for (let hop = 0;; hop++) {
      const res = await this.#once(current, method, body, opts);
      const location = res.headers.get("location");
      if (opts.followRedirects === false || !REDIRECTS.has(res.status) || !location) return res;
      await res.body.cancel().catch(() => {});
      if (hop >= max) {
        throw new RemoteError(`Cannot fetch "${url}": too many redirects (more than ${max})`);
      }
      const next = new URL(location, current);
      if (current.protocol === "https:" && next.protocol !== "https:") {
        throw new RemoteError(
          `Cannot fetch "${url}": refusing to follow a redirect from https to "${next.href}"`,
        );
      }
      if (next.protocol !== "https:" && next.protocol !== "http:") {
        throw new RemoteError(`Cannot fetch "${url}": redirect to unsupported "${next.href}"`);
      }
      if (res.status === 303 && method !== "HEAD") {
        method = "GET";
        body = undefined;
      }
      current = next;
    }
  }

  /** GET (with an optional Range); any status is returned. */
  getStream(
    url: string | URL,
    opts: Omit<RequestOptions, "method" | "body"> = {},
  ): Promise<HttpResponse> {
    return this.request(url, { ...opts, method: "GET" });
  }

  /** HEAD; the body is empty. */
  head(url: string | URL, opts: Omit<RequestOptions, "method" | "body"> = {}) {
    return this.request(url, { ...opts, method: "HEAD" });
  }

  /** Any request whose answer is JSON of at most `maxBytes`; any status is returned. */
  async requestJson(
    url: string | URL,
    opts: RequestOptions & { maxBytes?: number } = {},
  ): Promise<{ status: number; headers: Headers; url: URL; json: unknown }> {
    const res = await this.request(url, opts);
    const max = opts.maxBytes ?? DEFAULT_JSON_LIMIT;
    const length = Number(res.headers.get("content-length") ?? NaN);
    if (length > max) {
      await res.body.cancel().catch(() => {});
      throw tooLarge(res.url.href, max);
    }
    const bytes = await readSmall(res.body, max, res.url.href);
    const text = new TextDecoder().decode(bytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      if (res.status < 200 || res.status > 299) {
        throw new RemoteError(`Failed to fetch "${res.url.href}": ${res.status}`);
      }
      throw new RemoteError(
        `Cannot read "${res.url.href}": the answer is not JSON: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return { status: res.status, headers: res.headers, url: res.url, json };
  }

  /** GET JSON that must come with a 2xx status. */
  async getJson<T = unknown>(
    url: string | URL,
    opts: { signal?: AbortSignal; maxBytes?: number; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const res = await this.request(url, { ...opts, method: "GET" });
    if (res.status < 200 || res.status > 299) {
      await res.body.cancel().catch(() => {});
      throw new RemoteError(`Failed to fetch "${res.url.href}": ${res.status}`);
    }
    const max = opts.maxBytes ?? DEFAULT_JSON_LIMIT;
    const bytes = await readSmall(res.body, max, res.url.href);
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as T;
    } catch (err) {
      throw new RemoteError(
        `Cannot read "${res.url.href}": the answer is not JSON: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /**
   * GET a file that must answer 200; its body resumes with Range (up to `maxResumes` times)
   * when the connection breaks and the server supports ranges.
   */
  async download(
    url: string | URL,
    opts: {
      signal?: AbortSignal;
      headers?: Record<string, string>;
      maxResumes?: number;
      onResume?: (offset: number) => void;
    } = {},
  ): Promise<HttpResponse> {
    const res = await this.request(url, { ...opts, method: "GET" });
    if (res.status !== 200) {
      await res.body.cancel().catch(() => {});
      throw new RemoteError(`Failed to fetch "${res.url.href}": ${res.status}`);
    }
    return { ...res, body: resumingBody(this, res, opts) };
  }

  #once(
    url: URL,
    method: string,
    body: string | Uint8Array | undefined,
    opts: RequestOptions,
  ): Promise<HttpResponse> {
    const o = this.#opts;
    const https = url.protocol === "https:";
    if (!https && url.protocol !== "http:") {
      return Promise.reject(new RemoteError(`Cannot fetch "${url.href}": not an http(s) URL`));
    }
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const pinned = o.certificate && (!o.pinnedOrigin || o.pinnedOrigin === url.origin);
    const tls = https
      ? tlsSettings({
        host,
        certificate: pinned ? o.certificate : undefined,
        clientCert: o.clientCert,
        clientKey: o.clientKey,
        insecure: insecureTls(o.env ?? process.env),
      })
      : undefined;
    const headers: Record<string, string> = {
      "User-Agent": o.userAgent ?? `imago/${VERSION}`,
      ...opts.headers,
    };
    if (opts.range) {
      headers.Range = `bytes=${opts.range.start}-`;
      if (opts.range.ifRange) headers["If-Range"] = opts.range.ifRange;
    }
    const payload = typeof body === "string" ? new TextEncoder().encode(body) : body;
    if (payload !== undefined) headers["Content-Length"] = String(payload.byteLength);
    const what = `Cannot fetch "${url.href}"`;
    const { pin, ...tlsOpts } = tls ?? {};
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let wire: Exchange | undefined;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        wire?.destroy(err);
        reject(
          err instanceof ImagoError
            ? err
            : new RemoteError(`${what}: ${reason(err)}`, { cause: err }),
        );
      };
      const onAbort = () => fail(abortError(opts.signal!, url.href));
      const timer = setTimeout(() => {
        fail(
          new RemoteError(
            `${what}: no answer within ${seconds(this.headersTimeoutMs)}`,
            { timeout: true },
          ),
        );
      }, this.headersTimeoutMs);
      if (opts.signal?.aborted) return onAbort();
      try {
        wire = exchange({
          url,
          host,
          port: Number(url.port || (https ? 443 : 80)),
          method,
          headers,
          body: payload,
          tls: https ? tlsOpts : undefined,
          idleTimeoutMs: this.idleTimeoutMs,
        });
      } catch (err) {
        return fail(err as Error);
      }
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const ex = wire;
      ex.response.then((res) => {
        if (settled) return void ex.destroy(new RemoteError(`${what}: cancelled`));
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        // Deno does not call checkServerIdentity: compare the pin on the live socket too.
        const got = pin && bareFingerprint(res.peerFingerprint256 ?? "");
        if (pin && got !== pin) {
          const err = pinMismatch(pin, got || "(none)");
          ex.destroy(err);
          return reject(new RemoteError(`${what}: ${err.message}`));
        }
        if (opts.signal) {
          const signal = opts.signal;
          signal.addEventListener("abort", () => ex.destroy(abortError(signal, url.href)), {
            once: true,
          });
        }
        resolve({ status: res.status, headers: res.headers, url, body: res.body });
      }, fail);
    });
  }
}

function abortError(signal: AbortSignal, url: string): Error {
  const r = signal.reason;
  if (r instanceof ImagoError) return r;
  const timeout = r instanceof DOMException && r.name === "TimeoutError";
  return new RemoteError(
    `Cannot fetch "${url}": ${timeout ? "timed out" : "cancelled"}`,
    { cause: r, timeout },
  );
}

/** A client for one remote; options as HttpClientOptions. */
export function createHttpClient(opts: HttpClientOptions = {}): HttpClient {
  return new HttpClient(opts);
}
