import { test } from "node:test";
import assert from "node:assert/strict";
import { RemoteError } from "../../../src/core/errors.ts";
import {
  loadCatalogue,
  MAX_INDEX_BYTES,
  MAX_PRODUCTS_BYTES,
  productPaths,
} from "../../../src/plugins/remotes/simplestreams/index.ts";
import { parseProducts } from "../../../src/plugins/remotes/simplestreams/products.ts";
import {
  eolDate,
  toImages,
  versionDate,
} from "../../../src/plugins/remotes/simplestreams/to_images.ts";

/** A distinct 64-hex "sha256" per letter. */
const H = (c: string) => c.repeat(64);

type Items = Record<string, Record<string, unknown>>;

const meta = (combined: Record<string, string> = {}, ftype = "lxd.tar.xz") => ({
  ftype,
  path: "images/x/meta.tar.xz",
  size: 100,
  sha256: H("0"),
  ...combined,
});
const root = (ftype: string, sha: string, size = 1000) => ({
  ftype,
  path: `images/x/${ftype}`,
  size,
  sha256: H(sha),
});

/** Images of one product with one version, parsed the way the remote does. */
function convert(items: Items, product: Record<string, unknown> = {}, serial = "20240301_13:00") {
  const doc = {
    products: {
      "p": {
        arch: "amd64",
        os: "Alpine",
        release: "3.19",
        release_title: "3.19",
        aliases: "alpine/3.19",
        ...product,
        versions: { [serial]: { items } },
      },
    },
  };
  return toImages(parseProducts(doc, "images.json"));
}

test("productPaths() takes image-downloads entries with products, in order, once", () => {
  const doc = {
    index: {
      a: { datatype: "image-downloads", path: "streams/v1/a.json", products: ["x"] },
      ids: { datatype: "image-ids", path: "streams/v1/ids.json", products: ["x"] },
      empty: { datatype: "image-downloads", path: "streams/v1/empty.json", products: [] },
      none: { datatype: "image-downloads", path: "streams/v1/none.json" },
      b: { datatype: "image-downloads", path: "streams/v1/b.json", products: ["y"] },
      again: { datatype: "image-downloads", path: "streams/v1/a.json", products: ["z"] },
    },
  };
  assert.deepEqual(productPaths(doc, "index.json"), ["streams/v1/a.json", "streams/v1/b.json"]);
});

test("loadCatalogue() reads the index, then each products file, each under its size cap", async () => {
  const calls: [string, number][] = [];
  const docs: Record<string, unknown> = {
    "streams/v1/index.json": {
      index: {
        a: { datatype: "image-downloads", path: "streams/v1/a.json", products: ["x"] },
        b: { datatype: "image-downloads", path: "streams/v1/b.json", products: ["y"] },
      },
    },
    "streams/v1/a.json": {
      products: {
        x: {
          arch: "amd64",
          aliases: "x",
          versions: {
            "20240101": {
              items: { c: { ftype: "lxd_combined.tar.gz", path: "c", size: 1, sha256: H("1") } },
            },
          },
        },
      },
    },
    // The same image again from a second file: listed once.
    "streams/v1/b.json": {
      products: {
        y: {
          arch: "amd64",
          aliases: "y",
          versions: {
            "20240101": {
              items: { c: { ftype: "lxd_combined.tar.gz", path: "c", size: 1, sha256: H("1") } },
            },
          },
        },
      },
    },
  };
  const cat = await loadCatalogue((path, limit) => {
    calls.push([path, limit]);
    return Promise.resolve(docs[path]);
  }, { baseUrl: "https://x.example/", hostArch: "x86_64" });
  assert.deepEqual(calls, [
    ["streams/v1/index.json", MAX_INDEX_BYTES],
    ["streams/v1/a.json", MAX_PRODUCTS_BYTES],
    ["streams/v1/b.json", MAX_PRODUCTS_BYTES],
  ]);
  assert.deepEqual(cat.images.map((i) => i.fingerprint), [H("1")]);
  assert.deepEqual(cat.aliases.map((a) => a.name), ["x", "x/amd64"]);
});

test("productPaths() and parseProducts() reject documents of another shape", () => {
  assert.throws(() => productPaths({ products: {} }, "index.json"), RemoteError);
  assert.throws(() => productPaths([], "index.json"), /"index.json": not a simplestreams index/);
  assert.throws(() => parseProducts({ index: {} }, "p.json"), /"p.json": not a simplestreams/);
});

