/** Auto-update: refreshImage(s) and the startAutoUpdate timer, with an in-memory remote. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { refreshImages, startAutoUpdate } from "../../src/core/refresh.ts";
import { pruneCached } from "../../src/core/cache_gc.ts";
import { pullImage } from "../../src/core/pull.ts";
import { Store } from "../../src/core/store.ts";
import { builtinRemotes } from "../../src/plugins/builtin.ts";
import type { Remote, RemoteImage } from "../../src/plugins/types.ts";
import { makeUnified, tempDir } from "../helpers.ts";

const tmp = tempDir("imago-refresh-");
const files = new Map<string, Uint8Array>();
let fpA = "";
let fpB = "";
/** What the remote's alias "latest" names right now. */
let latest = "";

before(() => {
  for (const name of ["a", "b"]) {
    const bytes = new Uint8Array(readFileSync(makeUnified(tmp.path, name, { compression: "gz" })));
    const fp = createHash("sha256").update(bytes).digest("hex");
    files.set(fp, bytes);
    if (name === "a") fpA = fp;
    else fpB = fp;
  }
  latest = fpA;
});
after(() => tmp.cleanup());

const info = (fp: string): RemoteImage => ({
  fingerprint: fp,
  type: "container",
  architecture: "x86_64",
  size: files.get(fp)!.byteLength,
  filename: `${fp}.tar.gz`,
  public: true,
  properties: { description: `Image ${fp.slice(0, 6)}` },
  aliases: [{ name: "latest", description: "" }],
  created_at: "2023-11-14T22:13:20Z",
  uploaded_at: "2023-11-14T22:13:20Z",
  expires_at: "1970-01-01T00:00:00Z",
});

const remote: Remote = {
  async *list() {
    yield info(latest);
  },
  resolve: (ref) =>
    ref === "latest" ? Promise.resolve(info(latest)) : Promise.reject(new Error("unknown")),
  fetch: (img) =>
    Promise.resolve({
      metadata: {
        stream: new ReadableStream({
          start(c) {
            c.enqueue(files.get(img.fingerprint)!);
            c.close();
          },
        }),
        name: img.filename,
      },
    }),
};
const source = {
  alias: "latest",
  certificate: "",
  protocol: "fake",
  server: "https://x",
  image_type: "container",
};

async function seeded(name: string): Promise<Store> {
  const store = await Store.open(`${tmp.path}/${name}`);
  latest = fpA;
  await pullImage(store, remote, info(fpA), {
    auto_update: true,
    cached: true,
    update_source: source,
  });
  store.setAlias("mine", fpA, "my alias");
  return store;
}

test("refreshImages() moves aliases and state to the new image and deletes the old one", async () => {
  const store = await seeded("one");
  try {
    assert.deepEqual(
      (await refreshImages(store, () => Promise.resolve(remote))).map((r) => r.status),
      [
        "current",
      ],
    );
    latest = fpB;
    const [r] = await refreshImages(store, () => Promise.resolve(remote));
    assert.equal(r.status, "updated");
    assert.equal(r.newFingerprint, fpB);
    assert.equal(store.get(fpA), undefined);
    const fresh = store.get(fpB)!;
    assert.deepEqual(fresh.aliases, [{ name: "mine", description: "my alias" }]);
    assert.equal(fresh.auto_update, true);
    assert.equal(fresh.cached, true);
    assert.deepEqual(fresh.update_source, source);
  } finally {
    store.close();
  }
});

test("refreshImages() reports a failing source per image instead of throwing", async () => {
  const store = await seeded("fail");
  try {
    const [r] = await refreshImages(store, () => Promise.reject(new Error("server gone")));
    assert.equal(r.status, "failed");
    assert.match(r.error!.message, /server gone/);
    assert.ok(store.get(fpA), "the image stays when its source cannot be reached");
  } finally {
    store.close();
  }
});

test("startAutoUpdate() refreshes on its period, and not at all when the interval is 0", async () => {
  const store = await seeded("timer");
  try {
    store.setConfig("images.auto_update_interval", "0");
    let calls = 0;
    const counting = () => {
      calls++;
      return Promise.resolve(remote);
    };
    const off = startAutoUpdate(store, {
      remotes: builtinRemotes(),
      connect: counting,
      checkEveryMs: 5,
    });
    await new Promise((r) => setTimeout(r, 60));
    off.stop();
    assert.equal(calls, 0, "interval 0 disables auto-update");

    latest = fpB;
    const lines: string[] = [];
    let done!: () => void;
    const updated = new Promise<void>((r) => done = r);
    const auto = startAutoUpdate(store, {
      remotes: builtinRemotes(),
      connect: counting,
      checkEveryMs: 5,
      intervalMs: 1,
      log: (line) => {
        lines.push(line);
        if (line.startsWith("Updated")) done();
      },
    });
    // The auto-update timer is unref'd; a guard keeps the loop alive and bounds the wait.
    let guard: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      updated,
      new Promise((_, reject) => {
        guard = setTimeout(() => reject(new Error("no update within 10 s")), 10_000);
      }),
    ]).finally(() => clearTimeout(guard));
    auto.stop();
    assert.match(lines[0], new RegExp(`^Updated image ${fpA.slice(0, 12)} to ${fpB.slice(0, 12)}`));
    assert.ok(store.get(fpB));
  } finally {
    store.close();
  }
});

test("pruneCached() deletes cached images unused for images.remote_cache_expiry days", async () => {
  const store = await seeded("gc");
  try {
    const day = 86_400_000;
    const uploaded = Date.parse(store.get(fpA)!.uploaded_at);
    assert.deepEqual(await pruneCached(store, uploaded + 9 * day), []);
    store.touch(fpA); // used now: the clock restarts from the last use
    const used = Date.parse(store.get(fpA)!.last_used_at);
    assert.deepEqual(await pruneCached(store, used + 9 * day), []);
    store.setConfig("images.remote_cache_expiry", "0");
    assert.deepEqual(await pruneCached(store, used + 900 * day), [], "0 keeps cached images");
    store.setConfig("images.remote_cache_expiry", "10");
    const gone = await pruneCached(store, used + 11 * day);
    assert.deepEqual(gone.map((r) => r.fingerprint), [fpA]);
    assert.deepEqual(store.list(), []);
  } finally {
    store.close();
  }
});
