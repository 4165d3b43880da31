/**
 * The hostile-input corpus: broken or malicious image files, each made on the fly into a temp
 * folder, with the substring its one-line error must contain. Shared by the store and CLI runs.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packTar } from "../core/tar_fixtures.ts";
import type { PackEntry } from "../core/tar_fixtures.ts";

export interface HostileCase {
  name: string;
  /** Writes the input files into `dir`; returns [metadata-or-unified, rootfs?]. */
  make(dir: string): Promise<string[]>;
  /** A distinctive part of the error message (a pattern where tools word it differently). */
  expect: string | RegExp;
  aliases?: string[];
  /** Store.import's expectedFingerprint (not a CLI flag). */
  fingerprint?: string;
  /** The message need not name an input file (the problem is not in a file). */
  fileless?: boolean;
  /** Only meaningful through the CLI (a path that cannot be opened). */
  cliOnly?: boolean;
  /** Compressor the case needs registered (its own error would be "unsupported" otherwise). */
  needs?: string;
}

export const GOOD_YAML = "architecture: x86_64\ncreation_date: 1700000000\n";
/** An alias the corpus store already gives to another image. */
export const TAKEN_ALIAS = "taken";

const dirEntry = (name: string): PackEntry => ({ name, type: "directory", mode: 0o755 });
const file = (name: string, body: string | Uint8Array): PackEntry => ({ name, body, mode: 0o644 });
/** Incompressible filler, so cutting a compressed file lands inside the data. */
const filler = () => file("rootfs/filler", randomBytes(256 * 1024));

/** A unified tar: metadata.yaml with `yaml`, then rootfs/ and whatever `extra` adds. */
function unified(yaml: string | Uint8Array, extra: PackEntry[] = []): Promise<Uint8Array> {
  return packTar([file("metadata.yaml", yaml), dirEntry("rootfs/"), ...extra]);
}

/** Via a file: Deno's execFileSync can deadlock feeding a large `input` to xz. */
function compress(dir: string, bytes: Uint8Array, program: string): Uint8Array {
  const path = put(dir, `plain-${program}.tar`, bytes);
  return new Uint8Array(execFileSync(program, ["-c", path], { maxBuffer: 1 << 26 }));
}

const half = (b: Uint8Array) => b.subarray(0, Math.floor(b.byteLength / 2));