test("parseProducts() skips malformed entries and merges LXD and Incus requirements", () => {
  const doc = {
    products: {
      bad: "nope",
      noVersions: { arch: "amd64" },
      p: {
        arch: "amd64",
        lxd_requirements: { secureboot: "false", n: 1 },
        requirements: { cgroup: "v2" },
        versions: {
          v1: { items: { ok: meta(), noPath: { ftype: "squashfs" }, str: "x" }, label: 7 },
          v2: "broken",
        },
      },
    },
  };
  const out = parseProducts(doc, "p.json");
  assert.deepEqual(Object.keys(out), ["p"]);
  assert.deepEqual(out.p.requirements, { secureboot: "false", cgroup: "v2" });
  assert.deepEqual(Object.keys(out.p.versions), ["v1"]);
  assert.deepEqual(Object.keys(out.p.versions.v1.items), ["ok"]);
  assert.equal(out.p.versions.v1.label, "");
});

test("versionDate() reads a leading YYYYMMDD as midnight UTC, like Go's time.Parse", () => {
  assert.equal(versionDate("20240301_13:00"), "2024-03-01T00:00:00Z");
  assert.equal(versionDate("20240229"), "2024-02-29T00:00:00Z");
  assert.equal(versionDate("20230229"), undefined);
  assert.equal(versionDate("20241301"), undefined);
  assert.equal(versionDate("2024"), undefined);
  assert.equal(versionDate("nightly-20240401"), undefined);
  assert.equal(eolDate("2027-06-01"), "2027-06-01T00:00:00Z");
  assert.equal(eolDate("2027-06-01T00:00:00Z"), undefined);
  assert.equal(eolDate("soon"), undefined);
});

test("toImages() skips versions whose key is short or does not start with a date", () => {
  const items = { m: meta({ combined_squashfs_sha256: H("a") }), r: root("squashfs", "1") };
  assert.equal(convert(items, {}, "20240301").length, 1);
  assert.equal(convert(items, {}, "2024030").length, 0);
  assert.equal(convert(items, {}, "nightly-20240401").length, 0);
  assert.equal(convert(items, {}, "20240231_00:00").length, 0);
});

test("toImages() pairs the metadata with each rootfs ftype through its combined hash", () => {
  const images = convert({
    m: meta({
      combined_squashfs_sha256: H("a"),
      combined_rootxz_sha256: H("b"),
      "combined_disk-kvm-img_sha256": H("c"),
      "combined_disk1-img_sha256": H("d"),
      "combined_uefi1-img_sha256": H("e"),
    }),
    s: root("squashfs", "1"),
    t: root("root.tar.xz", "2"),
    k: root("disk-kvm.img", "3"),
    d: root("disk1.img", "4"),
    u: root("uefi1.img", "5"),
  });
  const got = images.map((i) => [i.fingerprint, i.type, i.properties.type, i.root?.sha256]);
  assert.deepEqual(got.sort(), [
    [H("a"), "container", "squashfs", H("1")],
    [H("b"), "container", "root.tar.xz", H("2")],
    [H("c"), "virtual-machine", "disk-kvm.img", H("3")],
    [H("d"), "virtual-machine", "disk1.img", H("4")],
    [H("e"), "virtual-machine", "uefi1.img", H("5")],
  ]);
});

test("toImages() uses combined_sha256 for root.tar.xz only when combined_rootxz_sha256 is absent", () => {
  const t = root("root.tar.xz", "2");
  assert.equal(convert({ m: meta({ combined_sha256: H("f") }), t })[0].fingerprint, H("f"));
  const both = meta({ combined_sha256: H("f"), combined_rootxz_sha256: H("b") });
  assert.equal(convert({ m: both, t })[0].fingerprint, H("b"));
  // combined_sha256 is no fallback for the other ftypes.
  assert.equal(
    convert({ m: meta({ combined_sha256: H("f") }), s: root("squashfs", "1") }).length,
    0,
  );
});

test("toImages() drops only the pair whose combined hash is missing", () => {
  const images = convert({
    m: meta({ combined_squashfs_sha256: H("a") }),
    s: root("squashfs", "1"),
    k: root("disk-kvm.img", "3"),
    t: root("root.tar.xz", "2"),
  });
  assert.deepEqual(images.map((i) => i.fingerprint), [H("a")]);
});

test("toImages() turns lxd_combined.tar.gz and incus_combined.tar.gz into unified images", () => {
  const lxd = { ftype: "lxd_combined.tar.gz", path: "a/b/c.tar.gz", size: 5, sha256: H("9") };
  const [image] = convert({ c: lxd });
  assert.equal(image.fingerprint, H("9"));
  assert.equal(image.type, "container");
  assert.equal(image.properties.type, "tar.gz");
  assert.equal(image.root, undefined);
  assert.equal(image.size, 5);
  assert.equal(image.filename, "c.tar.gz");
  // Incus's combined_type can make it a VM; the LXD twin of the same file is then dropped.
  const incus = { ...lxd, ftype: "incus_combined.tar.gz", combined_type: "virtual-machine" };
  const both = convert({ c: lxd, i: incus });
  assert.deepEqual(both.map((i) => [i.fingerprint, i.type]), [[H("9"), "virtual-machine"]]);
});

