/**
 * Keeping dead chunk buffers from piling up. Image bytes flow as fresh 256 KiB buffers that die
 * a few milliseconds later, but V8 frees a buffer's memory only when a collection finds it dead,
 * and a transfer makes little other garbage: ~70 MB of dead chunks sat in memory before V8's
 * external-memory trigger fired, then cost a full mark-compact. A young-generation collection
 * (about 0.1 ms on our heaps) every few MiB of chunks frees them instead. It needs V8's `gc`
 * function: the binary starts with --expose-gc, and so do scripts/imago.sh and `deno task imago`;
 * without it this does nothing.
 */
import process from "node:process";

/** Chunk bytes between two collections: dead chunks stay near this size. */
const EVERY = 4 << 20;

type Gc = (opts?: { type: "minor" | "major" }) => void;

/**
 * Chunks held across two young collections (in read-ahead and pipe queues) move to the old
 * generation, which only a full collection empties (~10 ms): one runs when memory outside the
 * V8 heap (buffers; Deno reports them only there) still exceeds HELD_MAX after a young one.
 */
const HELD_MAX = 32 << 20;

let since = 0;

/** Counts `bytes` of freshly allocated chunk memory, collecting garbage as described above. */
export function chunkAllocated(bytes: number): void {
  since += bytes;
  if (since < EVERY) return;
  since = 0;
  const gc = (globalThis as { gc?: Gc }).gc;
  if (!gc) return;
  gc({ type: "minor" });
  if (process.memoryUsage().external > HELD_MAX) gc({ type: "major" });
}
