import { test } from "node:test";
import assert from "node:assert/strict";
import { record, sandbox } from "./harness.ts";

test("info lays the image out like `lxc image info`", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("abc123", {
      aliases: [{ name: "alpine", description: "Alpine edge" }, { name: "edge", description: "" }],
      properties: { release: "edge", description: "Alpine", os: "alpine" },
      public: true,
      size: 1290000,
      update_source: {
        alias: "alpine/edge",
        certificate: "",
        protocol: "simplestreams",
        server: "https://images.example",
        image_type: "container",
      },
    }));
    const r = await sb.cli(["info", "edge"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `Fingerprint: abc123${"0".repeat(58)}
Size: 1.23MB
Architecture: x86_64
Type: container
Public: yes
Timestamps:
    Created: 2023/11/14 22:13 UTC
    Uploaded: 2026/01/02 15:04 UTC
    Expires: never
    Last used: never
Properties:
    description: Alpine
    os: alpine
    release: edge
Aliases:
    - alpine (Alpine edge)
    - edge
Cached: no
Auto update: disabled
Source:
    Server: https://images.example
    Protocol: simplestreams
    Alias: alpine/edge
Profiles:
    - default
`,
    );
  } finally {
    sb.cleanup();
  }
});

test("info shows set expiry and last-use times and an empty profile list", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("abc123", {
      expires_at: "2030-05-06T07:08:09Z",
      last_used_at: "2026-02-03T04:05:06Z",
      created_at: "1970-01-01T00:00:00Z",
      profiles: [],
      cached: true,
      auto_update: true,
    }));
    const out = (await sb.cli(["info", "abc"])).stdout;
    assert.match(out, /\nTimestamps:\n {4}Uploaded: /); // unset creation time is left out
    assert.match(
      out,
      /\n {4}Expires: 2030\/05\/06 07:08 UTC\n {4}Last used: 2026\/02\/03 04:05 UTC\n/,
    );
    assert.match(out, /\nCached: yes\nAuto update: enabled\nProfiles: \[\]\n$/);
  } finally {
    sb.cleanup();
  }
});

test("show prints the editable fields as YAML", async () => {
  const sb = sandbox();
  try {
    await sb.insert(record("abc123", { properties: { os: "alpine", description: "A" } }));
    const r = await sb.cli(["show", "abc123"]);
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "auto_update: false\nproperties:\n  description: A\n  os: alpine\npublic: false\n" +
        "expires_at: 1970-01-01T00:00:00Z\nprofiles:\n- default\n",
    );
  } finally {
    sb.cleanup();
  }
});

test("info of an unknown image fails with one line and exit 1", async () => {
  const sb = sandbox();
  try {
    const r = await sb.cli(["info", "nothing"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^Error: Image "nothing" not found: [^\n]*\n$/);
  } finally {
    sb.cleanup();
  }
});
