/** The pull pipeline with an in-memory remote: verification, parallel files, nothing on failure. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { IntegrityError } from "../../src/core/errors.ts";
import { pullImage } from "../../src/core/pull.ts";
import { Store } from "../../src/core/store.ts";
import type { Remote, RemoteImage, RemoteImageFiles } from "../../src/plugins/types.ts";
import { makeSplit, makeUnified, tempDir } from "../helpers.ts";

const tmp = tempDir("imago-pull-");
let meta: Uint8Array;
let root: Uint8Array;
let unified: Uint8Array;
const sha = (...b: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const x of b) h.update(x);
  return h.digest("hex");
};

before(() => {
  const s = makeSplit(tmp.path, "p", { compression: "gz" });
  meta = new Uint8Array(readFileSync(s.metadata));
  root = new Uint8Array(readFileSync(s.rootfs));
  unified = new Uint8Array(readFileSync(makeUnified(tmp.path, "u", { compression: "gz" })));
});
after(() => tmp.cleanup());

function streamOf(bytes: Uint8Array, onPull?: () => Promise<void> | void) {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      await onPull?.();
      if (sent) return c.close();
      sent = true;
      c.enqueue(bytes);
    },
  });
}

function image(fingerprint: string, over: Partial<RemoteImage> = {}): RemoteImage {
  return {
    fingerprint,
    type: "container",
    architecture: "x86_64",
    size: 0,
    filename: "remote.tar.gz",
    public: true,
    properties: { description: "From the remote", os: "remoteos" },
    aliases: [],
    created_at: "2023-11-14T22:13:20Z",
    uploaded_at: "2023-11-14T22:13:20Z",
    expires_at: "1970-01-01T00:00:00Z",
    ...over,
  };
}

/** A remote whose fetch() returns what `files()` makes; counts the fetches. */
function fakeRemote(files: () => RemoteImageFiles) {
  const remote = {
    fetches: 0,
    async *list(): AsyncIterable<RemoteImage> {},
    resolve: () => Promise.reject(new Error("unused")),
    fetch: () => {
      remote.fetches++;
      return Promise.resolve(files());
    },
  };
  return remote as Remote & { fetches: number };
}

async function withStore<T>(name: string, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await Store.open(`${tmp.path}/${name}`);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

test("pullImage() stores a split image with the remote's properties and state", async () => {
  const fp = sha(meta, root);
  const remote = fakeRemote(() => ({
    metadata: {
      stream: streamOf(meta),
      name: "meta.tar.gz",
      sha256: sha(meta),
      size: meta.byteLength,
    },
    rootfs: {
      stream: streamOf(root),
      name: "root.tar.gz",
      sha256: sha(root),
      size: root.byteLength,
    },
  }));
  await withStore("ok", async (store) => {
    const seen: number[] = [];
    const r = await pullImage(store, remote, image(fp), {
      auto_update: true,
      onProgress: (n) => seen.push(n),
    });
    assert.equal(r.downloaded, true);
    assert.equal(r.image.fingerprint, fp);
    assert.deepEqual(r.image.properties, { description: "From the remote", os: "remoteos" });
    assert.equal(r.image.auto_update, true);
    assert.equal(r.image.filename, "remote.tar.gz");
    assert.equal(seen.at(-1), meta.byteLength + root.byteLength);
    // Already there: nothing is fetched again.
    const again = await pullImage(store, remote, image(fp));
    assert.equal(again.downloaded, false);
    assert.equal(remote.fetches, 1);
  });
});

test("pullImage() downloads the rootfs while the metadata is still streaming", async () => {
  let rootStarted!: () => void;
  let notStarted!: (e: Error) => void;
  const started = new Promise<void>((resolve, reject) => {
    rootStarted = resolve;
    notStarted = reject;
  });
  // Serial reading would wait forever; fail instead after a generous bound.
  const guard = setTimeout(
    () => notStarted(new Error("the rootfs was not read in parallel")),
    10_000,
  );
  started.finally(() => clearTimeout(guard)).catch(() => {});
  const remote = fakeRemote(() => ({
    // The metadata's end waits for the rootfs to have been asked for: serial reading would hang.
    metadata: { stream: streamOf(meta, async () => await started), name: "meta.tar.gz" },
    rootfs: { stream: streamOf(root, () => rootStarted()), name: "root.tar.gz" },
  }));
  await withStore("parallel", async (store) => {
    const r = await pullImage(store, remote, image(sha(meta, root)));
    assert.equal(r.image.fingerprint, sha(meta, root));
  });
});

test("pullImage() refuses a file with the wrong sha256, names it, and stores nothing", async () => {
  const bad = root.slice();
  bad[bad.length - 1] ^= 1;
  const remote = fakeRemote(() => ({
    metadata: { stream: streamOf(meta), name: "meta.tar.gz", sha256: sha(meta) },
    rootfs: { stream: streamOf(bad), name: "root.tar.gz", sha256: sha(root) },
  }));
  await withStore("badfile", async (store) => {
    await assert.rejects(pullImage(store, remote, image(sha(meta, root))), (err: Error) => {
      assert.ok(err instanceof IntegrityError);
      assert.match(err.message, /rootfs "root\.tar\.gz": sha256 mismatch: expected [0-9a-f]{64}/);
      return true;
    });
    assert.deepEqual(store.list(), []);
    assert.deepEqual(readdirSync(store.imagesDir), []);
    assert.deepEqual(readdirSync(store.tmpDir), []);
  });
});

test("pullImage() refuses bytes that do not hash to the fingerprint, and short files", async () => {
  const remote = fakeRemote(() => ({ metadata: { stream: streamOf(unified), name: "u.tar.gz" } }));
  await withStore("badfp", async (store) => {
    await assert.rejects(pullImage(store, remote, image("a".repeat(64))), IntegrityError);
    assert.deepEqual(store.list(), []);
  });
  const short = fakeRemote(() => ({
    metadata: { stream: streamOf(unified), name: "u.tar.gz", size: unified.byteLength + 10 },
  }));
  await withStore("short", async (store) => {
    await assert.rejects(
      pullImage(store, short, image(sha(unified))),
      /metadata "u\.tar\.gz": got \d+ of the announced \d+ bytes/,
    );
    assert.deepEqual(store.list(), []);
  });
});
