/**
 * Keeping download garbage small. Every body chunk is a fresh buffer that dies a few
 * milliseconds later, but V8 frees a buffer's memory only when a collection finds it dead, and a
 * download makes little other garbage: collections came rarely and ~70 MB of dead chunks sat in
 * memory at any time, then cost a full mark-compact. A young-generation collection (a scavenge,
 * ~0.1 ms on our heaps) every few MiB of chunks frees them instead. The hook is V8's own `gc`,
 * reached at run time through a fresh context; where that is unavailable this does nothing.
 */
import v8 from "node:v8";
import vm from "node:vm";

/** Chunk bytes between two scavenges: dead chunks stay near this size. */
const EVERY = 4 << 20;

type Gc = (opts?: { type: "minor" | "major" }) => void;

let gc: Gc | null | undefined;
let since = 0;

function hook(): Gc | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const fn = vm.runInNewContext("gc");
    return typeof fn === "function" ? fn as Gc : null;
  } catch {
    return null;
  }
}

/** Counts `bytes` of freshly allocated chunk memory; scavenges every EVERY bytes. */
export function allocated(bytes: number): void {
  since += bytes;
  if (since < EVERY) return;
  since = 0;
  gc ??= hook();
  gc?.({ type: "minor" });
}
