/**
 * Writing image files crash-safely: bytes go to a private staging folder under <store>/tmp,
 * are fsynced, and only then renamed into images/. A staging folder is named after the pid that
 * owns it, so leftovers of killed processes can be told apart from live imports and removed.
 */
import { type FileHandle, mkdir, open, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Hash } from "node:crypto";
import { pidAlive } from "./pids.ts";

/** Creates a fresh staging folder `<tmpDir>/import-<pid>-<random>`. */
export async function makeStaging(tmpDir: string): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  const dir = join(tmpDir, `import-${process.pid}-${randomBytes(6).toString("hex")}`);
  await mkdir(dir);
  return dir;
}

/** Names of staging folders (or stray files) whose owning process is gone. */
export async function staleStaging(tmpDir: string): Promise<string[]> {
  const names = await readdir(tmpDir).catch(() => [] as string[]);
  return names.filter((name) => {
    const m = /^import-(\d+)-/.exec(name);
    return !(m && pidAlive(Number(m[1])));
  });
}

/** Removes staging folders whose owning process is gone; returns their names. */
export async function sweepStaging(tmpDir: string): Promise<string[]> {
  const stale = await staleStaging(tmpDir);
  for (const name of stale) await rm(join(tmpDir, name), { recursive: true, force: true });
  return stale;
}

/**
 * A sink that writes to a new file, feeding every chunk to `hash` too, and fsyncs on close.
 * `size()` is the byte count written so far.
 */
export function fileSink(path: string, hash?: Hash): {
  sink: WritableStream<Uint8Array>;
  size(): number;
} {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  let written = 0;
  let unsynced = 0;
  let flushing: Promise<void> = Promise.resolve();
  const sink = new WritableStream<Uint8Array>({
    async start() {
      fh = await open(path, "wx", 0o644);
    },
    async write(chunk) {
      // The write runs on the thread pool while the hash is computed here.
      const writing = writeFully(fh!, chunk);
      hash?.update(chunk);
      await writing;
      written += chunk.byteLength;
      unsynced += chunk.byteLength;
      // Flush in the background as we go, so the final fsync has little left to do.
      if (unsynced >= SYNC_EVERY) {
        unsynced = 0;
        const file = fh!;
        flushing = flushing.then(() => file.datasync()).catch(() => {});
      }
    },
    async close() {
      await flushing;
      await fh!.sync();
      await fh!.close();
      fh = undefined;
    },
    async abort() {
      await flushing;
      await fh?.close();
      fh = undefined;
    },
  });
  return { sink, size: () => written };
}

/** Bytes written between background flushes of a staged file. */
const SYNC_EVERY = 64 << 20;

async function writeFully(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    off += bytesWritten;
  }
}

/** fsyncs a directory so that renames into it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