test("toImages() treats incus.tar.xz like lxd.tar.xz and lists an image both name once", () => {
  const combined = { combined_squashfs_sha256: H("a") };
  const s = root("squashfs", "1");
  const incusOnly = convert({ i: meta(combined, "incus.tar.xz"), s });
  assert.deepEqual(incusOnly.map((i) => i.fingerprint), [H("a")]);
  const both = convert({ l: meta(combined), i: meta(combined, "incus.tar.xz"), s });
  assert.deepEqual(both.map((i) => i.fingerprint), [H("a")]);
});

test("toImages() ignores deltas, manifests and other unknown items", () => {
  const images = convert({
    m: meta({ combined_squashfs_sha256: H("a") }),
    s: root("squashfs", "1"),
    d: { ...root("squashfs.vcdiff", "7"), delta_base: "20240101_13:00" },
    k: { ...root("disk-kvm.img.vcdiff", "8"), delta_base: "20240101_13:00" },
    x: root("manifest", "6"),
    g: { ftype: "lxd.tar.xz.sjson", path: "x.sjson", size: 1, sha256: H("5") },
  });
  assert.deepEqual(images.map((i) => [i.fingerprint, i.meta.sha256, i.root?.sha256]), [
    [H("a"), H("0"), H("1")],
  ]);
});

test("toImages() sets LXD's properties, sizes, file name and dates", () => {
  const [image] = convert(
    { m: meta({ combined_squashfs_sha256: H("a") }), s: root("squashfs", "1", 4096) },
    {
      os: "ubuntu",
      release: "jammy",
      release_title: "22.04 LTS",
      version: "22.04",
      variant: "cloud",
      support_eol: "2027-06-01",
      lxd_requirements: { secureboot: "false" },
    },
  );
  assert.deepEqual(image.properties, {
    os: "ubuntu",
    release: "jammy",
    version: "22.04",
    architecture: "amd64",
    serial: "20240301_13:00",
    description: "ubuntu 22.04 LTS amd64 (20240301_13:00)",
    type: "squashfs",
    variant: "cloud",
    "requirements.secureboot": "false",
  });
  assert.equal(image.architecture, "x86_64");
  assert.equal(image.size, 4196);
  assert.equal(image.filename, "meta.tar.xz");
  assert.equal(image.public, true);
  assert.equal(image.created_at, "2024-03-01T00:00:00Z");
  assert.equal(image.uploaded_at, "2024-03-01T00:00:00Z");
  assert.equal(image.expires_at, "2027-06-01T00:00:00Z");
  assert.deepEqual(image.aliases, [{ name: "alpine/3.19", description: "" }]);
});

test("toImages() puts the version label in the description and drops empty properties", () => {
  const doc = {
    products: {
      p: {
        arch: "arm64",
        os: "Alpine",
        release: "",
        release_title: "3.19",
        aliases: "a,b/c",
        support_eol: "bad",
        versions: {
          "20240301": {
            label: "release",
            items: { c: { ftype: "lxd_combined.tar.gz", path: "c", size: 1, sha256: H("9") } },
          },
        },
      },
    },
  };
  const [image] = toImages(parseProducts(doc, "p.json"));
  assert.deepEqual(image.properties, {
    os: "Alpine",
    architecture: "arm64",
    label: "release",
    serial: "20240301",
    description: "Alpine 3.19 arm64 (release) (20240301)",
    type: "tar.gz",
  });
  assert.equal(image.architecture, "aarch64");
  assert.equal(image.expires_at, "1970-01-01T00:00:00Z");
  assert.deepEqual(image.aliases.map((a) => a.name), ["a", "b/c"]);
});

test("toImages() skips products of unknown architectures silently", () => {
  const items = { m: meta({ combined_squashfs_sha256: H("a") }), s: root("squashfs", "1") };
  assert.equal(convert(items, { arch: "sparc64" }).length, 0);
  assert.equal(convert(items, { arch: "" }).length, 0);
  assert.equal(convert(items, { arch: "ppc64el" })[0].architecture, "ppc64le");
});

test("toImages() drops images whose hashes it could not verify", () => {
  const s = root("squashfs", "1");
  assert.equal(convert({ m: meta({ combined_squashfs_sha256: "abc" }), s }).length, 0);
  assert.equal(
    convert({ m: { ...meta({ combined_squashfs_sha256: H("a") }), sha256: "" }, s })
      .length,
    0,
  );
  assert.equal(
    convert({ m: meta({ combined_squashfs_sha256: H("a") }), s: { ...s, sha256: "" } })
      .length,
    0,
  );
  // Upper-case hex is accepted and normalised.
  const upper = convert({ m: meta({ combined_squashfs_sha256: H("A") }), s });
  assert.equal(upper[0].fingerprint, H("a"));
});
