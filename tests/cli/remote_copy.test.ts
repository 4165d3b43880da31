/**
 * list/info/copy/export/import/refresh/gc against a loopback LXD stand-in whose alias moves to
 * a new image between calls, in-process.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { makeUnified } from "../helpers.ts";
import {
  type FakeImage,
  fakeImage,
  type FakeLxd,
  startLxd,
} from "../plugins/remotes/lxd_server.ts";
import { type CliOptions, sandbox } from "./harness.ts";

const box = sandbox();
const env = { XDG_CONFIG_HOME: join(box.dir, "config"), HOME: box.dir };
const cli = (args: string[], opts: CliOptions = {}) => box.cli(args, { env, ...opts });
let server: FakeLxd;
let v1: FakeImage;
let v2: FakeImage;
let other: FakeImage;

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, 0, `imago ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function record(ref: string) {
  const store = await box.open();
  try {
    return store.resolve(ref);
  } finally {
    store.close();
  }
}

before(async () => {
  v1 = fakeImage(box.dir, "v1", { aliases: ["rolling", "v1"], description: "Version 1" });
  v2 = fakeImage(box.dir, "v2", { split: true, aliases: ["v2"], description: "Version 2" });
  other = fakeImage(box.dir, "other", { aliases: ["other"] });
  server = await startLxd([v1, v2, other]);
  await ok(["remote", "add", "t", server.url, "--public", "--accept-certificate"]);
});
after(async () => {
  await server.close();
  box.cleanup();
});

test("list t: and info t:ALIAS show the remote's images", async () => {
  const json = JSON.parse(await ok(["list", "t:", "--format", "json"]));
  assert.deepEqual(
    json.map((i: { fingerprint: string }) => i.fingerprint).sort(),
    [v1, v2, other].map((i) => i.fingerprint).sort(),
  );
  const filtered = await ok(["list", "t:rolling", "--format", "csv", "-c", "lF"]);
  assert.equal(filtered, `v1 (1 more),${v1.fingerprint}\n`);
  const info = await ok(["info", "t:rolling"]);
  assert.match(info, new RegExp(`^Fingerprint: ${v1.fingerprint}$`, "m"));
  assert.match(info, /description: Version 1/);
  const missing = await cli(["info", "t:nothing"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Image "nothing" not found on "https:/);
});

test("copy t:ALIAS --alias --auto-update records the source and moves a same-named local alias", async () => {
  await ok(["copy", "t:other", "local:", "--alias", "mine"]);
  assert.equal((await record("mine")).fingerprint, other.fingerprint);
  const out = await ok(["copy", "t:rolling", "--alias", "mine", "--copy-aliases", "--auto-update"]);
  assert.match(out, /Image copied successfully!/);
  const rec = await record("mine");
  assert.equal(rec.fingerprint, v1.fingerprint);
  assert.deepEqual(rec.aliases.map((a) => a.name).sort(), ["mine", "rolling", "v1"]);
  assert.equal(rec.auto_update, true);
  assert.equal(rec.cached, false);
  assert.equal(rec.public, false);
  assert.deepEqual(rec.properties, v1.properties);
  assert.equal(rec.update_source?.alias, "rolling");
  assert.equal(rec.update_source?.protocol, "lxd");
  assert.equal(rec.update_source?.server, server.url);
  assert.match(rec.update_source?.certificate ?? "", /BEGIN CERTIFICATE/);
  // By fingerprint: no source to follow.
  await ok(["copy", `t:${v2.fingerprint}`]);
  assert.equal((await record(v2.fingerprint)).update_source, undefined);
});

test("refresh pulls the new image when the source alias moved, and carries the aliases", async () => {
  assert.match(await ok(["refresh"]), /is up to date/);
  // The server's "rolling" now names v2 (a split image).
  v1.aliases = v1.aliases.filter((a) => a.name !== "rolling");
  v2.aliases.push({ name: "rolling", description: "" });
  const out = await ok(["refresh"]);
  assert.match(out, new RegExp(`updated to ${v2.fingerprint}`));
  const rec = await record("mine");
  assert.equal(rec.fingerprint, v2.fingerprint);
  assert.equal(rec.auto_update, true);
  assert.equal(rec.update_source?.alias, "rolling");
  assert.ok(
    await box.open().then((s) => {
      const gone = s.get(v1.fingerprint) === undefined;
      s.close();
      return gone;
    }),
    "the old image is deleted",
  );
  await ok(["import", makeUnified(box.dir, "localonly"), "--alias", "localonly"]);
  const named = await cli(["refresh", "localonly"]);
  assert.equal(named.code, 2);
  assert.match(named.stderr, /has no source/);
});

test("export t:REF pulls the image as cached first, and gc removes it once expired", async () => {
  const dir = join(box.dir, "out");
  (await import("node:fs")).mkdirSync(dir);
  await ok(["export", "t:other", dir]);
  assert.deepEqual(readdirSync(dir), [`${other.fingerprint}.tar.gz`]);
  // "other" was copied explicitly before: it stays not cached.
  assert.equal((await record(other.fingerprint)).cached, false);
  server.images.push(fakeImage(box.dir, "cacheme", { aliases: ["cacheme"] }));
  await ok(["export", "t:cacheme", dir]);
  const cached = await record(server.images.at(-1)!.fingerprint);
  assert.equal(cached.cached, true);
  assert.match(await ok(["gc"]), /No expired cached images/);
  const store = await box.open();
  store.records.db.prepare("UPDATE images SET uploaded_at = ? WHERE fingerprint = ?")
    .run("2020-01-01T00:00:00Z", cached.fingerprint);
  store.close();
  assert.match(await ok(["gc"]), new RegExp(`Deleted expired cached image ${cached.fingerprint}`));
  const after = JSON.parse(await ok(["list", "--format", "json"]));
  assert.ok(!after.some((i: { fingerprint: string }) => i.fingerprint === cached.fingerprint));
  assert.ok(after.some((i: { fingerprint: string }) => i.fingerprint === other.fingerprint));
});

test("import https://… takes a static URL, pinned by a remote at the same origin", async () => {
  const extra = fakeImage(box.dir, "static", { aliases: ["static"] });
  server.images.push(extra);
  const out = await ok(["import", `${server.url}/static/static`, "--alias", "from-url"]);
  assert.match(out, new RegExp(`Image imported with fingerprint: ${extra.fingerprint}`));
  assert.equal((await record("from-url")).fingerprint, extra.fingerprint);
  const head = server.requests.find((r) => r.method === "HEAD");
  assert.match(String(head?.headers["lxd-server-architectures"]), /^[\w]+(, [\w]+)*$/);
  const plain = await cli(["import", "http://127.0.0.1:1/x"]);
  assert.equal(plain.code, 2);
  assert.match(plain.stderr, /Only https:\/\/ is supported/);
});
