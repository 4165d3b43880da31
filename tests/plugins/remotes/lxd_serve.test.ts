/** The lxd and direct protocols against imago's own `serve`: what one imago serves, another pulls. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { NotFoundError } from "../../../src/core/errors.ts";
import { pullImage } from "../../../src/core/pull.ts";
import { Store } from "../../../src/core/store.ts";
import { direct } from "../../../src/plugins/remotes/direct.ts";
import { lxd } from "../../../src/plugins/remotes/lxd.ts";
import type { Remote, RemoteImage } from "../../../src/plugins/types.ts";
import { type RunningServer, startServer } from "../../../src/serve/server.ts";
import { makeServeFixture, type ServeFixture } from "../../serve/fixtures.ts";

let fx: ServeFixture;
let server: RunningServer;
let certificate: string;
let remote: Remote;

before(async () => {
  fx = await makeServeFixture();
  server = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
  certificate = readFileSync(join(fx.store.dir, "server.crt"), "utf8");
  remote = await lxd.connect(new URL(server.url), { certificate });
});
after(async () => {
  await server?.close();
  fx?.cleanup();
});

async function pull(image: RemoteImage, name: string, from = remote) {
  const store = await Store.open(join(fx.dir, name));
  try {
    return (await pullImage(store, from, image)).image;
  } finally {
    store.close();
  }
}

test("lxd remote lists exactly the public images imago serve offers", async () => {
  const seen: string[] = [];
  for await (const img of remote.list()) seen.push(img.fingerprint);
  const pub = fx.store.list().filter((r) => r.public).map((r) => r.fingerprint).sort();
  assert.deepEqual(seen.sort(), pub);
  await assert.rejects(
    remote.resolve(fx.privUnified.fingerprint, { arch: "x86_64" }),
    NotFoundError,
  );
});

test("lxd remote pulls unified, split and VM images from imago serve with their fingerprints", async () => {
  for (
    const [alias, rec] of [
      ["pub-unified", fx.pubUnified],
      ["pub-split", fx.pubSplit],
      [fx.pubVm.fingerprint.slice(0, 12), fx.pubVm],
    ] as const
  ) {
    const image = await remote.resolve(alias, { arch: "x86_64" });
    assert.equal(image.fingerprint, rec.fingerprint);
    const got = await pull(image, `s-${rec.fingerprint.slice(0, 8)}`);
    assert.equal(got.fingerprint, rec.fingerprint);
    assert.equal(got.type, rec.type);
    assert.deepEqual(got.properties, rec.properties);
  }
});

test("direct protocol imports a unified image through imago serve's static URL", async () => {
  const from = await direct.connect(new URL(`${server.url}/static/pub-unified`), { certificate });
  const image = await from.resolve("", { arch: "x86_64" });
  assert.equal(image.fingerprint, fx.pubUnified.fingerprint);
  assert.equal((await pull(image, "s-direct", from)).fingerprint, fx.pubUnified.fingerprint);
  const split = await direct.connect(new URL(`${server.url}/static/pub-split`), { certificate });
  await assert.rejects(split.resolve("", { arch: "x86_64" }), /missing LXD-Image-Hash header/);
});
