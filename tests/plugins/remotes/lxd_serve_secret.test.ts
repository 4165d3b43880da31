/** The lxd protocol with a trusted client certificate pulls private images from imago serve. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pullImage } from "../../../src/core/pull.ts";
import { Store } from "../../../src/core/store.ts";
import { lxd } from "../../../src/plugins/remotes/lxd.ts";
import { type RunningServer, startServer } from "../../../src/serve/server.ts";
import { makeSelfSigned } from "../../../src/serve/tls.ts";
import { TrustList } from "../../../src/serve/trust.ts";
import { makeServeFixture, type ServeFixture } from "../../serve/fixtures.ts";

let fx: ServeFixture;
let server: RunningServer;
const log: string[] = [];

before(async () => {
  fx = await makeServeFixture();
  server = await startServer(fx.store, { listen: "127.0.0.1:0", log: (l) => log.push(l) });
});
after(async () => {
  await server?.close();
  fx?.cleanup();
});

test("lxd remote with a trusted client certificate pulls private images from imago serve", async () => {
  const client = makeSelfSigned(["client"]);
  new TrustList(fx.store).add(client.cert, "puller");
  const certificate = readFileSync(join(fx.store.dir, "server.crt"), "utf8");
  const remote = await lxd.connect(new URL(server.url), {
    certificate,
    clientCert: client.cert,
    clientKey: client.key,
  });
  for (
    const [alias, rec] of [["priv-unified", fx.privUnified], ["priv-split", fx.privSplit]] as const
  ) {
    const image = await remote.resolve(alias, { arch: "x86_64" });
    assert.equal(image.fingerprint, rec.fingerprint);
    assert.equal(image.public, false);
    const store = await Store.open(join(fx.dir, `pulled-${alias}`));
    try {
      const got = (await pullImage(store, remote, image)).image;
      assert.equal(got.fingerprint, rec.fingerprint);
      assert.deepEqual(got.properties, rec.properties);
    } finally {
      store.close();
    }
  }
  // The plugin asked for download secrets; the access log shows where, never the values.
  const asked = log.filter((l) => /"POST \/1\.0\/images\/[0-9a-f]{64}\/secret" 202 /.test(l));
  assert.equal(asked.length, 2, log.join("\n"));
  const exports = log.filter((l) => l.includes("/export?"));
  assert.ok(exports.length >= 2, log.join("\n"));
  for (const l of exports) assert.match(l, /\/export\?secret=-" /);
});
