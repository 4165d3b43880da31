import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { record, sandbox } from "./harness.ts";

async function withImages(fn: (sb: ReturnType<typeof sandbox>) => Promise<void>) {
  const sb = sandbox();
  try {
    await sb.insert(
      record("aaaa11", {
        aliases: [{ name: "alpine", description: "" }, { name: "al", description: "short" }],
        properties: { description: "Alpine 3.19", os: "alpine", release: "3.19" },
        public: true,
        size: 1290000,
      }),
      record("bbbb22", {
        type: "virtual-machine",
        properties: { os: "testos" },
        size: 131072,
        uploaded_at: "2026-11-24T00:09:32.847136778Z",
      }),
      record("cccc33", {
        aliases: [{ name: "debian/12", description: "" }],
        properties: { description: "Debian 12", os: "debian", release: "12" },
        architecture: "aarch64",
      }),
    );
    await fn(sb);
  } finally {
    sb.cleanup();
  }
}

test("list prints lxc's default columns in a boxed table, sorted by alias", async () => {
  await withImages(async (sb) => {
    const r = await sb.cli(["list"]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, "");
    assert.equal(
      r.stdout,
      `+-------------+--------------+--------+-------------+--------------+-----------------+--------+-------------------------------+
|    ALIAS    | FINGERPRINT  | PUBLIC | DESCRIPTION | ARCHITECTURE |      TYPE       |  SIZE  |          UPLOAD DATE          |
+-------------+--------------+--------+-------------+--------------+-----------------+--------+-------------------------------+
| al (1 more) | aaaa11000000 | yes    | Alpine 3.19 | x86_64       | CONTAINER       | 1.23MB | Jan 2, 2026 at 3:04pm (UTC)   |
+-------------+--------------+--------+-------------+--------------+-----------------+--------+-------------------------------+
| debian/12   | cccc33000000 | no     | Debian 12   | aarch64      | CONTAINER       | 1.00MB | Jan 2, 2026 at 3:04pm (UTC)   |
+-------------+--------------+--------+-------------+--------------+-----------------+--------+-------------------------------+
|             | bbbb22000000 | no     |             | x86_64       | VIRTUAL-MACHINE | 0.12MB | Nov 24, 2026 at 12:09am (UTC) |
+-------------+--------------+--------+-------------+--------------+-----------------+--------+-------------------------------+
`,
    );
  });
});

test("list filters: substrings of aliases or fingerprints, k=v properties and fields, ANDed", async () => {
  await withImages(async (sb) => {
    const fps = async (...args: string[]) => {
      const r = await sb.cli(["list", "-f", "csv", "-c", "f", ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim().split("\n").filter((l) => l);
    };
    assert.deepEqual(await fps("alp"), ["aaaa11000000"]);
    assert.deepEqual(await fps("cccc3"), ["cccc33000000"]);
    assert.deepEqual(await fps("os=debian"), ["cccc33000000"]);
    assert.deepEqual(await fps("os=deb"), []);
    assert.deepEqual(await fps("rel=3.*"), ["aaaa11000000"]);
    assert.deepEqual(await fps("type=virtual-machine"), ["bbbb22000000"]);
    assert.deepEqual(await fps("public=true"), ["aaaa11000000"]);
    assert.deepEqual(await fps("architecture=x86_64", "os=testos"), ["bbbb22000000"]);
    assert.deepEqual(await fps("alpine", "os=debian"), []);
  });
});

test("list -c picks columns by lxc's letters; csv has no header", async () => {
  await withImages(async (sb) => {
    const r = await sb.cli(["list", "alpine", "-c", "lL,F", "--format", "csv"]);
    assert.equal(r.stdout, `al (1 more),"al\nalpine",aaaa11${"0".repeat(58)}\n`);
    const bad = await sb.cli(["list", "-c", "lx"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^Error: Unknown column "x" in "lx".*imago list --help/);
    assert.equal(bad.stderr.split("\n").length, 2);
    assert.equal((await sb.cli(["list", "-c", "l,,f"])).code, 2);
  });
});

test("list --format json prints LXD image objects without internal fields", async () => {
  await withImages(async (sb) => {
    const r = await sb.cli(["list", "--format", "json", "alpine"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.split("\n").length, 2); // one line + newline
    const [img] = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(img), [
      "auto_update",
      "properties",
      "public",
      "expires_at",
      "profiles",
      "aliases",
      "architecture",
      "cached",
      "filename",
      "fingerprint",
      "size",
      "type",
      "created_at",
      "last_used_at",
      "uploaded_at",
    ]);
    assert.equal(img.fingerprint, "aaaa11".padEnd(64, "0"));
    assert.deepEqual(img.aliases, [
      { name: "al", description: "short" },
      { name: "alpine", description: "" },
    ]);
  });
});

test("list --format yaml holds the same objects as json", async () => {
  await withImages(async (sb) => {
    const json = JSON.parse((await sb.cli(["list", "-f", "json"])).stdout);
    const yaml = (await sb.cli(["list", "-f", "yaml"])).stdout;
    assert.match(yaml, /^- auto_update: false\n/);
    assert.deepEqual(parse(yaml), json);
  });
});

test("list on an empty store prints the header box, [] in json", async () => {
  const sb = sandbox();
  try {
    assert.equal(
      (await sb.cli(["list", "-c", "lf"])).stdout,
      "+-------+-------------+\n| ALIAS | FINGERPRINT |\n+-------+-------------+\n",
    );
    assert.equal((await sb.cli(["list", "-f", "json"])).stdout, "[]\n");
    assert.equal((await sb.cli(["list", "-f", "compact", "-c", "f"])).stdout, "  FINGERPRINT  \n");
  } finally {
    sb.cleanup();
  }
});
