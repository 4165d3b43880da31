import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, truncateSync } from "node:fs";
import { createApp } from "../../src/serve/app.ts";
import { parseRange } from "../../src/serve/downloads.ts";
import { addUnified, makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { call, sha256Hex } from "./request.ts";

let fx: ServeFixture;
before(async () => {
  fx = await makeServeFixture();
});
after(() => fx.cleanup());

const exportPath = (fp: string) => `/1.0/images/${fp}/export?project=default`;

test("parseRange() reads single byte ranges and rejects malformed or unsatisfiable ones", () => {
  assert.deepEqual(parseRange(null, 100), { kind: "full" });
  assert.deepEqual(parseRange("bytes=0-9", 100), { kind: "part", start: 0, end: 9 });
  assert.deepEqual(parseRange("bytes=90-", 100), { kind: "part", start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-10", 100), { kind: "part", start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-500", 100), { kind: "part", start: 0, end: 99 });
  assert.deepEqual(parseRange("bytes=50-5000", 100), { kind: "part", start: 50, end: 99 });
  assert.deepEqual(parseRange("bytes=0-1,5-6", 100), { kind: "full" });
  for (
    const bad of ["bytes=100-", "bytes=5-2", "bytes=abc", "bytes=-", "items=0-1", "bytes=-0", ""]
  ) {
    assert.deepEqual(parseRange(bad, 100), { kind: "bad" }, bad);
  }
});

test("export of a unified image sends the file with LXD's headers", async () => {
  const app = createApp(fx.store);
  const rec = fx.pubUnified;
  const file = readFileSync(fx.store.files(rec.fingerprint).metadata.path);
  const r = await call(app, exportPath(rec.fingerprint));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/octet-stream");
  assert.equal(r.headers.get("content-disposition"), `inline;filename=${rec.fingerprint}.tar.gz`);
  assert.equal(r.headers.get("content-length"), String(file.byteLength));
  assert.equal(r.headers.get("accept-ranges"), "bytes");
  assert.equal(r.headers.get("etag"), `"${rec.fingerprint}"`);
  assert.ok(Date.parse(r.headers.get("last-modified") ?? "") > 0);
  assert.deepEqual(r.body, new Uint8Array(file));
  assert.equal(await sha256Hex(r.body), rec.fingerprint);
});

test("export answers HEAD with the headers and no body", async () => {
  const app = createApp(fx.store);
  const rec = fx.pubUnified;
  const r = await call(app, exportPath(rec.fingerprint), { method: "HEAD" });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-length"), String(rec.size));
  assert.equal(r.body.byteLength, 0);
  const split = await call(app, exportPath(fx.pubSplit.fingerprint), { method: "HEAD" });
  assert.equal(split.status, 200);
  assert.match(split.headers.get("content-type") ?? "", /^multipart\/form-data; boundary=/);
  assert.equal(split.body.byteLength, 0);
});

test("export serves Range requests with 206 and refuses bad ranges with 416", async () => {
  const app = createApp(fx.store);
  const rec = fx.pubUnified;
  const file = new Uint8Array(readFileSync(fx.store.files(rec.fingerprint).metadata.path));
  const part = await call(app, exportPath(rec.fingerprint), { headers: { Range: "bytes=10-19" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-range"), `bytes 10-19/${file.byteLength}`);
  assert.equal(part.headers.get("content-length"), "10");
  assert.deepEqual(part.body, file.subarray(10, 20));
  const tail = await call(app, exportPath(rec.fingerprint), { headers: { Range: "bytes=-7" } });
  assert.deepEqual(tail.body, file.subarray(file.byteLength - 7));
  // Resume: the first part plus the rest is the whole file.
  const rest = await call(app, exportPath(rec.fingerprint), { headers: { Range: "bytes=20-" } });
  const head = await call(app, exportPath(rec.fingerprint), { headers: { Range: "bytes=0-19" } });
  assert.equal(await sha256Hex(head.body, rest.body), rec.fingerprint);
  for (const bad of [`bytes=${file.byteLength}-`, "bytes=9-3", "bytes=x-y", "pages=1-2"]) {
    const r = await call(app, exportPath(rec.fingerprint), { headers: { Range: bad } });
    assert.equal(r.status, 416, bad);
    assert.equal(r.headers.get("content-range"), `bytes */${file.byteLength}`);
    assert.equal(r.json.type, "error");
    assert.equal(r.json.error_code, 416);
  }
  // A stale If-Range means "send it all".
  const stale = await call(app, exportPath(rec.fingerprint), {
    headers: { Range: "bytes=0-1", "If-Range": '"other"' },
  });
  assert.equal(stale.status, 200);
  assert.equal(stale.body.byteLength, file.byteLength);
});

test("export answers If-None-Match with the fingerprint ETag by 304", async () => {
  const app = createApp(fx.store);
  const fp = fx.pubUnified.fingerprint;
  const r = await call(app, exportPath(fp), { headers: { "If-None-Match": `"x", "${fp}"` } });
  assert.equal(r.status, 304);
  assert.equal(r.body.byteLength, 0);
  const other = await call(app, exportPath(fp), { headers: { "If-None-Match": '"x"' } });
  assert.equal(other.status, 200);
  const split = fx.pubSplit.fingerprint;
  const s = await call(app, exportPath(split), { headers: { "If-None-Match": `"${split}"` } });
  assert.equal(s.status, 304);
});

/** Parses multipart/form-data into parts with raw headers and exact bytes. */
function parseMultipart(body: Uint8Array, boundary: string) {
  const latin = new TextDecoder("latin1").decode(body);
  const delim = `--${boundary}`;
  assert.ok(latin.startsWith(`${delim}\r\n`), "body starts with the boundary");
  assert.ok(latin.endsWith(`\r\n${delim}--\r\n`), "body ends with the closing boundary");
  const chunks = latin.slice(delim.length + 2, latin.length - delim.length - 6).split(
    `\r\n${delim}\r\n`,
  );
  let offset = delim.length + 2;
  return chunks.map((chunk) => {
    const sep = chunk.indexOf("\r\n\r\n");
    const head = chunk.slice(0, sep);
    const start = offset + sep + 4;
    const bytes = body.subarray(start, offset + chunk.length);
    offset += chunk.length + delim.length + 4;
    return { head, bytes };
  });
}

test("export of a split image is multipart/form-data that hashes back to the fingerprint", async () => {
  const app = createApp(fx.store);
  for (const rec of [fx.pubSplit, fx.pubVm]) {
    const files = fx.store.files(rec.fingerprint);
    const meta = new Uint8Array(readFileSync(files.metadata.path));
    const root = new Uint8Array(readFileSync(files.rootfs!.path));
    const r = await call(app, exportPath(rec.fingerprint));
    assert.equal(r.status, 200);
    const boundary = /^multipart\/form-data; boundary=([0-9a-f]{60})$/.exec(
      r.headers.get("content-type") ?? "",
    )?.[1];
    assert.ok(boundary, r.headers.get("content-type") ?? "no content-type");
    assert.equal(r.headers.get("content-length"), String(r.body.byteLength));
    const parts = parseMultipart(r.body, boundary);
    assert.equal(parts.length, 2);
    const rootField = rec.type === "virtual-machine" ? "rootfs.img" : "rootfs";
    assert.equal(
      parts[0].head,
      `Content-Disposition: form-data; name="metadata"; filename="${files.metadata.name}"\r\n` +
        "Content-Type: application/octet-stream",
    );
    assert.equal(
      parts[1].head,
      `Content-Disposition: form-data; name="${rootField}"; filename="${files.rootfs!.name}"\r\n` +
        "Content-Type: application/octet-stream",
    );
    assert.deepEqual(parts[0].bytes, meta);
    assert.deepEqual(parts[1].bytes, root);
    assert.equal(await sha256Hex(parts[0].bytes, parts[1].bytes), rec.fingerprint);
    // A standard multipart parser reads it the same way.
    const form = await new Response(r.body as Uint8Array<ArrayBuffer>, {
      headers: { "Content-Type": r.headers.get("content-type")! },
    }).formData();
    const m = form.get("metadata") as File;
    assert.equal(m.name, files.metadata.name);
    assert.deepEqual(new Uint8Array(await m.arrayBuffer()), meta);
    const rf = form.get(rootField) as File;
    assert.deepEqual(new Uint8Array(await rf.arrayBuffer()), root);
  }
});

test("simplestreams file paths serve each file on its own, with Range", async () => {
  const app = createApp(fx.store);
  const files = fx.store.files(fx.pubSplit.fingerprint);
  const root = new Uint8Array(readFileSync(files.rootfs!.path));
  const path = `/images/${fx.pubSplit.fingerprint}/${files.rootfs!.name}`;
  const r = await call(app, path);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, root);
  const p = await call(app, path, { headers: { Range: "bytes=1-2" } });
  assert.equal(p.status, 206);
  assert.deepEqual(p.body, root.subarray(1, 3));
  const wrong = await call(app, `/images/${fx.pubSplit.fingerprint}/other.tar.gz`);
  assert.equal(wrong.status, 404);
});

test("export reports a damaged image file instead of sending a short body", async () => {
  const rec = await addUnified(fx.store, fx.dir, "damaged", { public: true });
  truncateSync(fx.store.files(rec.fingerprint).metadata.path, 10);
  const r = await call(createApp(fx.store), exportPath(rec.fingerprint));
  assert.equal(r.status, 500);
  assert.match(r.json.error, /has 10 bytes on disk but \d+ recorded; run "imago fsck"/);
});
