/** The "lxd" remote protocol against a replaying loopback LXD server. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { NotFoundError, RemoteError } from "../../../src/core/errors.ts";
import { pullImage } from "../../../src/core/pull.ts";
import { Store } from "../../../src/core/store.ts";
import { lxd } from "../../../src/plugins/remotes/lxd.ts";
import { pathEscape } from "../../../src/plugins/remotes/lxd_api.ts";
import type { Remote, RemoteImage } from "../../../src/plugins/types.ts";
import { certificateFingerprint } from "../../../src/plugins/remotes/tls_pin.ts";
import { makeSelfSigned } from "../../../src/serve/tls.ts";
import { tempDir } from "../../helpers.ts";
import { type FakeImage, fakeImage, type FakeLxd, startLxd } from "./lxd_server.ts";
import { readAllBytes } from "./tls_helpers.ts";

const tmp = tempDir("imago-lxd-");
let server: FakeLxd;
let unified: FakeImage;
let split: FakeImage;
let priv: FakeImage;

before(async () => {
  unified = fakeImage(tmp.path, "uni", { aliases: ["deb/12", "uni"] });
  split = fakeImage(tmp.path, "spl", { split: true, aliases: ["spl"] });
  priv = fakeImage(tmp.path, "priv", { public: false, aliases: ["secret-one"] });
  server = await startLxd([unified, split, priv]);
});
after(async () => {
  await server.close();
  tmp.cleanup();
});

const connect = (opts = {}) =>
  lxd.connect(new URL(server.url), { certificate: server.cert, ...opts });
const arch = { arch: "x86_64" };

async function storeOf(name: string): Promise<Store> {
  return await Store.open(`${tmp.path}/${name}`);
}

test("lxd.connect() asks GET /1.0 and refuses plain http", async () => {
  await connect();
  assert.equal(server.requests.at(-1)?.url, "/1.0");
  await assert.rejects(lxd.connect(new URL("http://127.0.0.1:1"), {}), /Invalid URL scheme "http"/);
});

test("LxdRemote.list() reads recursion=1, ignoring unknown fields and malformed entries", async () => {
  const remote = await connect();
  const seen: RemoteImage[] = [];
  for await (const img of remote.list()) seen.push(img);
  assert.deepEqual(
    seen.map((i) => i.fingerprint).sort(),
    [unified, split].map((i) => i.fingerprint).sort(),
  );
  const u = seen.find((i) => i.fingerprint === unified.fingerprint)!;
  assert.deepEqual(u.aliases.map((a) => a.name), ["deb/12", "uni"]);
  assert.equal(u.properties.description, "Image uni");
  assert.equal(u.type, "container");
});

test("LxdRemote.resolve() looks up an alias (path-escaped), then a fingerprint prefix", async () => {
  const remote = await connect();
  const byAlias = await remote.resolve("deb/12", arch);
  assert.equal(byAlias.fingerprint, unified.fingerprint);
  assert.ok(server.requests.some((r) => r.url === "/1.0/images/aliases/deb%2F12"));
  const byPrefix = await remote.resolve(split.fingerprint.slice(0, 10), arch);
  assert.equal(byPrefix.fingerprint, split.fingerprint);
  assert.equal(pathEscape("a b/c:d"), "a%20b%2Fc:d");
});

test("LxdRemote.resolve() turns a 404 envelope into NotFoundError and keeps other errors' text", async () => {
  const remote = await connect();
  await assert.rejects(remote.resolve("nothing-here", arch), (err: Error) => {
    assert.ok(err instanceof NotFoundError);
    assert.match(err.message, /Image "nothing-here" not found on "https:\/\/127\.0\.0\.1:\d+"/);
    return true;
  });
  // A private image is invisible without trust; an empty prefix matches everything visible.
  await assert.rejects(remote.resolve("secret-one", arch), NotFoundError);
  server.images.push({ ...unified, fingerprint: unified.fingerprint.slice(0, 1) + "f".repeat(63) });
  try {
    await assert.rejects(
      remote.resolve(unified.fingerprint.slice(0, 1), arch),
      (err: Error) => err instanceof RemoteError && /More than one image matches/.test(err.message),
    );
  } finally {
    server.images.pop();
  }
});

test("LxdRemote.resolve() with a type refuses an alias of the other type", async () => {
  const remote = await connect();
  await assert.rejects(
    remote.resolve("uni", { arch: "x86_64", type: "virtual-machine" }),
    /names a container image, not a virtual-machine/,
  );
});

async function pullFrom(remote: Remote, ref: string, storeName: string) {
  const store = await storeOf(storeName);
  try {
    const img = await remote.resolve(ref, arch);
    return { img, result: await pullImage(store, remote, img), list: store.list() };
  } finally {
    store.close();
  }
}

test("LxdRemote.fetch() of a unified image streams the export into the store", async () => {
  const { result } = await pullFrom(await connect(), "uni", "s-uni");
  assert.equal(result.image.fingerprint, unified.fingerprint);
  assert.equal(result.image.files.rootfs, undefined);
  assert.equal(result.image.properties.description, "Image uni");
});

test("LxdRemote.fetch() of a split image reads the multipart parts as streams", async () => {
  const remote = await connect();
  const img = await remote.resolve("spl", arch);
  const files = await remote.fetch(img);
  assert.equal(files.metadata.name, `meta-${split.fingerprint}.tar.gz`);
  assert.deepEqual(await readAllBytes(files.metadata.stream), split.metadata);
  assert.deepEqual(await readAllBytes(files.rootfs!.stream), split.rootfs);
  const { result } = await pullFrom(remote, "spl", "s-split");
  assert.equal(result.image.fingerprint, split.fingerprint);
  assert.equal(result.image.files.rootfs?.kind, "tar");
});

test("LxdRemote.fetch() refuses a multipart export whose parts are misnamed", async () => {
  const odd = { ...split, fingerprint: "e".repeat(64), rootfsField: "garbage", aliases: [] };
  server.images.push(odd);
  try {
    const remote = await connect();
    const store = await storeOf("s-odd");
    try {
      await assert.rejects(
        pullImage(store, remote, await remote.resolve(odd.fingerprint, arch)),
        /invalid multipart image: the second part is not "rootfs"/,
      );
      assert.deepEqual(store.list(), []);
    } finally {
      store.close();
    }
  } finally {
    server.images.pop();
  }
});

test("LxdRemote pulls a private image with a trusted client certificate through a secret", async () => {
  const id = makeSelfSigned(["client"]);
  server.trusted.add(certificateFingerprint(id.cert));
  const remote = await connect({ clientCert: id.cert, clientKey: id.key });
  const { result } = await pullFrom(remote, "secret-one", "s-priv");
  assert.equal(result.image.fingerprint, priv.fingerprint);
  const exp = server.requests.find((r) => r.url.includes(`${priv.fingerprint}/export?secret=`));
  assert.ok(exp, "the export was asked with a secret");
  assert.ok(server.requests.some((r) => r.method === "POST" && r.url.endsWith("/secret")));
});
