/** Image records as the store keeps them; field names follow LXD's api.Image JSON. */

export type ImageType = "container" | "virtual-machine";

/** What the rootfs half of a split image is, from its magic bytes. */
export type RootfsKind = "tar" | "squashfs" | "qcow2";

export interface ImageAlias {
  name: string;
  description: string;
}

/** An alias with its target, as `alias list` and the aliases API show it. */
export interface AliasEntry extends ImageAlias {
  target: string;
  type: ImageType;
}

/** Where an image was pulled from, so auto-update can refresh it. */
export interface UpdateSource {
  alias: string;
  certificate: string;
  protocol: string;
  server: string;
  image_type: string;
}

/** The on-disk shape of an image: needed to export it under LXD's file names. */
export interface ImageFiles {
  /** Extension of the unified file or the metadata tarball, e.g. ".tar.xz". */
  metadata_ext: string;
  metadata_size: number;
  /** Present for split images only. */
  rootfs?: { kind: RootfsKind; ext: string; size: number };
}

export interface ImageRecord {
  fingerprint: string;
  filename: string;
  type: ImageType;
  architecture: string;
  /** metadata + rootfs bytes. */
  size: number;
  public: boolean;
  auto_update: boolean;
  cached: boolean;
  properties: Record<string, string>;
  aliases: ImageAlias[];
  profiles: string[];
  /** RFC 3339 UTC; "1970-01-01T00:00:00Z" means never (expiry) or unknown. */
  created_at: string;
  uploaded_at: string;
  expires_at: string;
  /** "0001-01-01T00:00:00Z" until first use, as LXD shows it. */
  last_used_at: string;
  update_source?: UpdateSource;
  files: ImageFiles;
}

/** The writable subset, as `imago edit` and PUT /1.0/images/<fp> take it. */
export interface ImagePut {
  auto_update: boolean;
  properties: Record<string, string>;
  public: boolean;
  expires_at: string;
  profiles: string[];
}

export const EPOCH = "1970-01-01T00:00:00Z";
export const NEVER_USED = "0001-01-01T00:00:00Z";

/** Unix seconds to LXD's RFC 3339 form; 0 becomes the epoch string. */
export function unixToRfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}
