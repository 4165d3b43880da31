/** Fingerprints of image files at rest: sha256 over the files' bytes, in order. */
import { open } from "node:fs/promises";
import { sha256 } from "./streams.ts";

/** One buffer reused for every read: hashing copies, so nothing keeps a chunk alive. */
const READ_SIZE = 1 << 20;

/**
 * The LXD fingerprint of an image on disk: sha256 of the unified tarball, or of the metadata
 * tarball followed by the rootfs for a split image.
 */
export async function fingerprintFiles(...paths: string[]): Promise<string> {
  const h = sha256();
  const buf = new Uint8Array(READ_SIZE);
  for (const p of paths) {
    const fh = await open(p, "r");
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, READ_SIZE, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }
  return h.digest("hex");
}
