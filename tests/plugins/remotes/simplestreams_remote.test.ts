/**
 * The simplestreams remote against the fixture tree of scripts/make_simplestreams_fixture.ts,
 * served over HTTPS on loopback with a pinned self-signed certificate.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { IntegrityError, NotFoundError } from "../../../src/core/errors.ts";
import { pullImage } from "../../../src/core/pull.ts";
import { Store } from "../../../src/core/store.ts";
import { builtinRemotes } from "../../../src/plugins/builtin.ts";
import { createHttpClient } from "../../../src/plugins/remotes/http.ts";
import {
  itemUrl,
  SimplestreamsRemote,
} from "../../../src/plugins/remotes/simplestreams/protocol.ts";
import type { Remote, RemoteImage } from "../../../src/plugins/types.ts";
import {
  makeSimplestreamsTree,
  type SimplestreamsTree,
} from "../../../scripts/make_simplestreams_fixture.ts";
import { tempDir } from "../../helpers.ts";
import {
  EXPECTED,
  expectedImage,
  IMAGES,
  type Row,
  treeItem,
  UBUNTU,
} from "./simplestreams_expected.ts";
import { serveDir, type StaticServer } from "./static_https.ts";

let tmp: ReturnType<typeof tempDir>;
let tree: SimplestreamsTree;
let server: StaticServer;
let remote: SimplestreamsRemote;

before(async () => {
  tmp = tempDir("imago-ss-remote-");
  // The tree sits in a subfolder of what is served: the base URL has a path.
  tree = makeSimplestreamsTree(join(tmp.path, "www", "mirror"));
  server = await serveDir(join(tmp.path, "www"));
  remote = connect();
});
after(async () => {
  await server?.close();
  tmp?.cleanup();
});

/** A remote on the test server, seeing aliases as an x86_64 host does. */
function connect(): SimplestreamsRemote {
  const client = createHttpClient({ certificate: server.cert });
  return new SimplestreamsRemote(new URL(`${server.url}mirror/`), client, "x86_64");
}

/** An item of the tree by products file, product, version and item key. */
const item = (file: string, product: string, version: string, key: string) =>
  treeItem(tree, file, product, version, key);

/** The facts of EXPECTED[i], computed from the files themselves. */
const expected = (row: Row) => expectedImage(tree, row);

async function all(r: Remote): Promise<RemoteImage[]> {
  const out: RemoteImage[] = [];
  for await (const image of r.list()) out.push(image);
  return out;
}

/** The image of an EXPECTED row by its index. */
async function imageOf(i: number): Promise<RemoteImage> {
  const fp = expected(EXPECTED[i]).fp;
  const found = (await all(remote)).find((x) => x.fingerprint === fp);
  assert.ok(found, `no image ${fp}`);
  return found;
}

test("itemUrl() joins paths under the base URL's path and never leaves its origin", () => {
  const base = new URL("https://h.example:8443/a/b?q=1#f");
  assert.equal(
    itemUrl(base, "streams/v1/index.json").href,
    "https://h.example:8443/a/b/streams/v1/index.json",
  );
  assert.equal(itemUrl(base, "../../../x").href, "https://h.example:8443/x");
  assert.equal(
    itemUrl(base, "https://evil.example/x").href,
    "https://h.example:8443/a/b/https:/evil.example/x",
  );
  assert.equal(
    itemUrl(base, "v/20240301_13:00/a b?c").href,
    "https://h.example:8443/a/b/v/20240301_13:00/a%20b%3Fc",
  );
});

test("SimplestreamsRemote.list() gives exactly the tree's images with their types and arches", async () => {
  const got = (await all(remote)).map((i) =>
    [i.fingerprint, i.type, i.architecture, i.properties.type, i.properties.serial].join(" ")
  );
  const want = EXPECTED.map(expected).map((e) =>
    [e.fp, e.type, e.arch, e.ftype, e.version].join(" ")
  );
  assert.deepEqual(got.sort(), want.sort());
});

test("SimplestreamsRemote reads the index and image-downloads files only, never .sjson", async () => {
  const fresh = connect();
  const seen = server.requests().length;
  await all(fresh);
  await all(fresh);
  assert.deepEqual(server.requests().slice(seen).sort(), [
    "/mirror/streams/v1/com.ubuntu.cloud:released:download.json",
    "/mirror/streams/v1/images.json",
    "/mirror/streams/v1/index.json",
  ]);
});

