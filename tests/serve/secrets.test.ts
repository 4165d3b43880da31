import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { ImageRecord } from "../../src/core/model.ts";
import { createApp } from "../../src/serve/app.ts";
import { hideSecrets, ImageSecrets } from "../../src/serve/secrets.ts";
import { makeSelfSigned, pemToDer } from "../../src/serve/tls.ts";
import { TrustList } from "../../src/serve/trust.ts";
import { makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { type Answer, call } from "./request.ts";

let fx: ServeFixture;
let der: Uint8Array;
before(async () => {
  fx = await makeServeFixture();
  const { cert } = makeSelfSigned(["client"]);
  new TrustList(fx.store).add(cert, "secrets test client");
  der = pemToDer(cert);
});
after(() => fx.cleanup());

const MISSING = "0".repeat(64);
const TTL = 60_000;
const RESUME = 10_000;

/** One app with its own secrets and clock; requests with `trusted` carry the trusted cert. */
function setup() {
  const clock = { now: 1_700_000_000_000 };
  const secrets = new ImageSecrets({ ttlMs: TTL, resumeMs: RESUME, now: () => clock.now });
  const app = createApp(fx.store, {
    secrets,
    clientCertificate: (c) => c.req.header("X-Test-Trusted") === "1" ? der : undefined,
  });
  const trusted = (path: string, init: RequestInit = {}) =>
    call(app, path, { ...init, headers: { ...init.headers, "X-Test-Trusted": "1" } });
  const untrusted = (path: string, init: RequestInit = {}) => call(app, path, init);
  const secretFor = async (ref: string) => {
    const r = await trusted(`/1.0/images/${ref}/secret`, { method: "POST", body: "{}" });
    assert.equal(r.status, 202, r.text);
    return { secret: r.json.metadata.metadata.secret as string, id: r.json.metadata.id as string };
  };
  return { clock, app, trusted, untrusted, secretFor };
}

/** Asserts `r` is exactly what an unknown fingerprint gets at the same path. */
async function assertMissing(
  untrusted: (path: string, init?: RequestInit) => Promise<Answer>,
  r: Answer,
  fp: string,
  suffix: string,
  method = "GET",
) {
  const missing = await untrusted(`/1.0/images/${MISSING}${suffix}`, { method });
  const plain = await untrusted(`/1.0/images/${fp}${suffix}`, { method });
  assert.equal(r.status, 404);
  assert.equal(r.status, missing.status);
  assert.equal(r.text, missing.text.replaceAll(MISSING, fp));
  assert.equal(r.text, plain.text);
  assert.deepEqual([...r.headers], [...missing.headers]);
}

/** A body with its multipart boundary replaced, so two answers compare byte for byte. */
function unbounded(r: Answer): string {
  const boundary = /boundary=([^;]+)/.exec(r.headers.get("content-type") ?? "")?.[1];
  const text = Buffer.from(r.body).toString("latin1");
  return boundary ? text.replaceAll(boundary, "BOUNDARY") : text;
}

test("POST /1.0/images/<fp>/secret gives a trusted client LXD's token operation", async () => {
  const { trusted } = setup();
  const fp = fx.privUnified.fingerprint;
  const r = await trusted(`/1.0/images/${fp.slice(0, 10)}/secret`, { method: "POST" });
  assert.equal(r.status, 202);
  assert.equal(r.json.type, "async");
  assert.equal(r.json.status_code, 100);
  const op = r.json.metadata;
  assert.match(op.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(r.json.operation, `/1.0/operations/${op.id}`);
  assert.equal(r.headers.get("location"), `/1.0/operations/${op.id}`);
  assert.equal(op.class, "token");
  assert.equal(op.status, "Running");
  assert.equal(op.status_code, 103);
  assert.equal(op.may_cancel, true);
  assert.deepEqual(op.resources, { images: [`/1.0/images/${fp}`] });
  assert.match(op.metadata.secret, /^[0-9a-f]{64}$/);

  const got = await trusted(`/1.0/operations/${op.id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(got.json.metadata, op);
  const list = await trusted("/1.0/operations");
  assert.deepEqual(list.json.metadata, { running: [`/1.0/operations/${op.id}`] });
  const deep = await trusted("/1.0/operations?recursion=1");
  assert.deepEqual(deep.json.metadata, { running: [op] });
  const other = await trusted(`/1.0/images/${fp}/secret`, { method: "POST" });
  assert.notEqual(other.json.metadata.metadata.secret, op.metadata.secret);

  const missing = await trusted(`/1.0/images/${MISSING}/secret`, { method: "POST" });
  const missingGet = await trusted(`/1.0/images/${MISSING}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.text, missingGet.text);
  assert.equal((await trusted(`/1.0/operations/${MISSING}`)).status, 404);
});

test("a secret lets an untrusted client read the private record and download it", async () => {
  const { trusted, untrusted, secretFor } = setup();
  for (const rec of [fx.privUnified, fx.privSplit]) {
    const fp = rec.fingerprint;
    const { secret } = await secretFor(fp);
    // The order an LXD daemon uses: the record, then the export, same secret.
    const info = await untrusted(`/1.0/images/${fp}?secret=${secret}`);
    assert.equal(info.status, 200, info.text);
    assert.deepEqual(info.json, (await trusted(`/1.0/images/${fp}`)).json);
    const head = await untrusted(`/1.0/images/${fp}/export?secret=${secret}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    const got = await untrusted(`/1.0/images/${fp}/export?project=default&secret=${secret}`);
    assert.equal(got.status, 200);
    const want = await trusted(`/1.0/images/${fp}/export`);
    assert.equal(unbounded(got), unbounded(want));
    if (!rec.files.rootfs) {
      const files = fx.store.files(fp);
      assert.deepEqual(got.body, new Uint8Array(readFileSync(files.metadata.path)));
    }
  }
});

test("a wrong, foreign, used or expired secret answers exactly like a missing image", async () => {
  const { clock, untrusted, secretFor } = setup();
  const priv: ImageRecord = fx.privUnified;
  const fp = priv.fingerprint;
  const wrong = "f".repeat(64);
  const foreign = (await secretFor(fx.privSplit.fingerprint)).secret;
  for (const suffix of ["", "/export"]) {
    for (const s of [wrong, foreign, "", "x"]) {
      const r = await untrusted(`/1.0/images/${fp}${suffix}?secret=${s}`);
      await assertMissing(untrusted, r, fp, suffix);
    }
  }
  // Single use: after one download, neither the record nor a second download.
  const { secret } = await secretFor(fp);
  assert.equal((await untrusted(`/1.0/images/${fp}/export?secret=${secret}`)).status, 200);
  for (const suffix of ["", "/export"]) {
    const r = await untrusted(`/1.0/images/${fp}${suffix}?secret=${secret}`);
    await assertMissing(untrusted, r, fp, suffix);
  }
  // Expired: an unused secret stops working once its time is up.
  const late = await secretFor(fp);
  clock.now += TTL - 1;
  assert.equal((await untrusted(`/1.0/images/${fp}?secret=${late.secret}`)).status, 200);
  clock.now += 1;
  for (const suffix of ["", "/export"]) {
    const r = await untrusted(`/1.0/images/${fp}${suffix}?secret=${late.secret}`);
    await assertMissing(untrusted, r, fp, suffix);
  }
});

test("a spent secret may only resume its download, and only for a while", async () => {
  const { clock, untrusted, secretFor } = setup();
  const fp = fx.privUnified.fingerprint;
  const size = fx.store.files(fp).metadata.size;
  const { secret } = await secretFor(fp);
  const url = `/1.0/images/${fp}/export?secret=${secret}`;
  assert.equal((await untrusted(url)).status, 200);
  const part = await untrusted(url, { headers: { Range: "bytes=10-" } });
  assert.equal(part.status, 206);
  assert.equal(part.body.byteLength, size - 10);
  clock.now += RESUME;
  const r = await untrusted(url, { headers: { Range: "bytes=10-" } });
  assert.equal(r.status, 404);
  assert.equal(r.text, (await untrusted(`/1.0/images/${fp}/export`)).text);
});

test("untrusted clients can neither create secrets nor see or cancel operations", async () => {
  const { untrusted, trusted, secretFor } = setup();
  const answers: Answer[] = [];
  for (const fp of [fx.privUnified.fingerprint, fx.pubUnified.fingerprint, MISSING]) {
    answers.push(await untrusted(`/1.0/images/${fp}/secret`, { method: "POST", body: "{}" }));
  }
  for (const r of answers) {
    assert.equal(r.status, 403);
    assert.equal(r.text, answers[0].text);
    assert.equal(r.json.error, "not authorized");
  }
  assert.deepEqual((await trusted("/1.0/operations")).json.metadata, {});
  const fp = fx.privUnified.fingerprint;
  const { secret, id } = await secretFor(fp);
  for (const method of ["GET", "DELETE"]) {
    const r = await untrusted(`/1.0/operations/${id}`, { method });
    assert.equal(r.status, 403, method);
    assert.ok(!r.text.includes(secret));
  }
  assert.equal((await untrusted("/1.0/operations")).status, 403);
  assert.equal((await untrusted(`/1.0/images/${fp}?secret=${secret}`)).status, 200);
});

test("DELETE /1.0/operations/<id> revokes the secret", async () => {
  const { trusted, untrusted, secretFor } = setup();
  const fp = fx.privSplit.fingerprint;
  const { secret, id } = await secretFor(fp);
  const del = await trusted(`/1.0/operations/${id}`, { method: "DELETE" });
  assert.equal(del.status, 200);
  assert.equal(del.json.type, "sync");
  for (const suffix of ["", "/export"]) {
    const r = await untrusted(`/1.0/images/${fp}${suffix}?secret=${secret}`);
    await assertMissing(untrusted, r, fp, suffix);
  }
  assert.equal((await trusted(`/1.0/operations/${id}`)).status, 404);
  assert.equal((await trusted(`/1.0/operations/${id}`, { method: "DELETE" })).status, 404);
});

test("hideSecrets() masks secret values in logged URLs and nothing else", () => {
  const s = "ab".repeat(32);
  assert.equal(
    hideSecrets(`/1.0/images/x/export?project=default&secret=${s}`),
    "/1.0/images/x/export?project=default&secret=-",
  );
  assert.equal(hideSecrets(`/1.0/images/x?SECRE%54=${s}&a=1`), "/1.0/images/x?SECRE%54=-&a=1");
  assert.equal(hideSecrets("/1.0/images/x?secrets=1"), "/1.0/images/x?secrets=1");
  assert.equal(hideSecrets("/1.0/images/x"), "/1.0/images/x");
});
