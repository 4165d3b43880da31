import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { memoryUsage } from "node:process";
import { gzipSync } from "node:zlib";
import { InvalidInputError, MetadataError } from "../../src/core/errors.ts";
import { detectRootfs, inspectImage } from "../../src/core/inspect.ts";
import type { ImageInspection } from "../../src/core/inspect.ts";
import { fanOut, fileStream } from "../../src/core/streams.ts";
import { builtinCompressors } from "../../src/plugins/builtin.ts";
import { gnuTar, packTar, streamOf, tempDir } from "./tar_fixtures.ts";

const META = "architecture: amd64\ncreation_date: 1700000000\nproperties:\n  os: Alpine\n";
const HOSTNAME_TPL =
  "templates:\n  /etc/hostname:\n    when: [create]\n    template: hostname.tpl\n";

interface Outcome {
  value?: ImageInspection;
  error?: unknown;
  /** What the writer saw: undefined when every byte was accepted. */
  writeError?: unknown;
}

/** Writes `input` into an inspection as a caller storing the file would. */
async function inspect(
  input: Uint8Array | ReadableStream<Uint8Array>,
  kind: "unified" | "metadata" = "unified",
  label = "image.tar.gz",
): Promise<Outcome> {
  const { sink, result } = inspectImage(kind, builtinCompressors(), label);
  const source = input instanceof Uint8Array ? streamOf(input, 65536) : input;
  const fed = fanOut(source, [sink]).then(() => undefined, (err) => err);
  const out: Outcome = await result.then((value) => ({ value }), (error) => ({ error }));
  out.writeError = await fed;
  return out;
}

/** The InvalidInputError (or subclass) an inspection of `input` fails with. */
async function failure(
  input: Uint8Array,
  kind: "unified" | "metadata" = "unified",
): Promise<Error> {
  const out = await inspect(input, kind);
  assert.equal(out.value, undefined, "inspection succeeded");
  assert.ok(
    out.error instanceof InvalidInputError || out.error instanceof MetadataError,
    String(out.error),
  );
  return out.error;
}

test("inspectImage() reads a gzip unified container image made by GNU tar", async () => {
  const tar = gnuTar({
    "metadata.yaml": META + HOSTNAME_TPL,
    "templates/hostname.tpl": "{{ instance.name }}\n",
    "rootfs/etc/hostname": "x\n",
  }, ["-z"]);
  const { value, error } = await inspect(tar);
  assert.equal(error, undefined);
  assert.equal(value!.compressor, "gzip");
  assert.equal(value!.extension, ".tar.gz");
  assert.equal(value!.type, "container");
  assert.equal(value!.metadata.architecture, "x86_64");
  assert.deepEqual(value!.metadata.properties, { os: "Alpine" });
  assert.equal(value!.metadata.templates["/etc/hostname"].template, "hostname.tpl");
  assert.deepEqual(value!.templateFiles, ["hostname.tpl"]);
});

test("inspectImage() reads an uncompressed unified VM image (rootfs.img)", async () => {
  const tar = await packTar([
    { name: "metadata.yaml", body: META },
    { name: "rootfs.img", body: new Uint8Array(70_000) },
  ]);
  const { value, error } = await inspect(tar);
  assert.equal(error, undefined);
  assert.equal(value!.compressor, "none");
  assert.equal(value!.extension, ".tar");
  assert.equal(value!.type, "virtual-machine");
});

test("inspectImage() leaves the type open for a split image's metadata tarball", async () => {
  const tar = gnuTar({ "metadata.yaml": META, "templates/": "" }, ["-z"]);
  const { value, error } = await inspect(tar, "metadata");
  assert.equal(error, undefined);
  assert.equal(value!.type, undefined);
  assert.deepEqual(value!.templateFiles, []);
});

test("inspectImage() rejects a unified image with neither rootfs/ nor rootfs.img", async () => {
  const err = await failure(gnuTar({ "metadata.yaml": META, "other/x": "1" }, ["-z"]));
  assert.equal(
    err.message,
    'Cannot import "image.tar.gz": the image has neither rootfs/ nor rootfs.img: ' +
      "give the rootfs file as a second argument for a split image",
  );
});

test("inspectImage() rejects a tarball without metadata.yaml", async () => {
  const tar = gnuTar({ "rootfs/x": "1", "sub/metadata.yaml": META }, ["-z"]);
  const err = await failure(tar);
  assert.equal(
    err.message,
    'Cannot import "image.tar.gz": metadata.yaml is missing from the tarball',
  );
});

