import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../src/serve/app.ts";
import { makeSelfSigned, pemToDer } from "../../src/serve/tls.ts";
import { TrustList } from "../../src/serve/trust.ts";
import { addUnified, makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { call } from "./request.ts";

let fx: ServeFixture;
before(async () => {
  fx = await makeServeFixture();
});
after(() => fx.cleanup());

const publicFps = () =>
  [fx.pubUnified, fx.pubSplit, fx.pubVm, fx.pubArm].map((r) => r.fingerprint).sort();

test('GET / answers LXD\'s ["/1.0"] to lxc and the catalogue to browsers', async () => {
  const app = createApp(fx.store);
  for (const accept of [undefined, "*/*", "application/json", "text/html;q=0.5, */*"]) {
    const r = await call(app, "/", { headers: accept ? { Accept: accept } : {} });
    assert.equal(r.status, 200, `Accept ${accept}`);
    assert.deepEqual(r.json.metadata, ["/1.0"], `Accept ${accept}`);
    assert.equal(r.json.type, "sync");
  }
  const html = await call(app, "/", {
    headers: { Accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
  });
  assert.match(html.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(html.text, /<table id="images">/);
});

test("GET /1.0 gives the untrusted server info LXD gives", async () => {
  const r = await call(createApp(fx.store), "/1.0?project=default&target=x");
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, {
    type: "sync",
    status: "Success",
    status_code: 200,
    operation: "",
    error_code: 0,
    error: "",
    metadata: {
      api_extensions: ["api_filtering"],
      api_status: "stable",
      api_version: "1.0",
      auth: "untrusted",
      public: true,
      auth_methods: ["tls"],
    },
  });
});

test("GET /1.0/images lists public fingerprints as URLs, objects with recursion=1", async () => {
  const app = createApp(fx.store);
  const r0 = await call(app, "/1.0/images?project=default");
  assert.deepEqual(r0.json.metadata, publicFps().map((fp) => `/1.0/images/${fp}`));
  const r1 = await call(app, "/1.0/images?recursion=1&filter=");
  assert.deepEqual(
    r1.json.metadata.map((i: { fingerprint: string }) => i.fingerprint),
    publicFps(),
  );
  const u = r1.json.metadata.find((i: { fingerprint: string }) =>
    i.fingerprint === fx.pubUnified.fingerprint
  );
  assert.deepEqual(Object.keys(u), [
    "auto_update",
    "properties",
    "public",
    "expires_at",
    "profiles",
    "aliases",
    "architecture",
    "cached",
    "filename",
    "fingerprint",
    "size",
    "type",
    "created_at",
    "last_used_at",
    "uploaded_at",
  ]);
  assert.deepEqual(u.aliases, [{ name: "pub-unified", description: "pub-u alias" }]);
  assert.equal(u.size, fx.pubUnified.size);
  assert.equal(u.type, "container");
});

test("GET /1.0/images applies filter= clauses", async () => {
  const app = createApp(fx.store);
  const fps = async (filter: string) =>
    (await call(app, `/1.0/images?recursion=1&filter=${encodeURIComponent(filter)}`)).json
      .metadata.map((i: { fingerprint: string }) => i.fingerprint).sort();
  assert.deepEqual(await fps("architecture eq aarch64"), [fx.pubArm.fingerprint]);
  assert.deepEqual(await fps("type eq virtual-machine"), [fx.pubVm.fingerprint]);
  assert.deepEqual(
    await fps("properties.release eq u1"),
    [fx.pubUnified.fingerprint, fx.pubArm.fingerprint].sort(),
  );
  assert.deepEqual(
    await fps("not properties.release eq u1 and type eq container"),
    [fx.pubSplit.fingerprint],
  );
  assert.deepEqual(await fps(`properties.description eq "Public VM"`), [fx.pubVm.fingerprint]);
  assert.deepEqual(await fps("properties.os eq secretos"), []);
  const bad = await call(app, "/1.0/images?filter=architecture%20like%20x");
  assert.equal(bad.status, 400);
  assert.equal(bad.json.type, "error");
  assert.match(bad.json.error, /^Invalid filter: unknown operator "like"/);
});

test("GET /1.0/images/<fp> accepts a full fingerprint or a unique prefix", async () => {
  const app = createApp(fx.store);
  const fp = fx.pubSplit.fingerprint;
  for (const ref of [fp, fp.slice(0, 12), fp.toUpperCase()]) {
    const r = await call(app, `/1.0/images/${ref}?project=default`);
    assert.equal(r.status, 200, ref);
    assert.equal(r.json.metadata.fingerprint, fp);
  }
  const missing = await call(app, "/1.0/images/nothere");
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error, 'Image "nothere" not found');
});

test("a prefix shared by a public and a private image names the public one for untrusted clients", async () => {
  // Any public image will do: look for a private one sharing a prefix with exactly one of them.
  let target = "";
  let prefix = "";
  for (let i = 0; i < 200 && !prefix; i++) {
    const rec = await addUnified(fx.store, fx.dir, `prefix-${i}`, { public: false });
    for (const pub of publicFps()) {
      let n = 0;
      while (rec.fingerprint[n] === pub[n]) n++;
      const p = pub.slice(0, n);
      if (n > 0 && publicFps().filter((f) => f.startsWith(p)).length === 1) {
        [target, prefix] = [pub, p];
        break;
      }
    }
    if (!prefix) await fx.store.delete(rec.fingerprint);
  }
  assert.ok(prefix, "found a private image sharing a prefix with the public one");
  const r = await call(createApp(fx.store), `/1.0/images/${prefix}`);
  assert.equal(r.status, 200);
  assert.equal(r.json.metadata.fingerprint, target);
  const trusted = await call(trustedApp(), `/1.0/images/${prefix}`);
  assert.equal(trusted.status, 500);
  assert.match(trusted.json.error, /more than one image matches/);
});

/** An app whose every request comes with a certificate in the trust list. */
function trustedApp() {
  const { cert } = makeSelfSigned(["client"]);
  const list = new TrustList(fx.store);
  list.add(cert, `client-${Math.random()}`);
  return createApp(fx.store, { clientCertificate: () => pemToDer(cert) });
}

test("a private image answers exactly like a missing one on every endpoint", async () => {
  const app = createApp(fx.store);
  const priv = fx.privSplit;
  const missing = "0".repeat(64);
  const files = fx.store.files(priv.fingerprint);
  const pairs: [string, string, string, string][] = [
    [`/1.0/images/${priv.fingerprint}`, `/1.0/images/${missing}`, priv.fingerprint, missing],
    [
      `/1.0/images/${priv.fingerprint}/export`,
      `/1.0/images/${missing}/export`,
      priv.fingerprint,
      missing,
    ],
    ["/1.0/images/aliases/priv-split", "/1.0/images/aliases/none-such", "priv-split", "none-such"],
    ["/static/priv-unified", "/static/none-such-xx", "priv-unified", "none-such-xx"],
    [
      `/images/${priv.fingerprint}/${files.metadata.name}`,
      `/images/${missing}/${files.metadata.name.replace(priv.fingerprint, missing)}`,
      priv.fingerprint,
      missing,
    ],
  ];
  for (const [a, b, nameA, nameB] of pairs) {
    for (const method of ["GET", "HEAD"]) {
      const ra = await call(app, a, { method });
      const rb = await call(app, b, { method });
      assert.equal(ra.status, 404, `${method} ${a}`);
      assert.equal(ra.status, rb.status, `${method} ${a} vs ${b}`);
      assert.equal(ra.text.replaceAll(nameA, "NAME"), rb.text.replaceAll(nameB, "NAME"));
      assert.deepEqual([...ra.headers], [...rb.headers]);
    }
  }
});

test("lists, simplestreams and the catalogue never mention private images", async () => {
  const app = createApp(fx.store);
  const secrets = [
    fx.privUnified.fingerprint,
    fx.privSplit.fingerprint,
    fx.privUnified.fingerprint.slice(0, 12),
    "priv-unified",
    "priv-split",
    "secretos",
  ];
  for (
    const path of [
      "/1.0/images",
      "/1.0/images?recursion=1",
      "/1.0/images?recursion=2",
      "/1.0/images/aliases",
      "/1.0/images/aliases?recursion=1",
      "/streams/v1/index.json",
      "/streams/v1/images.json",
    ]
  ) {
    const r = await call(app, path);
    assert.equal(r.status, 200, path);
    for (const s of secrets) assert.ok(!r.text.includes(s), `${path} mentions ${s}`);
  }
  const html = await call(app, "/", { headers: { Accept: "text/html" } });
  for (const s of secrets) assert.ok(!html.text.includes(s), `catalogue mentions ${s}`);
});

test("a trusted client certificate unlocks private images", async () => {
  const app = trustedApp();
  const info = await call(app, "/1.0");
  assert.equal(info.json.metadata.auth, "trusted");
  const list = await call(app, "/1.0/images");
  assert.ok(list.json.metadata.includes(`/1.0/images/${fx.privSplit.fingerprint}`));
  const alias = await call(app, "/1.0/images/aliases/priv-split");
  assert.equal(alias.json.metadata.target, fx.privSplit.fingerprint);
  // An unknown certificate is just untrusted.
  const { cert } = makeSelfSigned(["stranger"]);
  const stranger = createApp(fx.store, { clientCertificate: () => pemToDer(cert) });
  assert.equal((await call(stranger, "/1.0")).json.metadata.auth, "untrusted");
  assert.equal((await call(stranger, "/1.0/images/aliases/priv-split")).status, 404);
});

test("GET /1.0/images/aliases/<name> decodes the raw remainder once (%2F is part of the name)", async () => {
  fx.store.createAlias("team/web image", fx.pubSplit.fingerprint, "slashy");
  fx.store.createAlias("100%", fx.pubSplit.fingerprint);
  const app = createApp(fx.store);
  const r = await call(app, "/1.0/images/aliases/team%2Fweb%20image?project=default");
  assert.equal(r.status, 200);
  assert.deepEqual(r.json.metadata, {
    description: "slashy",
    target: fx.pubSplit.fingerprint,
    name: "team/web image",
    type: "container",
  });
  assert.equal((await call(app, "/1.0/images/aliases/100%25")).json.metadata.name, "100%");
  const list = await call(app, "/1.0/images/aliases");
  assert.ok(list.json.metadata.includes("/1.0/images/aliases/team%2Fweb%20image"));
  const vm = await call(app, "/1.0/images/aliases/pub-vm");
  assert.equal(vm.json.metadata.type, "virtual-machine");
  fx.store.deleteAlias("team/web image");
  fx.store.deleteAlias("100%");
});

test("known routes closed to untrusted clients answer 403, unknown ones 404", async () => {
  const app = createApp(fx.store);
  const fp = fx.pubUnified.fingerprint;
  const forbidden: [string, string][] = [
    ["POST", "/1.0/images"],
    ["PUT", `/1.0/images/${fp}`],
    ["PATCH", `/1.0/images/${fp}`],
    ["DELETE", `/1.0/images/${fp}`],
    ["POST", `/1.0/images/${fp}/export`],
    ["POST", `/1.0/images/${fp}/secret`],
    ["POST", "/1.0/images/aliases"],
    ["DELETE", "/1.0/images/aliases/pub-unified"],
    ["GET", "/1.0/operations"],
    ["GET", "/1.0/operations/abc/wait"],
    ["GET", "/1.0/certificates"],
    ["GET", "/1.0/instances"],
    ["GET", "/1.0/events"],
  ];
  for (const [method, path] of forbidden) {
    const r = await call(app, path, { method });
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.equal(r.json.error, "not authorized");
    assert.equal(r.json.error_code, 403);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  }
  for (const path of ["/2.0", "/1.0/nothing", "/streams/v1/other.json", "/favicon.ico"]) {
    const r = await call(app, path);
    assert.equal(r.status, 404, path);
    assert.deepEqual(r.json, {
      type: "error",
      status: "",
      status_code: 0,
      operation: "",
      error_code: 404,
      error: "not found",
      metadata: null,
    });
  }
  const t = await call(trustedApp(), `/1.0/images/${fp}`, { method: "DELETE" });
  assert.equal(t.status, 501);
});

test("createApp() sees images imported and published after it was built", async () => {
  const app = createApp(fx.store);
  const before = (await call(app, "/1.0/images")).json.metadata.length;
  const rec = await addUnified(fx.store, fx.dir, "late", { public: true, alias: "late" });
  assert.equal((await call(app, "/1.0/images")).json.metadata.length, before + 1);
  assert.equal((await call(app, "/1.0/images/aliases/late")).status, 200);
  fx.store.update(rec.fingerprint, {
    public: false,
    auto_update: false,
    properties: rec.properties,
    expires_at: rec.expires_at,
    profiles: rec.profiles,
  });
  assert.equal((await call(app, "/1.0/images/aliases/late")).status, 404);
  await fx.store.delete(rec.fingerprint);
  assert.equal((await call(app, "/1.0/images")).json.metadata.length, before);
});
