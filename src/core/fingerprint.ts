/** Fingerprints of image files at rest: sha256 over the files' bytes, in order. */
import { open } from "node:fs/promises";
import { sha256 } from "./streams.ts";

/** Two buffers reused for every read: hashing copies, so nothing keeps a chunk alive. */
const READ_SIZE = 1 << 20;

/**
 * The LXD fingerprint of an image on disk: sha256 of the unified tarball, or of the metadata
 * tarball followed by the rootfs for a split image.
 */
export async function fingerprintFiles(...paths: string[]): Promise<string> {
  const h = sha256();
  let buf = new Uint8Array(READ_SIZE);
  let spare = new Uint8Array(READ_SIZE);
  for (const p of paths) {
    const fh = await open(p, "r");
    let reading: Promise<{ bytesRead: number }> | undefined;
    try {
      reading = fh.read(buf, 0, READ_SIZE, null);
      for (;;) {
        const { bytesRead } = await reading;
        reading = undefined;
        if (bytesRead === 0) break;
        // The next read (on the thread pool) runs while this buffer is hashed here.
        reading = fh.read(spare, 0, READ_SIZE, null);
        h.update(buf.subarray(0, bytesRead));
        [buf, spare] = [spare, buf];
      }
    } finally {
      await reading?.catch(() => {});
      await fh.close();
    }
  }
  return h.digest("hex");
}
