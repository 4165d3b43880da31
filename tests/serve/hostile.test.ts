import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../src/serve/app.ts";
import { makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { call } from "./request.ts";

let fx: ServeFixture;
before(async () => {
  fx = await makeServeFixture();
});
after(() => fx.cleanup());

test("paths with .. or encoded slashes never reach the store's files", async () => {
  const app = createApp(fx.store);
  const fp = fx.pubUnified.fingerprint;
  const paths = [
    "/1.0/images/aliases/..%2F..%2Fimago.db",
    "/1.0/images/aliases/../../imago.db",
    "/1.0/images/%2e%2e/%2e%2e/imago.db",
    `/images/${fp}/..%2F..%2Fimago.db`,
    `/images/${fp}/../../imago.db`,
    `/images/${fp}/%2e%2e%2fserver.key`,
    `/images/..%2Fserver.key/x`,
    "/static/..%2F..%2Fserver.key",
    "/static/../server.key",
    "/server.key",
    "/images/server.key",
    "/1.0/images/aliases/%00",
    "/streams/v1/..%2F..%2Fimago.db",
  ];
  for (const p of paths) {
    const r = await call(app, p);
    assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
    assert.equal(r.json?.type, "error", p);
    assert.ok(!r.text.includes("BEGIN"), `${p} leaked a key or certificate`);
    assert.ok(!r.text.includes("SQLite"), `${p} leaked the database`);
  }
});

test("overlong URLs and names and bad percent-encoding get clean 4xx answers", async () => {
  const app = createApp(fx.store);
  const long = await call(app, `/1.0/images/aliases/${"a".repeat(9000)}`);
  assert.equal(long.status, 414);
  assert.equal(long.json.error_code, 414);
  const name = await call(app, `/1.0/images/aliases/${"b".repeat(2000)}`);
  assert.equal(name.status, 400);
  assert.match(name.json.error, /longer than 1024 characters/);
  const fp = await call(app, `/1.0/images/${"c".repeat(300)}`);
  assert.equal(fp.status, 404);
  const pct = await call(app, "/1.0/images/aliases/%zz%");
  assert.equal(pct.status, 400);
  assert.match(pct.json.error, /bad percent-encoding/);
  const filter = await call(app, `/1.0/images?filter=${"x%20".repeat(2000)}`);
  assert.equal(filter.status, 400);
  // And ordinary requests still work.
  assert.equal((await call(app, "/1.0/images/aliases/pub-unified")).status, 200);
});