test("SimplestreamsRemote reads the catalogue again after a failed attempt", async () => {
  const fresh = connect();
  server.overrides.set("/mirror/streams/v1/index.json", new TextEncoder().encode("{oops"));
  try {
    await assert.rejects(all(fresh), /index\.json": the answer is not JSON/);
  } finally {
    server.overrides.clear();
  }
  assert.equal((await all(fresh)).length, EXPECTED.length);
});

test("SimplestreamsRemote.list() gives host-arch images their short and /arch aliases", async () => {
  const aliases = new Map(
    (await all(remote)).map((i) => [i.fingerprint, i.aliases.map((a) => a.name)]),
  );
  const of = (i: number) => aliases.get(expected(EXPECTED[i]).fp);
  const alpine = [
    "alpine/3.19/default",
    "alpine/3.19/default/amd64",
    "alpine/3.19",
    "alpine/3.19/amd64",
  ];
  assert.deepEqual(of(0), []);
  assert.deepEqual(of(1), []);
  assert.deepEqual(of(2), alpine);
  assert.deepEqual(of(3), alpine);
  assert.deepEqual(of(4), ["alpine/3.19/default/arm64", "alpine/3.19/arm64"]);
  assert.deepEqual(of(5), ["alpine/3.19/default/arm64", "alpine/3.19/arm64"]);
  assert.deepEqual(of(6), [
    "alpine/3.20/cloud",
    "alpine/3.20/cloud/amd64",
    "alpine/edge/cloud",
    "alpine/edge/cloud/amd64",
  ]);
  assert.deepEqual(of(7), ["20.04", "20.04/amd64", "f", "f/amd64", "focal", "focal/amd64"]);
  assert.deepEqual(of(8), []);
  assert.deepEqual(of(9), []);
  const jammy = ["22.04", "default", "lts", "j", "jammy"];
  assert.deepEqual(of(10), jammy.flatMap((a) => [a, `${a}/amd64`]));
  assert.deepEqual(of(11), jammy.map((a) => `${a}/arm64`));
  assert.deepEqual(of(12), jammy.map((a) => `${a}/arm64`));
});

test("SimplestreamsRemote.list() carries LXD's properties and dates", async () => {
  const image = await imageOf(12);
  assert.deepEqual(image.properties, {
    os: "ubuntu",
    release: "jammy",
    version: "22.04",
    architecture: "arm64",
    label: "release",
    serial: "20240220",
    description: "ubuntu 22.04 LTS arm64 (release) (20240220)",
    type: "disk1.img",
    "requirements.secureboot": "false",
  });
  assert.equal(image.created_at, "2024-02-20T00:00:00Z");
  assert.equal(image.expires_at, "2027-06-01T00:00:00Z");
  assert.equal(image.filename, "ubuntu-22.04-server-cloudimg-arm64-lxd.tar.xz");
});

test("SimplestreamsRemote.resolve() finds aliases, alias/arch, prefixes and VMs", async () => {
  const fp = (i: number) => expected(EXPECTED[i]).fp;
  const x86 = { arch: "x86_64" };
  const resolve = async (ref: string, want: { arch: string; type?: "virtual-machine" }) =>
    (await remote.resolve(ref, want)).fingerprint;
  assert.equal(await resolve("alpine/3.19", x86), fp(2));
  assert.equal(await resolve("alpine/3.19", { arch: "aarch64" }), fp(4));
  assert.equal(await resolve("alpine/3.19/arm64", x86), fp(4));
  assert.equal(await resolve("alpine/3.19", { arch: "x86_64", type: "virtual-machine" }), fp(3));
  assert.equal(await resolve("jammy", x86), fp(10));
  assert.equal(await resolve("jammy", { arch: "aarch64", type: "virtual-machine" }), fp(12));
  assert.equal(await resolve("alpine/edge/cloud", x86), fp(6));
  assert.equal(await resolve(fp(1).slice(0, 12), x86), fp(1));
  assert.equal(await resolve(fp(8), x86), fp(8));
  // The jammy amd64 disk has no combined hash, so there is no such VM.
  await assert.rejects(
    remote.resolve("jammy", { arch: "x86_64", type: "virtual-machine" }),
    NotFoundError,
  );
  await assert.rejects(remote.resolve("alpine/3.18", x86), /Image "alpine\/3.18" not found/);
});

test("the simplestreams protocol is built in and trusts only the pinned certificate", async () => {
  const protocol = builtinRemotes().get("simplestreams");
  const base = new URL(`${server.url}mirror`);
  const pinned = await protocol.connect(base, { certificate: server.cert });
  assert.equal((await all(pinned)).length, EXPECTED.length);
  const unpinned = await protocol.connect(base, {});
  await assert.rejects(all(unpinned), /not trusted/);
});

/** A fresh store in the temp folder. */
async function store(name: string): Promise<Store> {
  return await Store.open(join(tmp.path, name));
}

test("pullImage() stores split, VM and unified simplestreams images under their fingerprints", async () => {
  const s = await store("pulled");
  try {
    for (const i of [2, 3, 8, 9]) {
      const image = await imageOf(i);
      const { image: rec, created } = await pullImage(s, remote, image);
      assert.equal(created, true);
      assert.equal(rec.fingerprint, expected(EXPECTED[i]).fp);
      assert.equal(rec.type, image.type);
      assert.equal(rec.architecture, image.architecture);
      assert.equal(rec.size, image.size);
      assert.deepEqual(rec.properties, image.properties);
    }
    assert.equal(s.list().length, 4);
    assert.equal(s.get(expected(EXPECTED[8]).fp)?.files.rootfs, undefined);
    assert.equal(s.get(expected(EXPECTED[3]).fp)?.files.rootfs?.kind, "qcow2");
    assert.equal(s.get(expected(EXPECTED[2]).fp)?.files.rootfs?.kind, "squashfs");
  } finally {
    s.close();
  }
});

/** `bytes` with one byte changed. */
function flipped(bytes: Uint8Array, at = 100): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at] ^= 0xff;
  return copy;
}

