import { test } from "node:test";
import assert from "node:assert/strict";
import { arch, machine } from "node:os";
import {
  archAliases,
  ARCHITECTURES,
  canonicalArch,
  hostArch,
  isKnownArch,
  personalities,
} from "../../src/core/arch.ts";

test("canonicalArch() maps aliases to LXD's canonical names", () => {
  assert.equal(canonicalArch("amd64"), "x86_64");
  assert.equal(canonicalArch("generic_64"), "x86_64");
  assert.equal(canonicalArch("arm64"), "aarch64");
  assert.equal(canonicalArch("armhf"), "armv7l");
  assert.equal(canonicalArch("386"), "i686");
  assert.equal(canonicalArch("ppc64el"), "ppc64le");
  assert.equal(canonicalArch("mips64el"), "mips64");
});

test("canonicalArch() keeps canonical names and rejects unknown ones", () => {
  for (const name of ARCHITECTURES) assert.equal(canonicalArch(name), name);
  assert.equal(canonicalArch("sparc"), undefined);
  assert.equal(canonicalArch("AMD64"), undefined);
  assert.equal(canonicalArch(""), undefined);
});

test("archAliases lists every canonical name of the osarch table once", () => {
  assert.deepEqual(Object.keys(archAliases), [
    "i686",
    "x86_64",
    "armv6l",
    "armv7l",
    "armv8l",
    "aarch64",
    "ppc",
    "ppc64",
    "ppc64le",
    "s390x",
    "mips",
    "mips64",
    "riscv32",
    "riscv64",
  ]);
  const all = Object.values(archAliases).flat();
  assert.equal(new Set(all).size, all.length);
});

test("isKnownArch() accepts names and aliases only", () => {
  assert.ok(isKnownArch("x86_64"));
  assert.ok(isKnownArch("amd64"));
  assert.ok(!isKnownArch("foo"));
});

test("personalities() lists the extra architectures a host runs", () => {
  assert.deepEqual(personalities("x86_64"), ["i686"]);
  assert.deepEqual(personalities("amd64"), ["i686"]);
  assert.deepEqual(personalities("aarch64"), ["armv6l", "armv7l", "armv8l"]);
  assert.deepEqual(personalities("armv7l"), ["armv6l"]);
  assert.deepEqual(personalities("ppc64"), ["ppc"]);
  assert.deepEqual(personalities("mips64"), ["mips"]);
  assert.deepEqual(personalities("s390x"), []);
  assert.deepEqual(personalities("foo"), []);
});

test("personalities() returns a copy the caller may change", () => {
  personalities("x86_64").push("x");
  assert.deepEqual(personalities("x86_64"), ["i686"]);
});

test("hostArch() gives the canonical name of this machine", () => {
  const host = hostArch();
  assert.ok(isKnownArch(host), host);
  assert.equal(canonicalArch(host), host);
  const expected = canonicalArch(machine()) ??
    ({ x64: "x86_64", arm64: "aarch64" } as Record<string, string>)[arch()];
  assert.equal(host, expected);
});
