/** The streaming multipart reader, fed in awkward chunk sizes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { headerParams, MultipartReader } from "../../../src/plugins/remotes/multipart.ts";
import { readAllBytes, seeded } from "./tls_helpers.ts";

const enc = new TextEncoder();
const B = "b0undary";

function body(parts: { name: string; file: string; data: Uint8Array }[], tail = `--${B}--\r\n`) {
  const pieces: Uint8Array[] = [enc.encode("preamble to ignore\r\n")];
  parts.forEach((p, i) => {
    pieces.push(enc.encode(
      `${i ? "\r\n" : ""}--${B}\r\nContent-Disposition: form-data; name="${p.name}"; ` +
        `filename="${p.file}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ));
    pieces.push(p.data);
  });
  pieces.push(enc.encode(`\r\n${tail}`));
  const all = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of pieces) {
    all.set(p, off);
    off += p.byteLength;
  }
  return all;
}

/** `bytes` as a stream of chunks of `size` bytes. */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}

test("MultipartReader yields each part's bytes exactly, whatever the chunk size", async () => {
  // Data full of near-delimiters: "\r\n--b0undar" without the final letter.
  const tricky = enc.encode(`x\r\n--b0undar\r\n--${B.slice(0, 4)}\r\n-`);
  const meta = new Uint8Array([...tricky, ...seeded(3000, 2), ...tricky]);
  const root = seeded(70_000, 5);
  const raw = body([
    { name: "metadata", file: "meta.tar.xz", data: meta },
    { name: "rootfs", file: "x.squashfs", data: root },
  ]);
  for (const size of [1, 7, B.length + 3, 4096, raw.byteLength]) {
    const reader = new MultipartReader(chunked(raw, size), B, "test");
    const p1 = await reader.next();
    assert.equal(p1?.name, "metadata");
    assert.equal(p1?.filename, "meta.tar.xz");
    assert.deepEqual(await readAllBytes(p1!.body), meta, `metadata, chunks of ${size}`);
    const p2 = await reader.next();
    assert.equal(p2?.name, "rootfs");
    assert.deepEqual(await readAllBytes(p2!.body), root, `rootfs, chunks of ${size}`);
    assert.equal(await reader.next(), undefined);
  }
});

test("MultipartReader skips a cancelled part and reports a body cut inside a part", async () => {
  const raw = body([
    { name: "a", file: "a", data: seeded(5000, 1) },
    { name: "b", file: "b", data: enc.encode("second") },
  ]);
  const reader = new MultipartReader(chunked(raw, 100), B, "test");
  await (await reader.next())!.body.cancel();
  const second = await reader.next();
  assert.equal(new TextDecoder().decode(await readAllBytes(second!.body)), "second");

  const cut = new MultipartReader(chunked(raw.subarray(0, 3000), 100), B, '"https://x/export"');
  const part = await cut.next();
  await assert.rejects(
    readAllBytes(part!.body),
    /multipart answer of "https:\/\/x\/export": it ends inside a part/,
  );
});

test("headerParams() reads quoted and bare parameters", () => {
  assert.deepEqual(headerParams('form-data; name="rootfs.img"; filename="a \\"b\\".qcow2"'), {
    type: "form-data",
    params: { name: "rootfs.img", filename: 'a "b".qcow2' },
  });
  assert.deepEqual(headerParams("inline;filename=abc.tar.xz"), {
    type: "inline",
    params: { filename: "abc.tar.xz" },
  });
});
