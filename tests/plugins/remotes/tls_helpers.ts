/**
 * Loopback HTTPS servers for remote tests: a fresh self-signed certificate per server (made
 * with the serve code's generator), a node request handler, and a log of the requests seen.
 */
import { createServer, type ServerOptions } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { makeSelfSigned } from "../../../src/serve/tls.ts";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  /** sha256 fingerprint of the client certificate, when one was sent. */
  clientCert?: string;
}

export interface TestServer {
  url: string;
  port: number;
  cert: string;
  key: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Starts an HTTPS server on 127.0.0.1 with a certificate for `names`. */
export async function startHttps(
  handler: Handler,
  opts: { names?: string[]; tls?: ServerOptions } = {},
): Promise<TestServer> {
  const { cert, key } = makeSelfSigned(opts.names ?? ["localhost", "127.0.0.1"]);
  const requests: SeenRequest[] = [];
  const server = createServer(
    { cert, key, requestCert: true, rejectUnauthorized: false, ...opts.tls },
    (req, res) => {
      // deno-lint-ignore no-explicit-any
      const peer = (req.socket as any).getPeerCertificate?.();
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        clientCert: peer?.fingerprint256
          ? String(peer.fingerprint256).replaceAll(":", "").toLowerCase()
          : undefined,
      });
      Promise.resolve(handler(req, res)).catch((err) => {
        res.destroy(err);
      });
    },
  );
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    cert,
    key,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Seeded pseudo-random bytes (a simple xorshift), the same for the same seed. */
export function seeded(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads a web stream to the end. */
export async function readAllBytes(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
