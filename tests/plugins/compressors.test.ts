/** Every built-in compressor through the shared suite, on the system path and the JS path. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BUILTIN_COMPRESSORS, builtinCompressors } from "../../src/plugins/builtin.ts";
import { DETECT_BYTES, detectCompressor } from "../../src/plugins/detect.ts";
import { findProgram } from "../../src/plugins/compressors/system.ts";
import { collect, compressorSuite, withEnv } from "./compressor_suite.ts";

const fixtures = join(import.meta.dirname!, "..", "fixtures");
const tar = new Uint8Array(readFileSync(join(fixtures, "hello.tar")));

/** Compression programs, for the formats whose compress() needs one. */
const PROGRAM: Record<string, string> = { xz: "xz", lzma: "xz", bzip2: "bzip2" };
const FAST_LEVEL: Record<string, number> = { xz: 0, lzma: 0, bzip2: 1, gzip: 1, zstd: 1 };

for (const noSystem of [false, true]) {
  for (const c of BUILTIN_COMPRESSORS) {
    const program = PROGRAM[c.name];
    compressorSuite(c, {
      noSystem,
      tar,
      fastLevel: FAST_LEVEL[c.name],
      unframed: c.name === "none" ? "an uncompressed stream has no framing to check" : undefined,
      noCompressor: program && !findProgram(program)
        ? `no "${program}" program here to make ${c.name} test data`
        : undefined,
    });
  }
}

const FIXTURES: [string, string][] = [
  ["hello.tar", "none"],
  ["hello.tar.gz", "gzip"],
  ["hello.tar.xz", "xz"],
  ["hello.tar.bz2", "bzip2"],
  ["hello.tar.lzma", "lzma"],
  ["hello.tar.zst", "zstd"],
];

for (const [file, name] of FIXTURES) {
  test(`detectCompressor() finds ${name} in ${file}, and both paths decompress it`, async () => {
    const bytes = new Uint8Array(readFileSync(join(fixtures, file)));
    const c = detectCompressor(bytes.subarray(0, DETECT_BYTES), builtinCompressors(), file);
    assert.equal(c.name, name);
    assert.equal(`.tar${c.extension}`, file.slice("hello".length));
    for (const noSystem of [false, true]) {
      const out = await withEnv(noSystem, () => collect(blob(bytes).pipeThrough(c.decompress())));
      assert.deepEqual(out, tar);
    }
  });
}

test("BUILTIN_COMPRESSORS is sorted by name and holds all six formats", () => {
  const names = BUILTIN_COMPRESSORS.map((c) => c.name);
  assert.deepEqual(names, ["bzip2", "gzip", "lzma", "none", "xz", "zstd"]);
});

function blob(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(ctl) {
      ctl.enqueue(bytes);
      ctl.close();
    },
  });
}
