/**
 * The pull pipeline: a remote image's files into the store. Each file is checked against the
 * size and sha256 the remote gave, and the whole against the fingerprint, before anything
 * becomes visible; a failure at any point leaves the store as it was. When the two files of a
 * split image come from separate requests, both start at once: the rootfs request is under way
 * (its first bytes queued) while the small metadata streams into the store, and then flows
 * straight into the store too. (It used to go through a spool file for a fuller overlap, which
 * wrote the large file twice to win the time of the small one.)
 */
import { IntegrityError, RemoteError } from "./errors.ts";
import type { ImageAlias, UpdateSource } from "./model.ts";
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
 * Small chunks (a plugin's network reads, the tail of a part) are regrouped into ones of about
 * `size`, so the store's writes and hashing run per chunk of that size; a chunk already that
 * large passes as it is, after the small ones held before it. A plain pull loop rather than a
 * TransformStream: a pipe costs several promise hops per chunk. It reads its first chunk at
 * once, which starts a lazy download.
 */
export function verifying(
  file: RemoteFile,
  label: string,
  count: (n: number) => void,
  size = CHUNK,
): ReadableStream<Uint8Array> {
  const hash = file.sha256 ? sha256() : undefined;
  const reader = file.stream.getReader();
  let seen = 0;
  let parts: Uint8Array[] = [];
  let held = 0;
  const what = `${label} "${file.name}"`;
  const take = () => {
    const out = concat(parts);
    parts = [];
    held = 0;
    return out;
  };
  const complete = () => {
    if (file.size !== undefined && seen !== file.size) {
      throw new RemoteError(`${what}: got ${seen} of the announced ${file.size} bytes`);
    }
    if (hash && file.sha256) {
      const actual = hash.digest("hex");
      if (actual !== file.sha256.toLowerCase()) {
        throw new IntegrityError(what, file.sha256.toLowerCase(), actual);
      }
    }
  };
  const step = async (c: ReadableStreamDefaultController<Uint8Array>) => {
    for (;;) {
      const r = await reader.read();
      if (r.done) {
        complete();
        if (held > 0) c.enqueue(take());
        return c.close();
      }
      const chunk = r.value;
      seen += chunk.byteLength;
      if (file.size !== undefined && seen > file.size) {
        throw new RemoteError(`${what}: more bytes than the announced ${file.size}`);
      }
      hash?.update(chunk);
      count(chunk.byteLength);
      if (chunk.byteLength >= size) {
        if (held > 0) c.enqueue(take());
        return c.enqueue(chunk);
      }
      parts.push(chunk);
      held += chunk.byteLength;
      if (held >= size) return c.enqueue(take());
    }
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      try {
        await step(c);
      } catch (err) {
        await reader.cancel(err).catch(() => {});
        throw err;
      }
    },
    cancel: (reason) => reader.cancel(reason),
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
  const meta = verifying(files.metadata, `${label}: metadata`, count);
  const root = files.rootfs && verifying(files.rootfs, `${label}: rootfs`, count);
  try {
    // verifying() reads at once, so a separate rootfs request starts here, not after metadata.
    const result = await store.import(
      { stream: meta, name: files.metadata.name },
      root && { stream: root, name: files.rootfs!.name },
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
      root?.cancel(err).catch(() => {}),
    ]);
    throw err instanceof IntegrityError || !(err instanceof Error) || err.message.startsWith(label)
      ? err
      : prefix(err, label);
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
