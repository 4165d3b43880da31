import { test } from "node:test";
import assert from "node:assert/strict";
import { dotPrefixMatch, imageMatches } from "../../src/cli/image_filter.ts";
import { toApiImage } from "../../src/core/api_image.ts";
import { record } from "./harness.ts";

const img = toApiImage(record("abcdef", {
  aliases: [{ name: "alpine/3.19", description: "" }],
  properties: { description: "Alpine", os: "alpine", "image.release": "3.19" },
  public: true,
}));

test("dotPrefixMatch() needs equal segment counts and each segment a prefix", () => {
  assert.ok(dotPrefixMatch("os", "os"));
  assert.ok(dotPrefixMatch("im.rel", "image.release"));
  assert.ok(!dotPrefixMatch("image", "image.release"));
  assert.ok(!dotPrefixMatch("rel", "image.release"));
});

test("imageMatches() matches a bare filter against aliases and the full fingerprint", () => {
  assert.ok(imageMatches(["pine/3"], img));
  assert.ok(imageMatches(["cdef00"], img));
  assert.ok(!imageMatches(["Alpine"], img)); // descriptions are not searched
});

test("imageMatches() anchors property values as regexps unless they hold ^ or $", () => {
  assert.ok(imageMatches(["os=alpine"], img));
  assert.ok(!imageMatches(["os=alp"], img));
  assert.ok(imageMatches(["os=alp.*"], img));
  assert.ok(imageMatches(["os=^alp"], img));
  assert.ok(imageMatches(["im.rel=3\\.19"], img));
  assert.ok(imageMatches(["os=[bad"], img) === false);
});

test("imageMatches() compares top-level fields as printed", () => {
  assert.ok(imageMatches(["type=container"], img));
  assert.ok(imageMatches(["public=true"], img));
  assert.ok(!imageMatches(["public=false"], img));
  assert.ok(imageMatches(["architecture=x86_64"], img));
});

test("imageMatches() requires every filter to match", () => {
  assert.ok(imageMatches(["alpine", "os=alpine"], img));
  assert.ok(!imageMatches(["alpine", "os=debian"], img));
  assert.ok(imageMatches([], img));
});
