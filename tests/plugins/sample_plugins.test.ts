/**
 * The sample external plugins of tests/fixtures/plugins (a "dir" remote protocol and a "b64"
 * compressor), loaded from a plugins folder the way imago loads third-party files, then used
 * through the store and the pull pipeline. tests/e2e/plugins.test.ts does the same with the
 * built binary.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidInputError } from "../../src/core/errors.ts";
import { pullImage } from "../../src/core/pull.ts";
import { Store } from "../../src/core/store.ts";
import { concat } from "../../src/core/streams.ts";
import { builtinCompressors, builtinRemotes } from "../../src/plugins/builtin.ts";
import { DETECT_BYTES, detectCompressor } from "../../src/plugins/detect.ts";
import { loadPlugins, type LoadResult } from "../../src/plugins/loader.ts";
import type { Compressor, Remote, RemoteImage } from "../../src/plugins/types.ts";
import { makeSplit, makeUnified, tempDir } from "../helpers.ts";

const SAMPLES = join(import.meta.dirname!, "..", "fixtures", "plugins");

let tmp: ReturnType<typeof tempDir>;
let loaded: LoadResult;
let warnings: string[];
const registries = { compressors: builtinCompressors(), remotes: builtinRemotes() };

before(async () => {
  tmp = tempDir("imago-samples-");
  const dir = join(tmp.path, "plugins");
  mkdirSync(dir);
  for (const f of ["b64_compressor.mjs", "dir_remote.mjs"]) {
    copyFileSync(join(SAMPLES, f), join(dir, f));
  }
  writeFileSync(join(dir, "a_broken.mjs"), "export default { apiVersion: 1, remotes: [{ kind: ");
  writeFileSync(join(dir, "notes.txt"), "not a plugin");
  warnings = [];
  loaded = await loadPlugins(dir, registries, { warn: (m) => warnings.push(m) });
});
after(() => tmp.cleanup());

const b64 = (): Compressor => registries.compressors.get("b64");

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  return concat(parts);
}

function chunks(data: Uint8Array, size = 65536): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (let i = 0; i < data.length; i += size) c.enqueue(data.slice(i, i + size));
      c.close();
    },
  });
}

test("loadPlugins() loads both sample plugins and reports the broken file beside them", () => {
  assert.deepEqual(loaded.loaded.map((f) => f.split("/").pop()), [
    "b64_compressor.mjs",
    "dir_remote.mjs",
  ]);
  assert.equal(loaded.failures.length, 1);
  assert.match(loaded.failures[0].error.message, /Cannot load plugin ".*a_broken\.mjs"/);
  assert.equal(warnings.length, 1);
  assert.ok(registries.remotes.has("dir"));
  assert.match(registries.compressors.origin("b64") ?? "", /b64_compressor\.mjs$/);
});

test("b64 compress() and decompress() round-trip across chunk boundaries", async () => {
  for (
    const data of [new Uint8Array(randomBytes(1 << 20)), new Uint8Array(0), new Uint8Array(57)]
  ) {
    for (const size of [1, 100, 65536]) {
      if (size === 1 && data.length > 4096) continue;
      const packed = await collect(chunks(data, size).pipeThrough(b64().compress!()));
      const back = await collect(chunks(packed, size).pipeThrough(b64().decompress()));
      assert.deepEqual(back, data);
    }
  }
});

test("b64 output is detected as b64 by magic and as no built-in format", async () => {
  const tar = new Uint8Array(
    readFileSync(join(import.meta.dirname!, "..", "fixtures", "hello.tar")),
  );
  const packed = await collect(chunks(tar).pipeThrough(b64().compress!()));
  const head = packed.subarray(0, DETECT_BYTES);
  assert.equal(detectCompressor(head, registries.compressors, "test").name, "b64");
  for (const other of builtinCompressors().list()) {
    assert.equal(other.matches(head), false, other.name);
  }
});

test("b64 decompress() rejects truncated, altered and foreign input", async () => {
  const data = new Uint8Array(randomBytes(10000));
  const packed = await collect(chunks(data).pipeThrough(b64().compress!()));
  const altered = packed.slice();
  altered[200] = altered[200] === 65 ? 66 : 65;
  const bad = [
    packed.subarray(0, packed.length - 1),
    packed.subarray(0, packed.length - 90),
    packed.subarray(0, 12),
    altered,
    new Uint8Array(randomBytes(300)),
    new Uint8Array(0),
  ];
  for (const input of bad) {
    await assert.rejects(collect(chunks(input).pipeThrough(b64().decompress())), /b64/);
  }
});

/** A store using the plugin registries. */
async function store(name: string): Promise<Store> {
  return await Store.open(join(tmp.path, name), { compressors: registries.compressors });
}

