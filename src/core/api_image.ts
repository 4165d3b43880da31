/**
 * Store records as LXD's API objects (api.Image, api.ImageAliasesEntry), in LXD's field order.
 * One mapping for the CLI's json/yaml output and the server's responses.
 */
import type { AliasEntry, ImageAlias, ImageRecord, ImageType, UpdateSource } from "./model.ts";

/** LXD's api.Image: the record without imago's internal `files`. */
export interface ApiImage {
  auto_update: boolean;
  properties: Record<string, string>;
  public: boolean;
  expires_at: string;
  profiles: string[];
  aliases: ImageAlias[];
  architecture: string;
  cached: boolean;
  filename: string;
  fingerprint: string;
  size: number;
  update_source?: UpdateSource;
  type: ImageType;
  created_at: string;
  last_used_at: string;
  uploaded_at: string;
}

/** LXD's api.ImageAliasesEntry. */
export interface ApiAlias {
  description: string;
  target: string;
  name: string;
  type: ImageType;
}

/** Copies a string map with its keys sorted, as Go marshals maps. */
export function sortedMap(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

export function toApiImage(rec: ImageRecord): ApiImage {
  const img: ApiImage = {
    auto_update: rec.auto_update,
    properties: sortedMap(rec.properties),
    public: rec.public,
    expires_at: rec.expires_at,
    profiles: [...rec.profiles],
    aliases: rec.aliases.map((a) => ({ name: a.name, description: a.description })),
    architecture: rec.architecture,
    cached: rec.cached,
    filename: rec.filename,
    fingerprint: rec.fingerprint,
    size: rec.size,
    type: rec.type,
    created_at: rec.created_at,
    last_used_at: rec.last_used_at,
    uploaded_at: rec.uploaded_at,
  };
  if (!rec.update_source) return img;
  // update_source sits between size and type in LXD's struct; rebuild to keep that order.
  const { type, created_at, last_used_at, uploaded_at, ...head } = img;
  const u = rec.update_source;
  return {
    ...head,
    update_source: {
      alias: u.alias,
      certificate: u.certificate,
      protocol: u.protocol,
      server: u.server,
      image_type: u.image_type,
    },
    type,
    created_at,
    last_used_at,
    uploaded_at,
  };
}

export function toApiAlias(a: AliasEntry): ApiAlias {
  return { description: a.description, target: a.target, name: a.name, type: a.type };
}
