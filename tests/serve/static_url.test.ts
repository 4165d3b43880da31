import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../src/serve/app.ts";
import { parseArchitectures } from "../../src/serve/static_url.ts";
import { makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { call, sha256Hex } from "./request.ts";

let fx: ServeFixture;
before(async () => {
  fx = await makeServeFixture();
});
after(() => fx.cleanup());

test("parseArchitectures() reads LXD's comma list into canonical names", () => {
  assert.deepEqual(parseArchitectures("x86_64, i686"), ["x86_64", "i686"]);
  assert.deepEqual(parseArchitectures("amd64,arm64"), ["x86_64", "aarch64"]);
  assert.deepEqual(parseArchitectures(null), []);
});

test("HEAD /static/NAME picks the image for the first listed architecture that has one", async () => {
  const app = createApp(fx.store);
  const head = async (archs: string, header = "LXD-Server-Architectures") =>
    await call(app, "http://images.test:8443/static/pub-unified", {
      method: "HEAD",
      headers: { [header]: archs, "LXD-Server-Version": "5.0.2" },
    });
  const x86 = await head("x86_64, i686");
  assert.equal(x86.status, 200);
  assert.equal(x86.headers.get("lxd-image-hash"), fx.pubUnified.fingerprint);
  assert.equal(
    x86.headers.get("lxd-image-url"),
    `http://images.test:8443/1.0/images/${fx.pubUnified.fingerprint}/export`,
  );
  const arm = await head("aarch64, armv7l, armv6l");
  assert.equal(arm.headers.get("lxd-image-hash"), fx.pubArm.fingerprint);
  const armFirst = await head("armv7l, aarch64");
  assert.equal(armFirst.headers.get("lxd-image-hash"), fx.pubArm.fingerprint);
  const incus = await head("aarch64", "Incus-Server-Architectures");
  assert.equal(incus.headers.get("incus-image-hash"), fx.pubArm.fingerprint);
  assert.equal(incus.headers.get("incus-image-url"), incus.headers.get("lxd-image-url"));
  const none = await head("s390x");
  assert.equal(none.status, 404);
  assert.equal(none.headers.get("lxd-image-hash"), null);
});

test("the static URL's LXD-Image-URL downloads bytes hashing to LXD-Image-Hash", async () => {
  const app = createApp(fx.store);
  const r = await call(app, "/static/pub-unified");
  assert.equal(r.status, 200);
  const url = new URL(r.headers.get("lxd-image-url")!);
  const file = await call(app, url.pathname);
  assert.equal(file.status, 200);
  assert.equal(await sha256Hex(file.body), r.headers.get("lxd-image-hash"));
  assert.equal(r.json.metadata.fingerprint, fx.pubUnified.fingerprint);
  // A fingerprint prefix works as well as an alias.
  const byFp = await call(app, `/static/${fx.pubUnified.fingerprint.slice(0, 10)}`);
  assert.equal(byFp.headers.get("lxd-image-hash"), fx.pubUnified.fingerprint);
});

test("a split image is refused for URL import with a reason", async () => {
  const r = await call(createApp(fx.store), "/static/pub-split");
  assert.equal(r.status, 400);
  assert.equal(r.headers.get("lxd-image-hash"), null);
  assert.match(r.json.error, /it is a split image and LXD imports only unified images/);
});
