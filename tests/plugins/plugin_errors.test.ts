/** Errors thrown by external plugin code: one PluginError naming the plugin, never "Internal". */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { NotFoundError, PluginError } from "../../src/core/errors.ts";
import { toErrorResponse } from "../../src/serve/errors.ts";
import { detectCompressor } from "../../src/plugins/detect.ts";
import { builtinCompressors, builtinRemotes } from "../../src/plugins/builtin.ts";
import { loadPlugins } from "../../src/plugins/loader.ts";
import type { RemoteImage } from "../../src/plugins/types.ts";
import { sandbox } from "../cli/harness.ts";
import { tempDir } from "../helpers.ts";

const tmp = tempDir("imago-plugin-errors-");
after(() => tmp.cleanup());

const ERRORS = pathToFileURL(join(import.meta.dirname!, "../../src/core/errors.ts")).href;

/** A plugin whose every call fails in its own way. */
const PLUGIN = `import { NotFoundError } from ${JSON.stringify(ERRORS)};
const remote = {
  async *list() {
    yield {
      fingerprint: "ab", type: "container", architecture: "x86_64", size: 1, filename: "",
      public: true, properties: {}, aliases: [], created_at: "", uploaded_at: "", expires_at: "",
    };
    throw new Error("list broke");
  },
  async resolve(ref) { throw new NotFoundError(\`Image "\${ref}" is not on this shelf\`); },
  async fetch() {
    const stream = new ReadableStream({
      start(c) { c.enqueue(new Uint8Array([1])); },
      pull() { throw new TypeError("disk on fire"); },
    });
    return { metadata: { stream, name: "m.tar" } };
  },
};
export default {
  apiVersion: 1,
  remotes: [{
    kind: "remote", name: "dud",
    async connect(url) { if (url.hostname === "bad") throw new Error("boom"); return remote; },
  }],
  compressors: [{
    kind: "compressor", name: "zap", extension: ".zap",
    matches(head) { if (head[0] === 0x5a) throw "not a string error"; return false; },
    decompress: () => new TransformStream(),
    compress: () => new TransformStream({ transform() { throw new RangeError("level 99"); } }),
  }],
};
`;

async function registries() {
  const dir = join(tmp.path, "plugins");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "dud.mjs"), PLUGIN);
  const reg = { compressors: builtinCompressors(), remotes: builtinRemotes() };
  const result = await loadPlugins(dir, reg);
  assert.deepEqual(result.failures, []);
  return { dir, reg };
}

test("a remote plugin's plain Error becomes a PluginError naming it, with the cause kept", async () => {
  const { reg } = await registries();
  const dud = reg.remotes.get("dud");
  const err = await dud.connect(new URL("https://bad"), {}).catch((e) => e);
  assert.ok(err instanceof PluginError, String(err));
  assert.equal(err.message, `Plugin "dud" (remote protocol) failed: boom`);
  assert.equal((err.cause as Error).message, "boom");
  assert.equal(err.exitCode, 1);
  const res = toErrorResponse(err);
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, `Plugin "dud" (remote protocol) failed: boom`);
});

test("a remote plugin's list, resolve and fetch stream errors are guarded too", async () => {
  const { reg } = await registries();
  const remote = await reg.remotes.get("dud").connect(new URL("https://good"), {});
  const seen: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const i of remote.list()) seen.push(i.fingerprint);
    })(),
    (e) =>
      e instanceof PluginError && e.message === `Plugin "dud" (remote protocol) failed: list broke`,
  );
  assert.deepEqual(seen, ["ab"]);
  // An ImagoError the plugin throws itself passes through unchanged.
  await assert.rejects(
    remote.resolve("x", { arch: "x86_64" }),
    (e) => e instanceof NotFoundError && e.message === `Image "x" is not on this shelf`,
  );
  const files = await remote.fetch({ fingerprint: "ab" } as RemoteImage);
  const reader = files.metadata.stream.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1]));
  await assert.rejects(
    reader.read(),
    (e) =>
      e instanceof PluginError && /Plugin "dud" \(remote protocol\) failed: disk on fire$/
        .test(e.message),
  );
});

test("a compressor plugin's throws in matches() and its compress stream name it", async () => {
  const { reg } = await registries();
  assert.throws(
    () => detectCompressor(new Uint8Array([0x5a, 0, 0, 0]), reg.compressors, `"f"`),
    (e) =>
      e instanceof PluginError &&
      e.message === `Plugin "zap" (compressor) failed: not a string error`,
  );
  const input = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(8));
      c.close();
    },
  });
  const out = input.pipeThrough(reg.compressors.get("zap").compress!());
  await assert.rejects(
    out.getReader().read(),
    (e) => e instanceof PluginError && e.message === `Plugin "zap" (compressor) failed: level 99`,
  );
});

test("imago prints a failing plugin's error as one line and exits 1", async () => {
  const { dir } = await registries();
  const box = sandbox();
  try {
    const env = { XDG_CONFIG_HOME: join(box.dir, "config"), HOME: box.dir };
    const cli = (args: string[]) => box.cli(["--plugins", dir, ...args], { env });
    const add = await cli(["remote", "add", "d", "https://good", "--protocol", "dud"]);
    assert.equal(add.code, 0, add.stderr);
    const list = await cli(["list", "d:"]);
    assert.equal(list.code, 1);
    assert.equal(list.stderr, `Error: Plugin "dud" (remote protocol) failed: list broke\n`);
    assert.equal((await cli(["remote", "add", "b", "https://bad", "--protocol", "dud"])).code, 0);
    const bad = await cli(["list", "b:"]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      `Error: Cannot use remote "b": Plugin "dud" (remote protocol) failed: boom\n`,
    );
  } finally {
    box.cleanup();
  }
});