/** Serves `path` of the tree with one byte changed while `fn` runs. */
async function withTampered(path: string, fn: () => Promise<void>, at = 100): Promise<void> {
  server.overrides.set(`/mirror/${path}`, flipped(readFileSync(join(tree.dir, path)), at));
  try {
    await fn();
  } finally {
    server.overrides.clear();
  }
}

/** Pulls EXPECTED[i] with `path` tampered: an IntegrityError naming `what "path"`, nothing stored. */
async function tamperedPull(i: number, what: string, path: string, at?: number): Promise<void> {
  const s = await store(`tampered-${i}`);
  try {
    await withTampered(path, async () => {
      const err = await pullImage(s, remote, await imageOf(i)).catch((e) => e);
      assert.ok(err instanceof IntegrityError, String(err));
      assert.ok(err.message.includes(`${what} "${path}": sha256 mismatch`), err.message);
    }, at);
    assert.deepEqual(s.list(), []);
    assert.deepEqual(readdirSync(s.imagesDir), []);
    assert.deepEqual(readdirSync(s.tmpDir), []);
  } finally {
    s.close();
  }
}

test("pullImage() refuses a tampered squashfs rootfs, names it and stores nothing", async () => {
  const path = item(IMAGES, "alpine:3.19:amd64:default", "20240301_13:00", "root.squashfs").path;
  await tamperedPull(2, "rootfs", String(path));
});

test("pullImage() refuses a tampered root.tar.xz rootfs, names it and stores nothing", async () => {
  const path = item(IMAGES, "alpine:3.20:amd64:cloud", "20240315_13:00", "root.tar.xz").path;
  await tamperedPull(6, "rootfs", String(path), 40);
});

test("pullImage() refuses a tampered metadata file, names it and stores nothing", async () => {
  const path = item(UBUNTU, "com.ubuntu.cloud:server:20.04:amd64", "20230110", "lxd.tar.xz").path;
  await tamperedPull(7, "metadata", String(path), 20);
});

test("pullImage() refuses files that match their items but not the combined fingerprint", async () => {
  const s = await store("lying");
  const doc = structuredClone(tree.products[IMAGES]);
  const meta =
    doc.products["alpine:3.20:amd64:cloud"].versions["20240315_13:00"].items["lxd.tar.xz"];
  const lie = createHash("sha256").update("something else").digest("hex");
  meta.combined_rootxz_sha256 = lie;
  server.overrides.set(`/mirror/${IMAGES}`, new TextEncoder().encode(JSON.stringify(doc)));
  try {
    const liar = connect();
    const image = await liar.resolve(lie.slice(0, 16), { arch: "x86_64" });
    await assert.rejects(pullImage(s, liar, image), IntegrityError);
    assert.deepEqual(s.list(), []);
    assert.deepEqual(readdirSync(s.imagesDir), []);
  } finally {
    server.overrides.clear();
    s.close();
  }
});