/** A b64-compressed unified image made from a plain one. */
async function b64Image(dir: string, name: string): Promise<string> {
  const tar = makeUnified(dir, name, {
    properties: { os: "b64os", release: "1", description: "B" },
  });
  const out = `${tar}.b64`;
  writeFileSync(out, await collect(chunks(readFileSync(tar)).pipeThrough(b64().compress!())));
  return out;
}

test("Store.import() takes a b64 image when the plugin is registered", async () => {
  const dir = join(tmp.path, "b64src");
  mkdirSync(dir);
  const file = await b64Image(dir, "img");
  const s = await store("b64store");
  try {
    const bytes = readFileSync(file);
    const { image } = await s.import({ stream: chunks(bytes), name: file });
    assert.equal(image.fingerprint, createHash("sha256").update(bytes).digest("hex"));
    assert.equal(image.type, "container");
    assert.equal(image.properties.os, "b64os");
    assert.equal(image.files.metadata_ext, ".tar.b64");
    // A cut file is refused, with the format named, and leaves nothing.
    const cut = bytes.subarray(0, bytes.length - 40);
    await assert.rejects(
      s.import({ stream: chunks(cut), name: "cut.tar.b64" }),
      (e) => e instanceof InvalidInputError && /b64/.test(e.message),
    );
    assert.equal(s.list().length, 1);
  } finally {
    s.close();
  }
});

/** A folder of images for the dir remote: unified gzip, unified VM, a split pair, an xz one. */
function imageFolder(): { dir: string; files: Record<string, string[]> } {
  const dir = join(tmp.path, "images");
  mkdirSync(dir, { recursive: true });
  const props = (release: string) => ({ os: "dirOS", release, description: `dir ${release}` });
  const gz = makeUnified(dir, "unified", { compression: "gz", properties: props("u") });
  const vm = makeUnified(dir, "vm", { vm: true, architecture: "aarch64", properties: props("v") });
  const split = makeSplit(dir, "pair", { compression: "gz", properties: props("p") });
  makeUnified(dir, "xzonly", { compression: "xz" });
  return { dir, files: { unified: [gz], vm: [vm], pair: [split.metadata, split.rootfs] } };
}

function fingerprint(paths: string[]): string {
  const h = createHash("sha256");
  for (const p of paths) h.update(readFileSync(p));
  return h.digest("hex");
}

async function list(remote: Remote): Promise<RemoteImage[]> {
  const out: RemoteImage[] = [];
  for await (const i of remote.list()) out.push(i);
  return out;
}

test("the dir remote lists, resolves and fetches the images of a folder", async () => {
  const { dir, files } = imageFolder();
  const remote = await registries.remotes.get("dir").connect(pathToFileURL(dir), {});
  const images = await list(remote);
  const got = images.map((i) => [i.aliases[0].name, i.fingerprint, i.type, i.architecture]);
  assert.deepEqual(got.sort(), [
    ["pair", fingerprint(files.pair), "container", "x86_64"],
    ["unified", fingerprint(files.unified), "container", "x86_64"],
    ["vm", fingerprint(files.vm), "virtual-machine", "aarch64"],
  ]);
  const vm = await remote.resolve("vm", { arch: "x86_64" });
  assert.equal(vm.properties.release, "v");
  const byPrefix = await remote.resolve(fingerprint(files.pair).slice(0, 10), { arch: "x86_64" });
  assert.equal(byPrefix.aliases[0].name, "pair");
  await assert.rejects(remote.resolve("vm", { arch: "x86_64", type: "container" }), /not found/);
  await assert.rejects(remote.resolve("xzonly", { arch: "x86_64" }), /not found/);

  const s = await store("dirstore");
  try {
    for (const name of ["pair", "unified", "vm"]) {
      const image = await remote.resolve(name, { arch: "x86_64" });
      const { image: rec } = await pullImage(s, remote, image);
      assert.equal(rec.fingerprint, fingerprint(files[name]));
      assert.equal(rec.type, image.type);
    }
    assert.equal(s.list().length, 3);
    assert.deepEqual(readdirSync(s.tmpDir), []);
  } finally {
    s.close();
  }
});

test("the dir remote refuses URLs that are not folders", async () => {
  const protocol = registries.remotes.get("dir");
  await assert.rejects(protocol.connect(new URL("https://example.org/x"), {}), /file:\/\/\/path/);
  await assert.rejects(protocol.connect(pathToFileURL(join(tmp.path, "nope")), {}), /not a folder/);
});
