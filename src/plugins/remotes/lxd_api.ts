/**
 * LXD's REST envelopes (sync, async with an operation, error) and image objects, read
 * tolerantly: unknown fields are ignored, missing optional ones get LXD's defaults.
 */
import { NotFoundError, RemoteError } from "../../core/errors.ts";
import { EPOCH, type ImageType } from "../../core/model.ts";
import type { RemoteImage } from "../types.ts";

export interface Envelope {
  type: "sync" | "async" | "error";
  status_code?: number;
  error_code?: number;
  error?: string;
  operation?: string;
  metadata: unknown;
}

export interface ServerInfo {
  api_extensions: string[];
  api_status?: string;
  api_version?: string;
  auth: string;
  public: boolean;
  auth_methods?: string[];
  environment?: { certificate?: string; server_version?: string; architectures?: string[] };
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown, dflt = "") => typeof v === "string" ? v : dflt;

/**
 * The metadata of an LXD answer. An error envelope throws: 404 as NotFoundError, anything else
 * as RemoteError, with the server's text; a non-envelope throws as lxc says it.
 */
export function unwrap(json: unknown, status: number, url: string): unknown {
  if (!isObject(json) || typeof json.type !== "string") {
    throw new RemoteError(`Failed to fetch "${url}": ${status} (not an LXD answer)`);
  }
  const env = json as unknown as Envelope;
  if (env.type === "error") {
    const code = Number(env.error_code ?? status);
    const text = str(env.error) || `error ${code}`;
    if (code === 404) throw new NotFoundError(`${text} (${url})`);
    throw new RemoteError(`The server refused "${url}": ${text}`);
  }
  if (status < 200 || status > 299) {
    throw new RemoteError(`Failed to fetch "${url}": ${status}`);
  }
  return env.metadata;
}

/** GET /1.0's metadata, with defaults for what an old or odd server leaves out. */
export function toServerInfo(meta: unknown, url: string): ServerInfo {
  if (!isObject(meta)) throw new RemoteError(`Cannot read "${url}": no server information`);
  return {
    api_extensions: Array.isArray(meta.api_extensions)
      ? meta.api_extensions.filter((e): e is string => typeof e === "string")
      : [],
    api_status: str(meta.api_status) || undefined,
    api_version: str(meta.api_version) || undefined,
    auth: str(meta.auth, "untrusted"),
    public: meta.public === true,
    auth_methods: Array.isArray(meta.auth_methods) ? meta.auth_methods as string[] : undefined,
    environment: isObject(meta.environment) ? meta.environment as ServerInfo["environment"] : {},
  };
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "string") out[k] = x;
    }
  }
  return out;
}

export function imageType(v: unknown): ImageType {
  return v === "virtual-machine" ? "virtual-machine" : "container";
}

/** An api.Image as a RemoteImage; undefined when it lacks a valid fingerprint. */
export function toRemoteImage(raw: unknown): RemoteImage | undefined {
  if (!isObject(raw)) return undefined;
  const fingerprint = str(raw.fingerprint).toLowerCase();
  if (!FINGERPRINT.test(fingerprint)) return undefined;
  const aliases = Array.isArray(raw.aliases)
    ? raw.aliases.filter(isObject).map((a) => ({
      name: str(a.name),
      description: str(a.description),
    })).filter((a) => a.name)
    : [];
  return {
    fingerprint,
    type: imageType(raw.type),
    architecture: str(raw.architecture),
    size: typeof raw.size === "number" ? raw.size : 0,
    filename: str(raw.filename),
    public: raw.public === true,
    properties: stringMap(raw.properties),
    aliases,
    created_at: str(raw.created_at, EPOCH),
    uploaded_at: str(raw.uploaded_at, EPOCH),
    expires_at: str(raw.expires_at, EPOCH),
  };
}

/** An alias entry: its target fingerprint and type ("" reads as container). */
export function toAlias(raw: unknown, url: string): { target: string; type: ImageType } {
  if (!isObject(raw) || typeof raw.target !== "string" || !raw.target) {
    throw new RemoteError(`Cannot read "${url}": the alias has no target`);
  }
  return { target: raw.target.toLowerCase(), type: imageType(raw.type) };
}

/** Go's url.PathEscape, which lxc applies to alias names (so "/" becomes %2F). */
export function pathEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
    .replace(/%(24|26|2B|3A|3D|40)/gi, (m) => decodeURIComponent(m));
}
