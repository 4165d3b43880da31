/**
 * The built binary against the simplestreams fixture tree (scripts/make_simplestreams_fixture.ts)
 * served over HTTPS on loopback: `remote add --protocol simplestreams` with the server's
 * certificate pinned in servercerts/, then `list REMOTE:`, `copy` by alias, by --vm and by
 * --arch, and a tampered file that must leave the store untouched. The server runs in this
 * process, so the binary is spawned asynchronously.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, before, test } from "node:test";
import {
  makeSimplestreamsTree,
  type SimplestreamsTree,
} from "../../scripts/make_simplestreams_fixture.ts";
import { tempDir } from "../helpers.ts";
import {
  EXPECTED,
  expectedImage,
  IMAGES,
  treeItem,
} from "../plugins/remotes/simplestreams_expected.ts";
import { serveDir, type StaticServer } from "../plugins/remotes/static_https.ts";
import { BIN, type ImageJson, skipUnless } from "./e2e_helpers.ts";

const skip = skipUnless("mksquashfs", "qemu-img");

let tmp: ReturnType<typeof tempDir>;
let tree: SimplestreamsTree;
let server: StaticServer;
let env: Record<string, string>;
let store: string;

before(async () => {
  if (skip) return;
  tmp = tempDir("imago-e2e-ss-");
  tree = makeSimplestreamsTree(join(tmp.path, "www", "mirror"));
  server = await serveDir(join(tmp.path, "www"));
  store = join(tmp.path, "store");
  const config = join(tmp.path, "config");
  env = { ...process.env, NO_COLOR: "1", XDG_CONFIG_HOME: config } as Record<string, string>;
  await imago("remote", "add", "ss", `${server.url}mirror`, "--protocol", "simplestreams");
  // lxc's way for a self-signed simplestreams server: drop its certificate into servercerts/.
  mkdirSync(join(config, "imago", "servercerts"), { recursive: true });
  writeFileSync(join(config, "imago", "servercerts", "ss.crt"), server.cert);
});
after(async () => {
  await server?.close();
  tmp?.cleanup();
});

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary on the temp store and config without blocking the server. */
function run(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      BIN,
      ["--store", store, ...args],
      { env, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const status = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

async function imago(...args: string[]): Promise<string> {
  const r = await run(...args);
  assert.equal(r.status, 0, `imago ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const fp = (i: number) => expectedImage(tree, EXPECTED[i]).fp;

async function local(): Promise<ImageJson[]> {
  return JSON.parse(await imago("list", "--format", "json"));
}

test("imago list ss: shows every image of the simplestreams tree", { skip }, async () => {
  const listed: ImageJson[] = JSON.parse(await imago("list", "ss:", "--format", "json"));
  assert.deepEqual(listed.map((i) => i.fingerprint).sort(), EXPECTED.map((_, i) => fp(i)).sort());
});

test("imago copy pulls simplestreams images by alias, --vm and --arch", { skip }, async () => {
  await imago("copy", "ss:alpine/3.19", "local:", "--alias", "a", "--arch", "x86_64");
  await imago("copy", "ss:alpine/3.19", "local:", "--alias", "a-vm", "--vm", "--arch", "x86_64");
  await imago("copy", "ss:jammy", "local:", "--alias", "j-arm", "--vm", "--arch", "aarch64");
  await imago("copy", "ss:22.04", "local:", "--alias", "j", "--arch", "x86_64");
  const byFp = new Map((await local()).map((i) => [i.fingerprint, i]));
  for (const [i, type] of [[2, "container"], [3, "virtual-machine"], [12, "virtual-machine"]]) {
    const got = byFp.get(fp(i as number));
    assert.ok(got, `no image ${fp(i as number)}`);
    assert.equal(got.type, type);
  }
  assert.equal(byFp.get(fp(10))?.properties.type, "squashfs");
  assert.equal(byFp.get(fp(12))?.properties["requirements.secureboot"], "false");
  assert.equal(byFp.size, 4);
});

/** Serves the item's file with one byte changed; `copy REF` must fail naming it, storing nothing. */
async function tamperedCopy(product: string, version: string, key: string, ref: string[]) {
  const path = String(treeItem(tree, IMAGES, product, version, key).path);
  const bytes = new Uint8Array(readFileSync(join(tree.dir, path)));
  bytes[40] ^= 0xff;
  server.overrides.set(`/mirror/${path}`, bytes);
  try {
    const before = (await local()).length;
    const r = await run("copy", ...ref, "local:", "--arch", "x86_64");
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(`"${path}": sha256 mismatch`), r.stderr);
    assert.equal((await local()).length, before);
  } finally {
    server.overrides.clear();
  }
}

test(
  "imago copy of a tampered squashfs rootfs fails, naming it, and stores nothing",
  { skip },
  () =>
    tamperedCopy("alpine:3.19:arm64:default", "20240301_13:00", "root.squashfs", [
      "ss:alpine/3.19/arm64",
    ]),
);

test(
  "imago copy of a tampered root.tar.xz fails, naming it, and stores nothing",
  { skip },
  () =>
    tamperedCopy("alpine:3.20:amd64:cloud", "20240315_13:00", "root.tar.xz", [
      "ss:alpine/edge/cloud",
    ]),
);
