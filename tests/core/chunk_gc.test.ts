import { test } from "node:test";
import assert from "node:assert/strict";
import { chunkAllocated } from "../../src/core/chunk_gc.ts";

test("chunkAllocated collects the young generation every 4 MiB and everything every 64 MiB", () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  const calls: string[] = [];
  g.gc = (opts?: { type: string }) => void calls.push(opts?.type ?? "major");
  try {
    // Flush whatever earlier allocations in this process left counted.
    for (let i = 0; i < 64; i++) chunkAllocated(1 << 20);
    calls.length = 0;
    const start = calls.length;
    for (let i = 0; i < 128 * 4; i++) chunkAllocated(256 << 10); // 128 MiB in 256 KiB chunks
    const made = calls.slice(start);
    assert.equal(made.length, 32);
    assert.equal(made.filter((t) => t === "major").length, 2);
    assert.ok(made.every((t) => t === "minor" || t === "major"));
  } finally {
    g.gc = saved;
  }
});

test("chunkAllocated does nothing when V8's gc is not exposed", () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  delete g.gc;
  try {
    for (let i = 0; i < 1000; i++) chunkAllocated(1 << 20);
  } finally {
    if (saved) g.gc = saved;
  }
});
