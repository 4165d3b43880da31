import { test } from "node:test";
import assert from "node:assert/strict";
import { record, sandbox } from "./harness.ts";

test("alias create, list, rename and delete work in turn", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("aaaa"), record("bbbb", { type: "virtual-machine" }));
    assert.equal((await sb.cli(["alias", "create", "one", "aaaa"])).code, 0);
    const two = await sb.cli(["alias", "create", "two", "bbbb", "--description", "The VM"]);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(
      (await sb.cli(["alias", "list"])).stdout,
      `+-------+--------------+-----------------+-------------+
| ALIAS | FINGERPRINT  |      TYPE       | DESCRIPTION |
+-------+--------------+-----------------+-------------+
| one   | aaaa00000000 | CONTAINER       |             |
+-------+--------------+-----------------+-------------+
| two   | bbbb00000000 | VIRTUAL-MACHINE | The VM      |
+-------+--------------+-----------------+-------------+
`,
    );
    assert.equal((await sb.cli(["alias", "rename", "one", "uno"])).code, 0);
    assert.equal((await sb.cli(["alias", "delete", "two"])).code, 0);
    const json = JSON.parse((await sb.cli(["alias", "list", "-f", "json"])).stdout);
    assert.deepEqual(json, [
      { description: "", target: "aaaa".padEnd(64, "0"), name: "uno", type: "container" },
    ]);
  } finally {
    sb.cleanup();
  }
});

test("alias create with an existing name fails and leaves the store unchanged", async () => {
  const sb = sandbox();
  try {
    await sb.insert(
      record("aaaa", { aliases: [{ name: "one", description: "first" }] }),
      record("bbbb"),
    );
    const before = (await sb.cli(["alias", "list", "-f", "json"])).stdout;
    const r = await sb.cli(["alias", "create", "one", "bbbb"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: Cannot create alias "one": it already exists\n');
    assert.equal((await sb.cli(["alias", "list", "-f", "json"])).stdout, before);
    const ren = await sb.cli(["alias", "create", "two", "bbbb"]);
    assert.equal(ren.code, 0);
    assert.equal((await sb.cli(["alias", "rename", "two", "one"])).code, 1);
    assert.match((await sb.cli(["alias", "list", "-f", "csv"])).stdout, /^one,aaaa.*\ntwo,bbbb/);
  } finally {
    sb.cleanup();
  }
});

test("alias delete and create report unknown names and images", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("aaaa"));
    const del = await sb.cli(["alias", "delete", "ghost"]);
    assert.equal(del.code, 1);
    assert.equal(del.stderr, 'Error: Alias "ghost" not found\n');
    const mk = await sb.cli(["alias", "create", "x", "ffff"]);
    assert.equal(mk.code, 1);
    assert.match(mk.stderr, /^Error: Image "ffff" not found/);
  } finally {
    sb.cleanup();
  }
});

test("alias list filters match a name or target part, any of them", async () => {
  const sb = sandbox();
  try {
    await sb.insert(
      record("aaaa", { aliases: [{ name: "alpine", description: "" }] }),
      record("bbbb", { aliases: [{ name: "debian", description: "" }] }),
      record("cccc", { aliases: [{ name: "fedora", description: "" }] }),
    );
    const r = await sb.cli(["alias", "list", "-f", "csv", "alp", "bbb"]);
    assert.equal(r.stdout, "alpine,aaaa00000000,CONTAINER,\ndebian,bbbb00000000,CONTAINER,\n");
  } finally {
    sb.cleanup();
  }
});