test("inspectImage() rejects two metadata.yaml entries", async () => {
  const tar = await packTar([
    { name: "metadata.yaml", body: META },
    { name: "./metadata.yaml", body: META },
    { name: "rootfs/", type: "directory" },
  ]);
  assert.match((await failure(tar)).message, /more than one metadata\.yaml/);
});

test("inspectImage() rejects a metadata.yaml larger than 1 MiB", async () => {
  const big = META + "# " + "x".repeat(1 << 20) + "\n";
  const err = await failure(await packTar([{ name: "metadata.yaml", body: big }]));
  assert.equal(err.message, 'Cannot import "image.tar.gz": metadata.yaml is larger than 1 MiB');
});

test("inspectImage() reports invalid YAML with its line number", async () => {
  const yaml = "architecture: x86_64\ncreation_date: 1\nproperties: [a\n  b: c\n";
  const tar = gzipSync(await packTar([{ name: "metadata.yaml", body: yaml }, { name: "rootfs/" }]));
  const err = await failure(tar);
  assert.ok(err instanceof MetadataError);
  assert.ok(err.line! >= 3, String(err.line));
  assert.match(err.message, /^Cannot import "image\.tar\.gz": metadata\.yaml line \d+, column/);
});

test("inspectImage() rejects metadata without architecture or with creation_date 0", async () => {
  const noArch = await failure(gnuTar({ "metadata.yaml": "creation_date: 1\n", "rootfs/": "" }));
  assert.equal(
    noArch.message,
    'Cannot import "image.tar.gz": metadata.yaml: architecture is required',
  );
  const zero = await failure(
    gnuTar({ "metadata.yaml": "architecture: x86_64\ncreation_date: 0\n", "rootfs/": "" }),
  );
  assert.match(zero.message, /metadata\.yaml line 2, column 16: creation_date is required/);
});

test("inspectImage() checks every entry, even after metadata.yaml and rootfs/", async () => {
  for (const name of ["../x", "/etc/passwd", "rootfs/../../x"]) {
    const tar = await packTar([
      { name: "metadata.yaml", body: META },
      { name: "rootfs/", type: "directory" },
      { name, body: "evil" },
    ]);
    assert.match((await failure(gzipSync(tar))).message, /unsafe tar entry/, name);
  }
  const link = await packTar([
    { name: "metadata.yaml", body: META },
    { name: "rootfs/etc", type: "link", linkname: "../../etc" },
  ]);
  assert.match((await failure(link)).message, /unsafe hard link "rootfs\/etc"/);
});

test("inspectImage() stops the writer when the image is bad", async () => {
  const bad = await packTar([
    { name: "../x", body: "evil" },
    { name: "rootfs/big", body: new Uint8Array(8 << 20) },
  ]);
  let written = 0;
  const input = streamOf(bad, 65536).pipeThrough(
    new TransformStream({
      transform(chunk, c) {
        written += chunk.byteLength;
        c.enqueue(chunk);
      },
    }),
  );
  const out = await inspect(input);
  assert.ok(out.error instanceof InvalidInputError);
  assert.ok(out.writeError !== undefined, "the write side saw the failure");
  assert.ok(written < bad.byteLength, `wrote ${written} of ${bad.byteLength}`);
});

test("inspectImage() rejects a truncated gzip stream", async () => {
  const gz = gzipSync(gnuTar({ "metadata.yaml": META, "rootfs/x": "x".repeat(50_000) }));
  const err = await failure(gz.subarray(0, gz.byteLength - 20));
  assert.match(err.message, /^Cannot import "image\.tar\.gz": /);
  assert.match(err.message, /truncated/);
});

test("inspectImage() rejects a truncated uncompressed tar", async () => {
  const tar = await packTar([
    { name: "metadata.yaml", body: META },
    { name: "rootfs.img", body: new Uint8Array(100_000) },
  ]);
  const err = await failure(tar.subarray(0, 50_000));
  assert.match(err.message, /truncated in entry "rootfs\.img"/);
});

