/** The external plugin loader: shape checks, sorted loading, broken files skipped with a reason. */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { NotFoundError, PluginError } from "../../src/core/errors.ts";
import { builtinCompressors, builtinRemotes } from "../../src/plugins/builtin.ts";
import { loadPlugins, pluginOrFailure, registerModule } from "../../src/plugins/loader.ts";
import { tempDir } from "../helpers.ts";

const tmp = tempDir("imago-plugins-");
after(() => tmp.cleanup());

const REMOTE = (name: string) =>
  `{
  kind: "remote", name: ${JSON.stringify(name)},
  connect() { return Promise.resolve({ async *list() {}, resolve() {}, fetch() {} }); },
}`;
const COMPRESSOR = `{
  kind: "compressor", name: "rot", extension: ".rot",
  matches: (head) => head[0] === 0x52,
  decompress: () => new TransformStream(),
}`;

async function load(name: string, files: Record<string, string>) {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  const reg = { compressors: builtinCompressors(), remotes: builtinRemotes() };
  const warnings: string[] = [];
  const result = await loadPlugins(dir, reg, { warn: (m) => warnings.push(m) });
  return { dir, reg, warnings, result };
}

test("loadPlugins() registers a good plugin's remotes and compressors, naming the file", async () => {
  const { dir, reg, warnings, result } = await load("good", {
    "a.mjs": `export default { apiVersion: 1, remotes: [${REMOTE("plain-dir")}],
      compressors: [${COMPRESSOR}] };`,
    "notes.txt": "not a plugin",
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(result.loaded, [join(dir, "a.mjs")]);
  assert.equal(reg.remotes.get("plain-dir").name, "plain-dir");
  assert.equal(reg.remotes.origin("plain-dir"), join(dir, "a.mjs"));
  assert.equal(reg.compressors.get("rot").extension, ".rot");
});

test("loadPlugins() skips a broken plugin with a warning and keeps loading the others", async () => {
  const { dir, reg, warnings, result } = await load("broken", {
    "1-syntax.mjs": "export default {",
    "2-version.mjs": `export default { apiVersion: 2, remotes: [${REMOTE("future")}] };`,
    "3-shape.mjs":
      `export default { apiVersion: 1, remotes: [{ kind: "remote", name: "noconn" }] };`,
    "4-good.js": `export default { apiVersion: 1, remotes: [${REMOTE("fine")}] };`,
  });
  assert.equal(result.failures.length, 3);
  assert.equal(warnings.length, 3);
  assert.match(
    warnings[0],
    new RegExp(`Cannot load plugin "${join(dir, "1-syntax.mjs")}": .*skipped`),
  );
  assert.match(warnings[1], /apiVersion is 2, this imago supports 1/);
  assert.match(warnings[2], /remote protocol 1 lacks connect\(\)/);
  assert.ok(reg.remotes.has("fine"));
  assert.ok(!reg.remotes.has("future") && !reg.remotes.has("noconn"));
  // Asking for a broken plugin's protocol by name names the file and the reason.
  assert.throws(
    () => pluginOrFailure(reg.remotes, "future", result.failures),
    (e: Error) => e instanceof PluginError && e.message.includes("2-version.mjs"),
  );
  // An unknown name also mentions files that could not be read far enough to tell.
  assert.throws(
    () => pluginOrFailure(reg.remotes, "other", result.failures),
    (e: Error) => e instanceof NotFoundError && /1-syntax\.mjs/.test(e.message),
  );
});

test("loadPlugins() refuses a duplicate name, naming both files, and registers none of the file", async () => {
  const { dir, reg, result } = await load("dupes", {
    "a.mjs": `export default { apiVersion: 1, remotes: [${REMOTE("twin")}] };`,
    "b.mjs": `export default { apiVersion: 1, compressors: [${COMPRESSOR}],
      remotes: [${REMOTE("twin")}] };`,
    "c.mjs": `export default { apiVersion: 1, remotes: [${REMOTE("lxd")}] };`,
  });
  assert.equal(result.failures.length, 2);
  const [b, c] = result.failures;
  assert.match(
    b.error.message,
    new RegExp(`"${join(dir, "b.mjs")}".*"twin" is already registered by ${join(dir, "a.mjs")}`),
  );
  assert.match(c.error.message, /"lxd" is already registered by built-in/);
  assert.ok(!reg.compressors.has("rot"), "the duplicate's compressor is not registered either");
});

test("registerModule() ignores the __esModule key of a require()d namespace", () => {
  const reg = { compressors: builtinCompressors(), remotes: builtinRemotes() };
  const proto = { kind: "remote", name: "sea", connect: () => Promise.resolve({}) };
  registerModule({ __esModule: true, default: { apiVersion: 1, remotes: [proto] } }, "x.js", reg);
  assert.ok(reg.remotes.has("sea"));
  assert.throws(() => registerModule({ __esModule: true }, "y.js", reg), /no default export/);
});

test("loadPlugins() is quiet about a missing default folder but not a named one", async () => {
  const reg = { compressors: builtinCompressors(), remotes: builtinRemotes() };
  const missing = join(tmp.path, "nope");
  assert.deepEqual(await loadPlugins(missing, reg), { loaded: [], failures: [] });
  await assert.rejects(loadPlugins(missing, reg, { explicit: true }), /folder ".*nope" not found/);
});
