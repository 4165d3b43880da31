import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { record, sandbox } from "./harness.ts";

const SHOW = "auto_update: false\nproperties:\n  os: alpine\npublic: false\n" +
  "expires_at: 1970-01-01T00:00:00Z\nprofiles:\n- default\n";

async function withImage(fn: (sb: ReturnType<typeof sandbox>) => Promise<void>) {
  const sb = sandbox();
  try {
    await sb.insert(record("abc123", {
      properties: { os: "alpine" },
      aliases: [{ name: "alp", description: "" }],
    }));
    await fn(sb);
  } finally {
    sb.cleanup();
  }
}

test("edit reads YAML from stdin and replaces the writable fields", async () => {
  await withImage(async (sb) => {
    const yaml = "public: true\nauto_update: true\nproperties:\n  os: alpine\n  release: '3.19'\n" +
      "expires_at: 2030-01-01T00:00:00Z\nprofiles: []\n";
    const r = await sb.cli(["edit", "alp"], { stdin: yaml });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(
      (await sb.cli(["show", "alp"])).stdout,
      'auto_update: true\nproperties:\n  os: alpine\n  release: "3.19"\npublic: true\n' +
        "expires_at: 2030-01-01T00:00:00Z\nprofiles: []\n",
    );
  });
});

test("edit accepts JSON on stdin", async () => {
  await withImage(async (sb) => {
    const r = await sb.cli(["edit", "abc"], { stdin: '{"public": true, "properties": {}}' });
    assert.equal(r.code, 0, r.stderr);
    assert.match((await sb.cli(["show", "abc"])).stdout, /^auto_update: false\nproperties: \{\}\n/);
  });
});

const refusals: [string, string, RegExp][] = [
  ["invalid YAML", "public: true\nproperties:\n  os: a: b\n", /stdin line 3, column \d+: /],
  [
    "a changed architecture",
    "public: true\narchitecture: i686\n",
    /line 2.*"architecture" cannot be changed/,
  ],
  ["an unknown key", "publik: true\n", /line 1.*unknown key "publik"/],
  ["a bad boolean", "public: maybe\n", /"public" must be true or false/],
  ["an empty document", "", /the document is empty/],
];

for (const [what, yaml, message] of refusals) {
  test(`edit refuses ${what} with one line, exit 1 and no change`, async () => {
    await withImage(async (sb) => {
      const r = await sb.cli(["edit", "alp"], { stdin: yaml });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^Error: Cannot edit "alp": /);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.split("\n").length, 2);
      assert.equal((await sb.cli(["show", "alp"])).stdout, SHOW);
    });
  });
}

function editorScript(dir: string, body: string): string {
  const path = join(dir, "editor.sh");
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test("edit on a terminal runs $EDITOR on the YAML and applies the result", async () => {
  await withImage(async (sb) => {
    const editor = editorScript(sb.dir, `sed -i 's/^public: false/public: true/' "$1"`);
    const r = await sb.cli(["edit", "alp"], { stdinIsTTY: true, env: { EDITOR: editor } });
    assert.equal(r.code, 0, r.stderr);
    assert.match((await sb.cli(["show", "alp"])).stdout, /\npublic: true\n/);
  });
});

test("edit on a terminal re-opens the editor after a bad edit when enter is pressed", async () => {
  await withImage(async (sb) => {
    const mark = join(sb.dir, "once");
    const editor = editorScript(
      sb.dir,
      `if [ -e "${mark}" ]; then sed -i 's/^architecture: i686$//; s/^public: false/public: true/' "$1"` +
        `; else touch "${mark}"; echo "architecture: i686" >> "$1"; fi`,
    );
    const r = await sb.cli(["edit", "alp"], {
      stdinIsTTY: true,
      stdin: "\n",
      env: { VISUAL: editor },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Config parsing error: .*"architecture" cannot be changed/);
    assert.match(r.stdout, /Press enter to open the editor again/);
    assert.match((await sb.cli(["show", "alp"])).stdout, /\npublic: true\n/);
  });
});

test("edit on a terminal gives up when stdin ends after a bad edit, changing nothing", async () => {
  await withImage(async (sb) => {
    const editor = editorScript(sb.dir, `echo "colour: red" >> "$1"`);
    const r = await sb.cli(["edit", "alp"], {
      stdinIsTTY: true,
      stdin: "",
      env: { EDITOR: editor },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error: .*unknown key "colour"/);
    assert.equal((await sb.cli(["show", "alp"])).stdout, SHOW);
  });
});

test("edit reports a failing editor", async () => {
  await withImage(async (sb) => {
    const editor = editorScript(sb.dir, "exit 3");
    const r = await sb.cli(["edit", "alp"], { stdinIsTTY: true, env: { EDITOR: editor } });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: The editor ".*editor\.sh" failed \(exit 3\): the image was not changed\n$/,
    );
  });
});

test("edit reports an editor that cannot be started", async () => {
  await withImage(async (sb) => {
    const r = await sb.cli(["edit", "alp"], {
      stdinIsTTY: true,
      env: { EDITOR: "/nonexistent/editor --wait" },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Cannot start the editor "\/nonexistent\/editor": [^\n]+\n$/);
  });
});
