/**
 * The shared compressor suite: every compressor (built-in or external) runs these cases. Test
 * data for decompression is made with the compressor's own compress() on the system path, so
 * formats whose compression needs a program still test their JS decoders.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import process from "node:process";
import { test } from "node:test";
import { ImagoError, InvalidInputError } from "../../src/core/errors.ts";
import { concat } from "../../src/core/streams.ts";
import { builtinCompressors } from "../../src/plugins/builtin.ts";
import { DETECT_BYTES, detectCompressor } from "../../src/plugins/detect.ts";
import type { Compressor } from "../../src/plugins/types.ts";

export interface SuiteOptions {
  /** Decompress with IMAGO_NO_SYSTEM_COMPRESSORS=1, i.e. the JS decoders. */
  noSystem: boolean;
  /** A tiny tar to compress for the detection case. */
  tar: Uint8Array;
  /** Level used for the large stream, chosen for speed. */
  fastLevel?: number;
  /** Why truncation and garbage cannot be detected (only "none"); the cases are skipped. */
  unframed?: string;
  /** Why compress() is unavailable on this host; cases needing it are skipped. */
  noCompressor?: string;
}

const ENV = "IMAGO_NO_SYSTEM_COMPRESSORS";

/** Runs `fn` with the env switch set as asked, restoring it afterwards. */
export async function withEnv<T>(noSystem: boolean, fn: () => Promise<T> | T): Promise<T> {
  const old = process.env[ENV];
  if (noSystem) process.env[ENV] = "1";
  else delete process.env[ENV];
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env[ENV];
    else process.env[ENV] = old;
  }
}

export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of stream) parts.push(c);
  return parts.length ? concat(parts) : new Uint8Array(0);
}

function once(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      // Several chunks, so decoders see chunk boundaries.
      for (let i = 0; i < data.length; i += 65536) c.enqueue(data.slice(i, i + 65536));
      c.close();
    },
  });
}

/** Compressed with the system path (the only one for xz, bzip2, lzma compression). */
function compress(c: Compressor, data: Uint8Array, level?: number): Promise<Uint8Array> {
  return withEnv(false, () => collect(once(data).pipeThrough(c.compress!(level))));
}

function decompress(c: Compressor, noSystem: boolean, data: Uint8Array): Promise<Uint8Array> {
  return withEnv(noSystem, () => collect(once(data).pipeThrough(c.decompress())));
}

/** Text-like data that compresses well. */
export function compressible(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  const enc = new TextEncoder();
  for (let off = 0, i = 0; off < size; i++) {
    const line = enc.encode(`line ${seed}:${i} value=${(i * 104729 + seed) % 1000003}\n`);
    out.set(line.subarray(0, size - off), off);
    off += line.length;
  }
  return out;
}

export function compressorSuite(c: Compressor, opts: SuiteOptions): void {
  const path = opts.noSystem ? "JS path" : "system path";
  const name = `${c.name} (${path})`;
  const needsCompressor = opts.noCompressor ? { skip: opts.noCompressor } : {};
  const framed = opts.unframed ? { skip: opts.unframed } : needsCompressor;

  test(
    `${name}: compress() then decompress() round-trips random and compressible data`,
    needsCompressor,
    async () => {
      for (const data of [randomBytes(3 << 20), compressible(3 << 20), new Uint8Array(0)]) {
        const packed = await compress(c, new Uint8Array(data));
        const back = await decompress(c, opts.noSystem, packed);
        assert.equal(back.length, data.length);
        assert.ok(Buffer.from(back).equals(data), "round trip changed the bytes");
      }
    },
  );

  test(
    `${name}: compress() output is detected as ${c.name} and as no other format`,
    needsCompressor,
    async () => {
      const registry = builtinCompressors();
      const packed = c.name === "none" ? opts.tar : await compress(c, opts.tar);
      const head = packed.subarray(0, DETECT_BYTES);
      assert.equal(detectCompressor(head, registry, "test data").name, c.name);
      for (const other of registry.list()) {
        if (other.name !== c.name) assert.equal(other.matches(head), false, other.name);
      }
      assert.deepEqual(await decompress(c, opts.noSystem, packed), opts.tar);
    },
  );

  test(`${name}: compress() is the same for the same input`, needsCompressor, async () => {
    const data = compressible(1 << 20, 7);
    assert.deepEqual(await compress(c, data), await compress(c, data));
  });

  test(`${name}: decompress() rejects truncated input`, framed, async () => {
    const packed = await compress(c, concat([compressible(1 << 20), randomBytes(1 << 18)]));
    for (const cut of [packed.length >> 1, packed.length - 1, 10]) {
      await assert.rejects(
        decompress(c, opts.noSystem, packed.subarray(0, cut)),
        (e) => e instanceof InvalidInputError && e.message.includes(c.name),
        `cut at ${cut} of ${packed.length}`,
      );
    }
  });

  test(`${name}: decompress() rejects garbage and corrupted input`, framed, async () => {
    const packed = await compress(c, compressible(1 << 20, 3));
    const flipped = packed.slice();
    flipped[flipped.length >> 1] ^= 0x55;
    const magicThenJunk = concat([packed.subarray(0, 6), randomBytes(4096)]);
    for (const bad of [randomBytes(4096), magicThenJunk, flipped, new Uint8Array(0)]) {
      await assert.rejects(
        decompress(c, opts.noSystem, bad),
        (e) => e instanceof InvalidInputError,
      );
    }
  });

  test(
    `${name}: a 256 MiB stream through compress() and decompress() keeps memory flat`,
    needsCompressor,
    async () => {
      const total = 256;
      const inHash = createHash("sha256");
      const outHash = createHash("sha256");
      let i = 0;
      const source = new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (i === total) return ctl.close();
          const chunk = sparseChunk(i++);
          inHash.update(chunk);
          ctl.enqueue(chunk);
        },
      }, { highWaterMark: 0 });
      const base = process.memoryUsage().rss;
      let peak = base;
      let bytes = 0;
      const packer = await withEnv(false, () => c.compress!(opts.fastLevel));
      const unpacker = await withEnv(opts.noSystem, () => c.decompress());
      for await (const chunk of source.pipeThrough(packer).pipeThrough(unpacker)) {
        bytes += chunk.length;
        outHash.update(chunk);
        peak = Math.max(peak, process.memoryUsage().rss);
      }
      assert.equal(bytes, total << 20);
      assert.equal(outHash.digest("hex"), inHash.digest("hex"));
      const growth = (peak - base) / 2 ** 20;
      assert.ok(growth < 100, `rss grew by ${growth.toFixed(0)} MiB`);
    },
  );

  if (opts.noSystem && c.compress && ["xz", "bzip2", "lzma"].includes(c.name)) {
    test(`${name}: compress() without system programs says which package to install`, () =>
      withEnv(true, () => {
        assert.throws(
          () => c.compress!(),
          (e) => e instanceof ImagoError && /Debian package/.test(e.message),
        );
      }));
  }
}

/** 1 MiB, mostly zeros with a counter every 4 KiB: fast to compress in every format. */
function sparseChunk(i: number): Uint8Array {
  const b = new Uint8Array(1 << 20);
  const enc = new TextEncoder();
  for (let off = 0; off < b.length; off += 4096) b.set(enc.encode(`${i}/${off}`), off);
  return b;
}
