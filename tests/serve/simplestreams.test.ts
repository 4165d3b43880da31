import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../src/serve/app.ts";
import { productArch, versionKey } from "../../src/serve/simplestreams.ts";
import type { ImageRecord } from "../../src/core/model.ts";
import { addUnified, makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { call, sha256Hex } from "./request.ts";

let fx: ServeFixture;
let vmUnified: ImageRecord;
before(async () => {
  fx = await makeServeFixture();
  vmUnified = await addUnified(fx.store, fx.dir, "pub-uvm", {
    public: true,
    alias: "pub-unified-vm",
    spec: { vm: true, properties: { os: "testos", release: "uvm", description: "VM unified" } },
  });
});
after(() => fx.cleanup());

interface Item {
  ftype: string;
  path: string;
  size: number;
  sha256: string;
  [k: string]: string | number;
}

test("productArch() uses the product names LXD's image servers use", () => {
  assert.equal(productArch("x86_64"), "amd64");
  assert.equal(productArch("aarch64"), "arm64");
  assert.equal(productArch("armv7l"), "armhf");
  assert.equal(productArch("ppc64le"), "ppc64el");
  assert.equal(productArch("s390x"), "s390x");
  assert.equal(productArch("riscv64"), "riscv64");
});

test("versionKey() starts with YYYYMMDD as LXD requires", () => {
  assert.equal(versionKey(fx.pubUnified), "20231114_22:13");
});

test("index.json lists every product of images.json under image-downloads", async () => {
  const app = createApp(fx.store);
  const index = (await call(app, "/streams/v1/index.json")).json;
  const products = (await call(app, "/streams/v1/images.json")).json;
  assert.equal(index.format, "index:1.0");
  assert.equal(index.index.images.datatype, "image-downloads");
  assert.equal(index.index.images.path, "streams/v1/images.json");
  assert.deepEqual(index.index.images.products, Object.keys(products.products).sort());
  assert.deepEqual(index.index.images.products, [
    "testos:s1:amd64:default",
    "testos:u1:amd64:default",
    "testos:u1:arm64:default",
    "testos:uvm:amd64:default",
    "testos:vm1:amd64:default",
  ]);
});

/** Every version of every product, with its product. */
async function versions() {
  const app = createApp(fx.store);
  const doc = (await call(app, "/streams/v1/images.json")).json;
  assert.equal(doc.datatype, "image-downloads");
  const out: { product: Record<string, unknown>; key: string; items: Record<string, Item> }[] = [];
  for (const product of Object.values(doc.products) as Record<string, unknown>[]) {
    const vs = product.versions as Record<string, { items: Record<string, Item> }>;
    for (const [key, v] of Object.entries(vs)) out.push({ product, key, items: v.items });
  }
  return { app, out };
}

test("images.json items carry sizes and sha256 that match the files served at their paths", async () => {
  const { app, out } = await versions();
  let checked = 0;
  for (const { items } of out) {
    for (const item of Object.values(items)) {
      const r = await call(app, `/${item.path}`);
      assert.equal(r.status, 200, item.path);
      assert.equal(r.body.byteLength, item.size, item.path);
      assert.equal(await sha256Hex(r.body), item.sha256, item.path);
      checked++;
    }
  }
  assert.ok(checked >= 10, `checked ${checked} items`);
});

test("split images get lxd.tar.xz and incus.tar.xz items whose combined hash is the fingerprint", async () => {
  const { app, out } = await versions();
  for (const rec of [fx.pubSplit, fx.pubVm]) {
    const v = out.find((x) =>
      Object.values(x.items).some((i) => i.path.startsWith(`images/${rec.fingerprint}/`))
    );
    assert.ok(v, rec.fingerprint);
    assert.match(v.key, /^\d{8}_\d\d:\d\d/);
    const lxd = v.items["lxd.tar.xz"];
    const incus = v.items["incus.tar.xz"];
    assert.equal(lxd.ftype, "lxd.tar.xz");
    assert.equal(incus.ftype, "incus.tar.xz");
    assert.deepEqual({ ...lxd, ftype: "" }, { ...incus, ftype: "" });
    const vm = rec.type === "virtual-machine";
    const root = v.items[vm ? "disk.qcow2" : "root.tar.xz"];
    assert.equal(root.ftype, vm ? "disk-kvm.img" : "root.tar.xz");
    const field = vm ? "combined_disk-kvm-img_sha256" : "combined_rootxz_sha256";
    assert.equal(lxd[field], rec.fingerprint);
    // Recompute: sha256(meta ‖ rootfs) as LXD defines the fingerprint.
    const meta = (await call(app, `/${lxd.path}`)).body;
    const rootfs = (await call(app, `/${root.path}`)).body;
    assert.equal(await sha256Hex(meta, rootfs), lxd[field]);
    assert.equal(v.product.arch, "amd64");
    assert.equal(v.product.aliases, rec.aliases[0].name);
  }
  // The per-file hashes are computed once and kept in the store's database.
  const rows = fx.store.records.db.prepare("SELECT fingerprint FROM serve_file_hashes").all();
  assert.equal(rows.length, 2);
});

test("unified images get lxd_combined.tar.gz and incus_combined.tar.gz, VMs only the Incus one", async () => {
  const { out } = await versions();
  const find = (fp: string) =>
    out.find((x) => Object.values(x.items).some((i) => i.sha256 === fp))!;
  const c = find(fx.pubUnified.fingerprint).items;
  assert.deepEqual(Object.keys(c).sort(), ["incus_combined.tar.gz", "lxd_combined.tar.gz"]);
  assert.equal(c["lxd_combined.tar.gz"].sha256, fx.pubUnified.fingerprint);
  assert.equal(c["incus_combined.tar.gz"].combined_type, "container");
  const vm = find(vmUnified.fingerprint).items;
  assert.deepEqual(Object.keys(vm), ["incus_combined.tar.gz"]);
  assert.equal(vm["incus_combined.tar.gz"].combined_type, "virtual-machine");
  const arm = find(fx.pubArm.fingerprint);
  assert.equal(arm.product.arch, "arm64");
  assert.equal(arm.product.aliases, "pub-unified/arm64");
});

test("images.json gives two images of one product in one minute a version each", async () => {
  const a = await addUnified(fx.store, fx.dir, "twin-a", {
    public: true,
    spec: { properties: { os: "twin", release: "1" } },
  });
  const b = await addUnified(fx.store, fx.dir, "twin-b", {
    public: true,
    spec: { properties: { os: "twin", release: "1" } },
  });
  const { out } = await versions();
  const twins = out.filter((x) => x.product.os === "twin");
  assert.equal(twins.length, 2);
  const shas = twins.map((t) => t.items["lxd_combined.tar.gz"].sha256).sort();
  assert.deepEqual(shas, [a.fingerprint, b.fingerprint].sort());
  for (const t of twins) assert.match(t.key, /^20231114_22:13/);
  await fx.store.delete(a.fingerprint);
  await fx.store.delete(b.fingerprint);
});