function put(dir: string, name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** A case whose single input is one file with these bytes. */
function one(
  name: string,
  expect: string | RegExp,
  bytes: (dir: string) => Promise<Uint8Array | string> | Uint8Array | string,
  more: Partial<HostileCase> = {},
): HostileCase {
  return {
    name,
    expect,
    make: async (dir) => [put(dir, "image.tar", await bytes(dir))],
    ...more,
  };
}

const withYaml = (name: string, expect: string, yaml: string) =>
  one(name, expect, () => unified(yaml, [file("rootfs/hello", "hi\n")]));

/** Decompressors word it differently ("unexpected end of file", "ends unexpectedly"). */
const TRUNCATED = "(truncated|unexpected end|ends unexpectedly)";

const truncated = (program: string) =>
  one(
    `truncated ${program}`,
    new RegExp(`${program} data.*${TRUNCATED}`, "i"),
    async (dir) => half(compress(dir, await unified(GOOD_YAML, [filler()]), program)),
    { needs: program },
  );

export const HOSTILE_CASES: HostileCase[] = [
  one("no metadata.yaml", "metadata.yaml is missing", () => packTar([dirEntry("rootfs/")])),
  withYaml("invalid YAML", "invalid YAML", "architecture: [x86_64\ncreation_date: 1\n"),
  withYaml("missing architecture", "architecture is required", "creation_date: 1700000000\n"),
  withYaml(
    "unknown architecture",
    'architecture "vax" is not supported',
    "architecture: vax\ncreation_date: 1700000000\n",
  ),
  withYaml(
    "creation_date 0",
    "creation_date is required and must not be 0",
    "architecture: x86_64\ncreation_date: 0\n",
  ),
  withYaml(
    "missing creation_date",
    "creation_date is required",
    "architecture: x86_64\nproperties: {}\n",
  ),
  withYaml(
    "creation_date as text",
    "creation_date must be a whole number",
    "architecture: x86_64\ncreation_date: yesterday\n",
  ),
  withYaml(
    "properties as a nested map",
    "properties.os",
    GOOD_YAML + "properties:\n  os: {a: b}\n",
  ),
  withYaml("top level a list", "top level must be a mapping", "- architecture: x86_64\n"),
  withYaml("duplicate YAML keys", "invalid YAML", GOOD_YAML + "architecture: i686\n"),
  withYaml(
    "template name with ../",
    "must be a file name under templates/",
    GOOD_YAML + "templates:\n  /etc/x:\n    when: [create]\n    template: ../../etc/shadow\n",
  ),
  withYaml(
    "relative template target",
    'template target "etc/x" must be an absolute path',
    GOOD_YAML + "templates:\n  etc/x:\n    template: x.tpl\n",
  ),
  withYaml(
    "unknown template trigger",
    'when has "boot"',
    GOOD_YAML + "templates:\n  /etc/x:\n    when: [boot]\n    template: x.tpl\n",
  ),
  one(
    "metadata.yaml not UTF-8",
    "not valid UTF-8",
    () => unified(new Uint8Array([...new TextEncoder().encode(GOOD_YAML), 0xff, 0xfe, 0x0a])),
  ),
  one(
    "oversized metadata.yaml",
    "metadata.yaml is larger than 1 MiB",
    () => unified(GOOD_YAML + "#".repeat(1 << 20) + "\n"),
  ),
  one(
    "two metadata.yaml entries",
    "more than one metadata.yaml",
    () => unified(GOOD_YAML, [file("./metadata.yaml", GOOD_YAML)]),
  ),
  one(
    "metadata.yaml a directory",
    "metadata.yaml is not a regular file",
    () => packTar([dirEntry("metadata.yaml/"), dirEntry("rootfs/")]),
  ),
  one(
    "metadata.yaml a symlink",
    "metadata.yaml is not a regular file",
    () =>
      packTar([
        { name: "metadata.yaml", type: "symlink", linkname: "/etc/passwd" },
        dirEntry("rootfs/"),
      ]),
  ),
  one(
    "only metadata.yaml, no rootfs",
    "neither rootfs/ nor rootfs.img",
    () => packTar([file("metadata.yaml", GOOD_YAML)]),
  ),
  one("../ entry", 'unsafe tar entry "../evil"', () => unified(GOOD_YAML, [file("../evil", "x")])),
  one(
    "absolute path entry",
    'unsafe tar entry "/etc/evil"',
    () => unified(GOOD_YAML, [file("/etc/evil", "x")]),
  ),
  one(
    "rootfs/../../x entry",
    'unsafe tar entry "rootfs/../../x"',
    () => unified(GOOD_YAML, [file("rootfs/../../x", "x")]),
  ),
  one(
    "hard link pointing outside",
    'unsafe hard link "rootfs/shadow"',
    () =>
      unified(GOOD_YAML, [{ name: "rootfs/shadow", type: "link", linkname: "../../etc/shadow" }]),
  ),
  one("tar header checksum broken", "not a tar archive, or a corrupt one", async () => {
    const tar = await unified(GOOD_YAML, [file("rootfs/hello", "hi\n")]);
    tar[1024 + 148] ^= 0x55; // the checksum field of the second header
    return tar;
  }),
  one("truncated plain tar", "truncated", async () => half(await unified(GOOD_YAML, [filler()]))),
  truncated("gzip"),
  truncated("xz"),
  truncated("zstd"),
  truncated("bzip2"),
  one("corrupt xz in the middle", /xz data.*corrupt/i, async (dir) => {
    const xz = compress(dir, await unified(GOOD_YAML, [filler()]), "xz");
    const mid = Math.floor(xz.byteLength / 2);
    for (let i = mid; i < mid + 64; i++) xz[i] ^= 0xa5;
    return xz;
  }, { needs: "xz" }),
  one("empty file", "the file is empty", () => new Uint8Array(0)),
  one("random bytes", "unsupported compression", () => randomBytes(4096)),
  one("plain text file", "unsupported compression", () => "just some text\n".repeat(40)),
  one(
    "metadata tarball that is squashfs garbage",
    "unsupported compression",
    () => new Uint8Array([..."hsqs"].map((c) => c.charCodeAt(0)).concat([...randomBytes(2048)])),
  ),
  {
    name: "split files in the wrong order (rootfs first)",
    expect: "metadata.yaml is missing",
    make: async (dir) => {
      const meta = put(dir, "meta.tar", await packTar([file("metadata.yaml", GOOD_YAML)]));
      const root = put(dir, "root.tar", await packTar([dirEntry("./"), file("./hello", "hi\n")]));
      return [root, meta];
    },
  },
  {
    name: "split with an empty rootfs file",
    expect: "the rootfs file is empty",
    make: async (dir) => [
      put(dir, "meta.tar", await packTar([file("metadata.yaml", GOOD_YAML)])),
      put(dir, "root.tar", ""),
    ],
  },
  {
    name: "split rootfs of random bytes",
    expect: "unsupported rootfs format",
    make: async (dir) => [
      put(dir, "meta.tar", await packTar([file("metadata.yaml", GOOD_YAML)])),
      put(dir, "root.bin", randomBytes(4096)),
    ],
  },
  {
    name: "split rootfs with a ../ entry",
    expect: 'unsafe tar entry "../evil"',
    make: async (dir) => [
      put(dir, "meta.tar", await packTar([file("metadata.yaml", GOOD_YAML)])),
      put(dir, "root.tar", await packTar([dirEntry("./"), file("../evil", "x")])),
    ],
  },
  {
    name: "split rootfs truncated gzip",
    expect: new RegExp(`gzip data.*${TRUNCATED}`, "i"),
    make: async (dir) => [
      put(dir, "meta.tar", await packTar([file("metadata.yaml", GOOD_YAML)])),
      put(dir, "root.tar.gz", half(compress(dir, await packTar([filler()]), "gzip"))),
    ],
  },
  {
    ...withYaml(
      "alias already used by another image",
      `alias "${TAKEN_ALIAS}" already exists`,
      GOOD_YAML,
    ),
    aliases: [TAKEN_ALIAS],
  },
  {
    ...withYaml("invalid alias name", "Invalid alias name", GOOD_YAML),
    aliases: [" spaced "],
    fileless: true,
  },
  {
    ...withYaml("wrong expected fingerprint", "sha256 mismatch", GOOD_YAML),
    fingerprint: "0".repeat(64),
  },
  {
    name: "a file that does not exist",
    expect: "missing.tar",
    make: (dir) => Promise.resolve([join(dir, "missing.tar")]),
    cliOnly: true,
  },
  {
    name: "a directory instead of a file",
    expect: "a-dir",
    make: (dir) => {
      mkdirSync(join(dir, "a-dir"));
      return Promise.resolve([join(dir, "a-dir")]);
    },
    cliOnly: true,
  },
];
