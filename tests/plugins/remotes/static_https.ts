/**
 * A static file server on loopback HTTPS (tls_helpers.ts's startHttps) for simplestreams
 * tests: serves a folder, and can answer chosen paths with other bytes (tampering).
 */
import { readFile } from "node:fs/promises";
import { join, normalize } from "node:path";
import { startHttps } from "./tls_helpers.ts";

export interface StaticServer {
  /** Ends with "/". */
  url: string;
  /** PEM of the server certificate, to pin. */
  cert: string;
  /** Decoded paths of the requests so far, in order. */
  requests(): string[];
  /** Path (as requested, decoded) → bytes to send instead of the file. */
  overrides: Map<string, Uint8Array>;
  close(): Promise<void>;
}

const pathOf = (url: string) => decodeURIComponent(new URL(url, "https://x").pathname);

export async function serveDir(root: string): Promise<StaticServer> {
  const overrides = new Map<string, Uint8Array>();
  const server = await startHttps(async (req, res) => {
    const path = pathOf(req.url ?? "/");
    const local = normalize(join(root, path));
    let body = overrides.get(path);
    if (!body && local.startsWith(root)) body = await readFile(local).catch(() => undefined);
    if (!body) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": String(body.byteLength),
    });
    res.end(body);
  });
  return {
    url: `${server.url}/`,
    cert: server.cert,
    requests: () => server.requests.map((r) => pathOf(r.url)),
    overrides,
    close: () => server.close(),
  };
}
