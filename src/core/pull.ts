/**
 * The pull pipeline: a remote image's files into the store. The rootfs of a split image
 * downloads into a spool file while the metadata streams into the import (so both transfer in
 * parallel with flat memory); each file is checked against the size and sha256 the remote
 * gave, and the whole against the fingerprint, before anything becomes visible. A failure at any
 * point leaves the store as it was.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { IntegrityError, RemoteError } from "./errors.ts";
import type { ImageAlias, UpdateSource } from "./model.ts";
import { type Spool, spool } from "./spool.ts";
import type { ImportResult, Store } from "./store.ts";
import { CHUNK, concat, sha256 } from "./streams.ts";
import type { Remote, RemoteFile, RemoteImage } from "../plugins/types.ts";

export interface PullOptions {
  aliases?: ImageAlias[];
  public?: boolean;
  auto_update?: boolean;
  cached?: boolean;
  update_source?: UpdateSource;
  signal?: AbortSignal;
  /** Bytes downloaded so far (both files together) and the expected total. */
  onProgress?: (bytes: number, total: number) => void;
}

export interface PullResult extends ImportResult {
  /** false when the store already had the image and nothing was downloaded. */
  downloaded: boolean;
}

/**
 * Passes `file` through, counting bytes into `count`; fails when it grows past the announced
 * size, ends short of it, or does not hash to the announced sha256. `label` leads messages.
 */
export function verifying(
  file: RemoteFile,
  label: string,
  count: (n: number) => void,
): ReadableStream<Uint8Array> {
  const hash = file.sha256 ? sha256() : undefined;
  let seen = 0;
  const what = `${label} "${file.name}"`;
  return file.stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        seen += chunk.byteLength;
        if (file.size !== undefined && seen > file.size) {
          throw new RemoteError(`${what}: more bytes than the announced ${file.size}`);
        }
        hash?.update(chunk);
        count(chunk.byteLength);
        c.enqueue(chunk);
      },
      flush() {
        if (file.size !== undefined && seen !== file.size) {
          throw new RemoteError(`${what}: got ${seen} of the announced ${file.size} bytes`);
        }
        if (hash && file.sha256) {
          const actual = hash.digest("hex");
          if (actual !== file.sha256.toLowerCase()) {
            throw new IntegrityError(what, file.sha256.toLowerCase(), actual);
          }
        }
      },
    }),
  );
}

/**
 * Regroups small network chunks (TLS records are ~16 KiB) into ~1 MiB ones, so the store's
 * writes, hashing and scanning run per megabyte, not per record.
 */
export function coalesce(size = CHUNK): TransformStream<Uint8Array, Uint8Array> {
  let parts: Uint8Array[] = [];
  let held = 0;
  const emit = (c: TransformStreamDefaultController<Uint8Array>) => {
    c.enqueue(concat(parts));
    parts = [];
    held = 0;
  };
  return new TransformStream({
    transform(chunk, c) {
      if (held === 0 && chunk.byteLength >= size) return c.enqueue(chunk);
      parts.push(chunk);
      held += chunk.byteLength;
      if (held >= size) emit(c);
    },
    flush(c) {
      if (held > 0) emit(c);
    },
  });
}

/** Downloads `image` from `remote` into `store` (or finds it there already). */
export async function pullImage(
  store: Store,
  remote: Remote,
  image: RemoteImage,
  opts: PullOptions = {},
): Promise<PullResult> {
  const had = store.get(image.fingerprint);
  if (had) return { image: had, created: false, downloaded: false };
  const label = `Cannot pull image "${image.fingerprint.slice(0, 12)}"`;
  let done = 0;
  const count = (n: number) => {
    done += n;
    opts.onProgress?.(done, image.size);
  };
  const files = await remote.fetch(image, opts.signal);
  const meta = verifying(files.metadata, `${label}: metadata`, count).pipeThrough(coalesce());
  const root = files.rootfs &&
    verifying(files.rootfs, `${label}: rootfs`, count).pipeThrough(coalesce());
  let spooled: Spool | undefined;
  try {
    let rootStream = root;
    if (root && !files.sequential) {
      const path = join(
        store.tmpDir,
        `import-${process.pid}-${randomBytes(6).toString("hex")}.pull`,
      );
      spooled = spool(root, path);
      rootStream = spooled.reader();
    }
    const result = await store.import(
      { stream: meta, name: files.metadata.name },
      rootStream && { stream: rootStream, name: files.rootfs!.name },
      {
        expectedFingerprint: image.fingerprint,
        aliases: opts.aliases,
        public: opts.public ?? false,
        cached: opts.cached ?? false,
        auto_update: opts.auto_update ?? false,
        update_source: opts.update_source,
        properties: image.properties,
        filename: image.filename || undefined,
      },
    );
    // The remote's properties are the image's, as LXD records them on a pull: exactly. A
    // remote that knows none (a static URL) leaves metadata.yaml's.
    const rec = result.image;
    const known = Object.keys(image.properties).length > 0;
    if (result.created && known && !sameMap(rec.properties, image.properties)) {
      result.image = store.update(rec.fingerprint, { ...rec, properties: { ...image.properties } });
    }
    return { ...result, downloaded: true };
  } catch (err) {
    await Promise.allSettled([
      meta.cancel(err).catch(() => {}),
      spooled ? spooled.dispose(err) : root?.cancel(err),
    ]);
    throw err instanceof IntegrityError || !(err instanceof Error) || err.message.startsWith(label)
      ? err
      : prefix(err, label);
  } finally {
    await spooled?.dispose();
  }
}

function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function prefix(err: Error, label: string): Error {
  err.message = `${label}: ${err.message}`;
  return err;
}
