/** Small helpers for calling the serve app without a socket. */
import type { Hono } from "hono";
import type { ServeEnv } from "../../src/serve/app.ts";

export interface Answer {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

export async function call(
  app: Hono<ServeEnv>,
  path: string,
  init: RequestInit = {},
): Promise<Answer> {
  const res = await app.request(path, init);
  const body = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(body);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body, text, json };
}

/** sha256 hex of bytes. */
export async function sha256Hex(...parts: Uint8Array[]): Promise<string> {
  const { createHash } = await import("node:crypto");
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}
