/** The static URL protocol ("direct") against a loopback HTTPS server. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { IntegrityError, RemoteError } from "../../../src/core/errors.ts";
import { pullImage } from "../../../src/core/pull.ts";
import { Store } from "../../../src/core/store.ts";
import { direct, serverArchitectures } from "../../../src/plugins/remotes/direct.ts";
import { makeSplit, makeUnified, tempDir } from "../../helpers.ts";
import { startHttps, type TestServer } from "./tls_helpers.ts";

const tmp = tempDir("imago-direct-");
let server: TestServer;
let unified: Uint8Array;
let metaOnly: Uint8Array;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

before(async () => {
  unified = new Uint8Array(readFileSync(makeUnified(tmp.path, "u", { compression: "gz" })));
  metaOnly = new Uint8Array(readFileSync(makeSplit(tmp.path, "s", { compression: "gz" }).metadata));
  server = await startHttps((req, res) => {
    const path = new URL(req.url ?? "/", "https://x").pathname;
    const file = (p: string) => `${server.url}/files${p}`;
    const heads: Record<string, Record<string, string>> = {
      "/good": { "LXD-Image-Hash": sha(unified), "LXD-Image-URL": file("/u.tar.gz") },
      "/incus": { "Incus-Image-Hash": sha(unified), "Incus-Image-URL": file("/u.tar.gz") },
      "/liar": { "LXD-Image-Hash": "b".repeat(64), "LXD-Image-URL": file("/u.tar.gz") },
      "/nohash": { "LXD-Image-URL": file("/u.tar.gz") },
      "/nourl": { "LXD-Image-Hash": sha(unified) },
      "/split": { "LXD-Image-Hash": sha(metaOnly), "LXD-Image-URL": file("/multi") },
      "/metaonly": { "LXD-Image-Hash": sha(metaOnly), "LXD-Image-URL": file("/m.tar.gz") },
    };
    if (req.method === "HEAD") return void res.writeHead(200, heads[path] ?? {}).end();
    if (path === "/files/u.tar.gz") return void res.writeHead(200).end(unified);
    if (path === "/files/m.tar.gz") return void res.writeHead(200).end(metaOnly);
    if (path === "/files/multi") {
      return void res.writeHead(200, { "content-type": "multipart/form-data; boundary=x" })
        .end("--x--\r\n");
    }
    res.writeHead(404).end();
  });
});
after(async () => {
  await server.close();
  tmp.cleanup();
});

async function importFrom(path: string, storeName: string) {
  const remote = await direct.connect(new URL(`${server.url}${path}`), {
    certificate: server.cert,
  });
  const store = await Store.open(`${tmp.path}/${storeName}`);
  try {
    const img = await remote.resolve("", { arch: "x86_64" });
    return await pullImage(store, remote, img);
  } finally {
    store.close();
  }
}

async function storeIsEmpty(storeName: string) {
  const store = await Store.open(`${tmp.path}/${storeName}`);
  try {
    assert.deepEqual(store.list(), []);
  } finally {
    store.close();
  }
}

test("direct sends the host architectures and versions, then imports the unified file", async () => {
  const r = await importFrom("/good", "good");
  assert.equal(r.image.fingerprint, sha(unified));
  assert.equal(r.image.properties.description, "Test image"); // from metadata.yaml
  const head = server.requests.find((q) => q.method === "HEAD" && q.url === "/good")!;
  assert.equal(head.headers["lxd-server-architectures"], "x86_64, i686");
  assert.equal(head.headers["incus-server-architectures"], "x86_64, i686");
  assert.match(String(head.headers["lxd-server-version"]), /^\d+\.\d+/);
  assert.match(String(head.headers["incus-server-version"]), /^\d+\.\d+/);
  assert.equal(serverArchitectures("aarch64"), "aarch64, armv6l, armv7l, armv8l");
});

test("direct accepts the Incus header names", async () => {
  assert.equal((await importFrom("/incus", "incus")).image.fingerprint, sha(unified));
});

test("direct refuses bytes that do not match LXD-Image-Hash exactly, storing nothing", async () => {
  await assert.rejects(importFrom("/liar", "liar"), IntegrityError);
  await storeIsEmpty("liar");
});

test("direct needs both LXD-Image-Hash and LXD-Image-URL", async () => {
  await assert.rejects(
    importFrom("/nohash", "nohash"),
    (e: Error) => e instanceof RemoteError && /missing LXD-Image-Hash header/.test(e.message),
  );
  await assert.rejects(importFrom("/nourl", "nourl"), /missing LXD-Image-URL header/);
});

test("direct refuses split images: a multipart answer or a metadata-only file", async () => {
  await assert.rejects(importFrom("/split", "split"), /must give a unified image/);
  await assert.rejects(importFrom("/metaonly", "metaonly"), /neither rootfs\/ nor rootfs\.img/);
  await storeIsEmpty("metaonly");
});

test("direct.connect() refuses plain http", async () => {
  await assert.rejects(
    direct.connect(new URL("http://127.0.0.1:1/x"), {}),
    /Only https:\/\/ is supported for remote image import/,
  );
});
