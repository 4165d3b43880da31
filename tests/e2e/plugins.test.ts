/**
 * Plugins written outside the source tree, loaded by the built binary: the sample "dir" remote
 * protocol and "b64" compressor of tests/fixtures/plugins, copied into a plugins folder next
 * to a broken plugin file, then used end to end through `remote add`, `list REMOTE:`, `copy`
 * and `import`. The binary resolves plugins with require() of the file, so this is the test
 * that the single executable really loads them.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import type { Compressor } from "../../src/plugins/types.ts";
import { makeSplit, makeUnified, tempDir } from "../helpers.ts";
import { BIN, exec, type ImageJson, ROOT, skipUnless } from "./e2e_helpers.ts";

const skip = skipUnless("tar");
const SAMPLES = join(ROOT, "tests", "fixtures", "plugins");

let tmp: ReturnType<typeof tempDir>;
let plugins: string;
let images: string;
let store: string;
let env: Record<string, string>;

before(() => {
  if (skip) return;
  tmp = tempDir("imago-e2e-plugins-");
  plugins = join(tmp.path, "plugins");
  images = join(tmp.path, "images");
  store = join(tmp.path, "store");
  mkdirSync(plugins);
  mkdirSync(images);
  for (const f of ["b64_compressor.mjs", "dir_remote.mjs"]) {
    copyFileSync(join(SAMPLES, f), join(plugins, f));
  }
  writeFileSync(join(plugins, "broken.mjs"), "export default { apiVersion: 1, remotes: [{ kind: ");
  const props = (release: string) => ({ os: "dirOS", release, description: `dir ${release}` });
  makeUnified(images, "unified", { compression: "gz", properties: props("u") });
  makeSplit(images, "pair", { compression: "gz", properties: props("p") });
  // Config (remotes) in the temp folder, never the user's.
  env = { ...process.env, NO_COLOR: "1", XDG_CONFIG_HOME: join(tmp.path, "config") } as Record<
    string,
    string
  >;
});
after(() => tmp?.cleanup());

/** Runs the binary on the temp store with the plugins folder; must succeed. */
function imago(...args: string[]): { stdout: string; stderr: string } {
  const r = exec(BIN, ["--store", store, "--plugins", plugins, ...args], env);
  assert.equal(r.status, 0, `imago ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r;
}

function sha256File(...paths: string[]): string {
  const h = createHash("sha256");
  for (const p of paths) h.update(readFileSync(p));
  return h.digest("hex");
}

function localImages(): ImageJson[] {
  return JSON.parse(imago("list", "--format", "json").stdout);
}

test("imago loads external plugins and warns about a broken one without stopping", { skip }, () => {
  const { stderr } = imago("remote", "add", "d", pathToFileURL(images).href, "--protocol", "dir");
  assert.match(stderr, /Cannot load plugin ".*broken\.mjs"/);
  assert.equal(stderr.match(/broken\.mjs/g)?.length, 1, stderr);
});

test("imago list d: shows the folder's images through the dir plugin", { skip }, () => {
  const listed: ImageJson[] = JSON.parse(imago("list", "d:", "--format", "json").stdout);
  const want = [
    sha256File(join(images, "pair.meta.tar.gz"), join(images, "pair.rootfs.tar.gz")),
    sha256File(join(images, "unified.tar.gz")),
  ];
  assert.deepEqual(listed.map((i) => i.fingerprint).sort(), want.sort());
  for (const image of listed) {
    assert.equal(image.type, "container");
    assert.equal(image.architecture, "x86_64");
    assert.equal(image.properties.os, "dirOS");
  }
});

test("imago copy d:ALIAS stores the image under its fingerprint", { skip }, () => {
  imago("copy", "d:pair", "local:", "--alias", "from-dir");
  const fp = sha256File(join(images, "pair.meta.tar.gz"), join(images, "pair.rootfs.tar.gz"));
  const got = localImages().find((i) => i.fingerprint === fp);
  assert.ok(got, `no image ${fp} after copy`);
  assert.equal(got.properties.release, "p");
  assert.match(imago("info", "from-dir").stdout, new RegExp(fp));
});

test("imago import reads an image compressed by the b64 plugin", { skip }, async () => {
  const tar = makeUnified(tmp.path, "packed", {
    properties: { os: "b64os", release: "7", description: "packed with b64" },
  });
  const packed = `${tar}.b64`;
  // The plugin's own compressor makes the file.
  const mod = await import(pathToFileURL(join(SAMPLES, "b64_compressor.mjs")).href);
  const compressor: Compressor = mod.default.compressors[0];
  const stream = new Blob([readFileSync(tar)]).stream().pipeThrough(compressor.compress!());
  writeFileSync(packed, new Uint8Array(await new Response(stream).arrayBuffer()));
  imago("import", packed, "--alias", "b64img");
  const fp = sha256File(packed);
  const got = localImages().find((i) => i.fingerprint === fp);
  assert.ok(got, `no image ${fp} after import`);
  assert.equal(got.type, "container");
  assert.equal(got.properties.os, "b64os");
  assert.equal(got.properties.description, "packed with b64");
  // Without the plugin folder the same file is an unknown format.
  const bare = exec(BIN, ["--store", join(tmp.path, "bare"), "import", packed], env);
  assert.notEqual(bare.status, 0);
  assert.match(bare.stderr, /unsupported compression/i);
});
