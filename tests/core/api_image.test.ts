import { test } from "node:test";
import assert from "node:assert/strict";
import { toApiAlias, toApiImage } from "../../src/core/api_image.ts";
import { record } from "../cli/harness.ts";

test("toApiImage() drops `files` and keeps LXD's field order", () => {
  const img = toApiImage(record("ab", { properties: { z: "1", a: "2" } }));
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
  assert.deepEqual(Object.keys(img.properties), ["a", "z"]);
});

test("toApiImage() places update_source between size and type", () => {
  const update_source = {
    alias: "alpine/3.19",
    certificate: "",
    protocol: "simplestreams",
    server: "https://images.example",
    image_type: "container",
  };
  const keys = Object.keys(toApiImage(record("ab", { update_source })));
  assert.equal(keys.indexOf("update_source"), keys.indexOf("size") + 1);
  assert.equal(keys.indexOf("type"), keys.indexOf("update_source") + 1);
});

test("toApiAlias() has LXD's alias entry fields", () => {
  assert.deepEqual(
    toApiAlias({ name: "a", description: "d", target: "f".repeat(64), type: "container" }),
    { description: "d", target: "f".repeat(64), name: "a", type: "container" },
  );
});
