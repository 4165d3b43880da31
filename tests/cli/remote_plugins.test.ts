/** `--plugins DIR` in-process: external protocols usable by name, broken files warned about. */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";
import { makeUnified } from "../helpers.ts";
import { type CliOptions, sandbox } from "./harness.ts";

const box = sandbox();
const plugins = join(box.dir, "plugins");
const images = join(box.dir, "images");
const env = { XDG_CONFIG_HOME: join(box.dir, "config"), HOME: box.dir };
const cli = (args: string[], opts: CliOptions = {}) =>
  box.cli(["--plugins", plugins, ...args], { env, ...opts });

before(() => {
  mkdirSync(plugins);
  mkdirSync(images);
  const sample = new URL("../fixtures/plugins/dir_remote.mjs", import.meta.url);
  copyFileSync(sample, join(plugins, "dir_remote.mjs"));
  writeFileSync(
    join(plugins, "ghost.mjs"),
    `export default { apiVersion: 9, remotes: [{ kind: "remote", name: "ghost", connect() {} }] };`,
  );
  makeUnified(images, "hello", { compression: "gz" });
});
after(() => box.cleanup());

test("--plugins loads a protocol that remote add, list and copy then use", async () => {
  const add = await cli(["remote", "add", "d", pathToFileURL(images).href, "--protocol", "dir"]);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stderr, /Warning: Cannot load plugin ".*ghost\.mjs": apiVersion is 9.*skipped/);
  const list = await cli(["list", "d:", "--format", "csv", "-c", "l"]);
  assert.equal(list.code, 0, list.stderr);
  assert.equal(list.stdout, "hello\n");
  const copy = await cli(["copy", "d:hello", "--alias", "h"]);
  assert.equal(copy.code, 0, copy.stderr);
  assert.match((await cli(["info", "h"])).stdout, /Source:\n {4}Server: file:\/\//);
});

test("asking for a broken plugin's protocol names its file and the reason", async () => {
  const r = await cli(["remote", "add", "g", "https://x", "--protocol", "ghost"]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /Error: Cannot load plugin ".*ghost\.mjs": apiVersion is 9, this imago supports 1/,
  );
});

test("--plugins with a missing folder is an error", async () => {
  const r = await box.cli(["--plugins", join(box.dir, "none"), "list"], { env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot load plugins: folder ".*none" not found/);
});
