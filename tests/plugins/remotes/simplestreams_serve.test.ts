/** The simplestreams remote against imago's own `serve`: what one imago publishes, another pulls. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pullImage } from "../../../src/core/pull.ts";
import { Store } from "../../../src/core/store.ts";
import { simplestreams } from "../../../src/plugins/remotes/simplestreams/protocol.ts";
import type { Remote, RemoteImage } from "../../../src/plugins/types.ts";
import { type RunningServer, startServer } from "../../../src/serve/server.ts";
import { addUnified, makeServeFixture, type ServeFixture } from "../../serve/fixtures.ts";

let fx: ServeFixture;
let server: RunningServer;
let remote: Remote;

before(async () => {
  fx = await makeServeFixture();
  await addUnified(fx.store, fx.dir, "pub-uvm", {
    public: true,
    alias: "pub-unified-vm",
    spec: { vm: true, properties: { os: "testos", release: "uvm", description: "VM unified" } },
  });
  server = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
  const certificate = readFileSync(join(fx.store.dir, "server.crt"), "utf8");
  remote = await simplestreams.connect(new URL(server.url), { certificate });
});
after(async () => {
  await server?.close();
  fx?.cleanup();
});

async function list(): Promise<RemoteImage[]> {
  const out: RemoteImage[] = [];
  for await (const i of remote.list()) out.push(i);
  return out;
}

test("SimplestreamsRemote lists exactly the public images imago serve publishes", async () => {
  const got = (await list()).map((i) => [i.fingerprint, i.type, i.architecture]);
  const want = fx.store.list().filter((r) => r.public).map((r) => [
    r.fingerprint,
    r.type,
    r.architecture,
  ]);
  assert.deepEqual(got.sort(), want.sort());
});

test("SimplestreamsRemote resolves imago serve's aliases and pulls every image intact", async () => {
  const image = await remote.resolve("pub-split", { arch: "x86_64" });
  assert.equal(image.fingerprint, fx.pubSplit.fingerprint);
  const vm = await remote.resolve("pub-unified-vm", { arch: "x86_64" });
  assert.equal(vm.type, "virtual-machine");
  const target = await Store.open(join(fx.dir, "pulled"));
  try {
    for (const i of await list()) {
      const { image: rec } = await pullImage(target, remote, i);
      assert.equal(rec.fingerprint, i.fingerprint);
      assert.equal(rec.type, i.type);
    }
    assert.equal(target.list().length, (await list()).length);
  } finally {
    target.close();
  }
});
