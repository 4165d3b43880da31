import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { run } from "../../src/cli/run.ts";
import { ImagoError } from "../../src/core/errors.ts";
import { Store } from "../../src/core/store.ts";
import { fileStream } from "../../src/core/streams.ts";
import { builtinCompressors } from "../../src/plugins/builtin.ts";
import { packTar } from "../core/tar_fixtures.ts";
import { GOOD_YAML, HOSTILE_CASES, TAKEN_ALIAS } from "./hostile_cases.ts";
import type { HostileCase } from "./hostile_cases.ts";

let work: string;
let store: Store;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "imago-hostile-"));
  store = await Store.open(join(work, "store"));
  // One good image owning TAKEN_ALIAS, so "unchanged" covers a non-empty store.
  const bytes = await packTar([
    { name: "metadata.yaml", body: GOOD_YAML + "properties: {os: owner}\n" },
    { name: "rootfs/", type: "directory" },
  ]);
  const path = join(work, "owner.tar");
  writeFileSync(path, bytes);
  await store.import(source(path), undefined, {
    aliases: [{ name: TAKEN_ALIAS, description: "" }],
  });
});
after(() => {
  store.close();
  rmSync(work, { recursive: true, force: true });
});

function source(path: string) {
  return { stream: fileStream(path), name: basename(path) };
}

/** Everything an import could change: records, aliases and files. */
function snapshot() {
  return {
    images: store.list(),
    aliases: store.aliases(),
    files: readdirSync(store.imagesDir).sort(),
  };
}

function caseDir(c: HostileCase, via: string): string {
  const dir = join(work, `${via}-${c.name.replace(/[^a-z0-9]+/gi, "_")}`);
  mkdirSync(dir);
  return dir;
}

function assertMentions(c: HostileCase, message: string): void {
  if (typeof c.expect === "string") {
    assert.ok(message.includes(c.expect), `"${c.expect}" not in: ${message}`);
  } else assert.match(message, c.expect);
}

/** With two inputs, the user must be told which one is bad. */
function assertNamesFile(c: HostileCase, files: (string | undefined)[], message: string): void {
  if (c.fileless) return;
  const named = files.some((f) =>
    f && message.includes(`"${basename(f)}"`) ||
    f && message.includes(`/${basename(f)}"`)
  );
  assert.ok(named, `names none of ${files.filter(Boolean).map((f) => basename(f!))}: ${message}`);
}

const compressors = builtinCompressors();
const skipReason = (c: HostileCase) =>
  c.needs && !compressors.has(c.needs) ? `no "${c.needs}" compressor registered` : false;

test("the hostile corpus has at least 30 cases", () => {
  assert.ok(HOSTILE_CASES.length >= 30, `only ${HOSTILE_CASES.length}`);
  assert.equal(new Set(HOSTILE_CASES.map((c) => c.name)).size, HOSTILE_CASES.length);
});

describe("Store.import() on the hostile corpus", () => {
  for (const c of HOSTILE_CASES.filter((c) => !c.cliOnly)) {
    test(`Store.import() rejects ${c.name} and leaves the store unchanged`, {
      skip: skipReason(c),
    }, async () => {
      const [meta, rootfs] = await c.make(caseDir(c, "store"));
      const was = snapshot();
      await assert.rejects(
        store.import(source(meta), rootfs ? source(rootfs) : undefined, {
          aliases: c.aliases?.map((name) => ({ name, description: "" })),
          expectedFingerprint: c.fingerprint,
        }),
        (err: Error) => {
          assert.ok(err instanceof ImagoError, `not an ImagoError: ${err?.stack ?? err}`);
          assert.ok(!err.message.includes("\n"), `more than one line: ${err.message}`);
          assertMentions(c, err.message);
          assertNamesFile(c, [meta, rootfs], err.message);
          return true;
        },
      );
      assert.deepEqual(snapshot(), was);
      assert.deepEqual(readdirSync(store.tmpDir), []);
    });
  }
});

describe("imago import on the hostile corpus", () => {
  for (const c of HOSTILE_CASES.filter((c) => !c.fingerprint)) {
    test(`imago import rejects ${c.name} with one error line`, {
      skip: skipReason(c),
    }, async () => {
      const files = await c.make(caseDir(c, "cli"));
      const was = snapshot();
      let stdout = "";
      let stderr = "";
      const io = {
        stdout: (s: string) => stdout += s,
        stderr: (s: string) => stderr += s,
        stdin: undefined,
        stdinIsTTY: false,
        stderrIsTTY: false,
        env: {},
      };
      const aliases = (c.aliases ?? []).flatMap((a) => ["--alias", a]);
      const code = await run(["--store", store.dir, "import", ...files, ...aliases], io);
      assert.notEqual(code, 0, `exit code 0; stdout: ${stdout}`);
      const lines = stderr.split("\n").filter((l) => l.trim() !== "");
      assert.equal(lines.length, 1, `stderr: ${stderr}`);
      assert.match(lines[0], /^Error: /);
      assertMentions(c, lines[0]);
      assertNamesFile(c, files, lines[0]);
      assert.equal(stdout, "");
      assert.deepEqual(snapshot(), was);
      assert.deepEqual(readdirSync(store.tmpDir), []);
    });
  }
});
