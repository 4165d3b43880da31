import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { chunkAllocated } from "../../src/core/chunk_gc.ts";

/** Runs `fn` with a recording stand-in for V8's gc; returns the collection types it asked for. */
function recording(fn: () => void): string[] {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  const calls: string[] = [];
  g.gc = (opts?: { type: string }) => void calls.push(opts?.type ?? "major");
  try {
    chunkAllocated(4 << 20); // ends whatever count earlier allocations left
    calls.length = 0;
    fn();
    return calls;
  } finally {
    if (saved) g.gc = saved;
    else delete g.gc;
  }
}

test("chunkAllocated collects the young generation once per 4 MiB of chunks", () => {
  const calls = recording(() => {
    for (let i = 0; i < 64; i++) chunkAllocated(256 << 10); // 16 MiB
  });
  assert.deepEqual(calls.filter((t) => t === "minor").length, 4);
});

test("chunkAllocated adds a full collection while buffers hold more than 32 MB outside the heap", () => {
  const held = new Uint8Array(48 << 20).fill(1); // stands in for chunks promoted to old space
  assert.ok(process.memoryUsage().external > 32 << 20);
  const calls = recording(() => {
    for (let i = 0; i < 16; i++) chunkAllocated(1 << 20);
  });
  assert.deepEqual(calls, ["minor", "major", "minor", "major", "minor", "major", "minor", "major"]);
  assert.equal(held[0], 1);
});

test("chunkAllocated does nothing when V8's gc is not exposed", () => {
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  delete g.gc;
  try {
    for (let i = 0; i < 100; i++) chunkAllocated(1 << 20);
  } finally {
    if (saved) g.gc = saved;
  }
});