test("inspectImage() rejects a file that is not a tar", async () => {
  const junk = new TextEncoder().encode("just some text, not an image\n".repeat(20));
  assert.match((await failure(junk)).message, /unsupported compression \(known: [a-z0-9, ]*gzip/);
  const gzJunk = gzipSync(junk);
  assert.match((await failure(gzJunk)).message, /not a tar archive/);
});

test("inspectImage() rejects an empty file", async () => {
  const err = await failure(new Uint8Array(0));
  assert.equal(err.message, 'Cannot import "image.tar.gz": the file is empty');
});

test("inspectImage() rejects with the caller's reason when the sink is aborted", async () => {
  const { sink, result } = inspectImage("unified", builtinCompressors(), "x.tar");
  const writer = sink.getWriter();
  await writer.write(gzipSync(new Uint8Array(1000)).subarray(0, 10));
  const reason = new Error("disk full");
  await writer.abort(reason);
  // Give a rejection without a handler the chance to surface before we attach one.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await assert.rejects(result, (err) => err === reason);
});

test("inspectImage() fails when aborted without a reason after a complete-looking start", async () => {
  const tar = await packTar([
    { name: "metadata.yaml", body: META },
    { name: "rootfs/", type: "directory" },
    { name: "rootfs/big", body: new Uint8Array(1 << 20) },
  ]);
  const { sink, result } = inspectImage("unified", builtinCompressors(), "x.tar");
  const writer = sink.getWriter();
  await writer.write(tar.subarray(0, 4096));
  await writer.abort();
  let settled = "pending";
  await result.then(() => settled = "resolved", () => settled = "rejected");
  assert.equal(settled, "rejected");
});

test("detectRootfs() tells squashfs, qcow2 and compressed tars apart", async () => {
  const reg = builtinCompressors();
  const head = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
  assert.deepEqual(detectRootfs(head("hsqs\x00\x01"), reg, "r"), {
    kind: "squashfs",
    ext: ".squashfs",
    type: "container",
  });
  assert.deepEqual(detectRootfs(head("QFI\xfb\x00\x00\x00\x03"), reg, "r"), {
    kind: "qcow2",
    ext: ".qcow2",
    type: "virtual-machine",
  });
  assert.deepEqual(detectRootfs(gzipSync(new Uint8Array(10)), reg, "r"), {
    kind: "tar",
    ext: ".tar.gz",
    type: "container",
    compressor: "gzip",
  });
  const tar = await packTar([{ name: "x", body: "1" }]);
  assert.equal(detectRootfs(tar.subarray(0, 263), reg, "r").ext, ".tar");
  assert.throws(
    () => detectRootfs(head("QFI\x00 not qcow"), reg, "root.img"),
    (err) =>
      err instanceof InvalidInputError &&
      err.message.startsWith('Cannot read "root.img": unsupported rootfs format'),
  );
});

test("inspectImage() reads xz images when an xz compressor is registered", {
  skip: builtinCompressors().has("xz") ? false : "no xz compressor registered yet",
}, async () => {
  const tar = gnuTar({ "metadata.yaml": META, "rootfs/x": "1" }, ["-J"]);
  const { value, error } = await inspect(tar, "unified", "image.tar.xz");
  assert.equal(error, undefined);
  assert.equal(value!.compressor, "xz");
  assert.equal(value!.extension, ".tar.xz");
  assert.equal(value!.type, "container");
});

test("inspectImage() streams a 200 MB unified image in flat memory", async () => {
  const t = tempDir();
  try {
    const root = join(t.dir, "root");
    mkdirSync(join(root, "rootfs"), { recursive: true });
    writeFileSync(join(root, "rootfs", "disk"), "");
    truncateSync(join(root, "rootfs", "disk"), 200 << 20); // sparse; tar stores it in full
    writeFileSync(join(root, "metadata.yaml"), META);
    const file = join(t.dir, "big.tar");
    // metadata.yaml last: the whole archive must be scanned to find it.
    execFileSync("tar", ["-cf", file, "-C", root, "rootfs", "metadata.yaml"]);

    // The first pass warms up the runtime (code, heap); the second is the one measured.
    for (const measured of [false, true]) {
      const before = memoryUsage().rss;
      let peak = before;
      let bytes = 0;
      const source = fileStream(file).pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, c) {
            // 64 KiB pieces, as a network or decompressor would deliver them.
            for (let off = 0; off < chunk.byteLength; off += 65536) {
              c.enqueue(chunk.subarray(off, off + 65536));
            }
            bytes += chunk.byteLength;
            peak = Math.max(peak, memoryUsage().rss);
          },
        }),
      );
      const { value, error } = await inspect(source, "unified", "big.tar");
      assert.equal(error, undefined);
      assert.equal(value!.type, "container");
      assert.equal(value!.metadata.architecture, "x86_64");
      assert.ok(bytes > 200 << 20);
      const growth = (peak - before) / (1 << 20);
      if (measured) assert.ok(growth < 100, `RSS grew by ${growth.toFixed(1)} MiB`);
    }
  } finally {
    t.remove();
  }
});
