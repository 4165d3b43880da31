/** Fingerprints of image files at rest: sha256 over the files' bytes, in order, streamed. */
import { fileStream, sha256 } from "./streams.ts";

/**
 * The LXD fingerprint of an image on disk: sha256 of the unified tarball, or of the metadata
 * tarball followed by the rootfs for a split image.
 */
export async function fingerprintFiles(...paths: string[]): Promise<string> {
  const h = sha256();
  for (const p of paths) for await (const chunk of fileStream(p)) h.update(chunk);
  return h.digest("hex");
}
