import { test } from "node:test";
import assert from "node:assert/strict";
import { record, sandbox } from "./harness.ts";

const fps = async (sb: ReturnType<typeof sandbox>) =>
  (await sb.cli(["list", "-f", "csv", "-c", "F"])).stdout.trim().split("\n").filter((l) => l);

test("delete removes every named image, by alias or prefix", async () => {
  const sb = sandbox();
  try {
    await sb.insert(
      record("aaaa", { aliases: [{ name: "a", description: "" }] }),
      record("bbbb"),
      record("cccc"),
    );
    const r = await sb.cli(["delete", "a", "bbb"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fps(sb), ["cccc".padEnd(64, "0")]);
    assert.equal((await sb.cli(["alias", "list", "-f", "csv"])).stdout, "");
  } finally {
    sb.cleanup();
  }
});

test("delete with one unknown reference deletes nothing", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("aaaa"), record("bbbb"));
    const r = await sb.cli(["rm", "aaaa", "nope", "bbbb"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Image "nope" not found[^\n]*\n$/);
    assert.equal((await fps(sb)).length, 2);
  } finally {
    sb.cleanup();
  }
});

test("an ambiguous fingerprint prefix fails and lists the candidates", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("ab12"), record("ab34"));
    const r = await sb.cli(["delete", "ab"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: Cannot resolve "ab": more than one image matches: /);
    assert.ok(r.stderr.includes("ab1200000000") && r.stderr.includes("ab3400000000"));
    assert.equal(r.stderr.split("\n").length, 2);
    assert.equal((await fps(sb)).length, 2);
    assert.equal((await sb.cli(["info", "ab3"])).code, 0);
  } finally {
    sb.cleanup();
  }
});
