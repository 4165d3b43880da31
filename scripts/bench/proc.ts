/**
 * Memory of running processes from /proc: the summed RSS of a process tree sampled while it
 * runs, and the kernel's exact peak (ru_maxrss) through /usr/bin/time when it is installed.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, type RunResult } from "./lib.ts";

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return fallback; // the process exited between listing and reading
  }
}

/** One process's memory in kB: VmRSS, VmHWM, and VmRSS split into anonymous and file pages. */
export interface Memory {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

/** The memory of one process in kB; zeros once it is gone. */
export function memoryOf(pid: number): Memory {
  const status = readOr(`/proc/${pid}/status`, "");
  const field = (name: string) =>
    Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, "m"))?.[1] ?? 0);
  return {
    rss: field("VmRSS"),
    hwm: field("VmHWM"),
    anon: field("RssAnon"),
    file: field("RssFile"),
  };
}

/** Calls `sample` now and every `ms` until stopped, and once more when stopped. */
function polling<T>(sample: () => void, result: T, ms: number): { stop(): T } {
  sample();
  const timer = setInterval(sample, ms);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return result;
    },
  };
}

/**
 * One process's peak: VmHWM (the kernel's own high-water mark, so polling only risks missing
 * growth in its last milliseconds), and the anonymous/file split of VmRSS at its highest sample.
 */
export function watchProcess(pid: number, ms = 10): { stop(): Memory } {
  const peak: Memory = { hwm: 0, rss: 0, anon: 0, file: 0 };
  return polling(
    () => {
      const m = memoryOf(pid);
      peak.hwm = Math.max(peak.hwm, m.hwm);
      if (m.rss >= peak.rss) Object.assign(peak, { rss: m.rss, anon: m.anon, file: m.file });
    },
    peak,
    ms,
  );
}

/** Every descendant of `pid`; children are listed per thread, and Go spawns from any thread. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      for (const c of readOr(`/proc/${p}/task/${t}/children`, "").split(" ")) {
        if (c.trim()) {
          out.push(Number(c));
          stack.push(Number(c));
        }
      }
    }
  }
  return out;
}

/** Peak of the summed RSS of a tree (kB) and the largest single VmHWM seen, while sampling. */
export interface TreePeak {
  sumRss: number;
  maxHwm: number;
}

/** Samples a process tree every `ms` until stopped; `includeRoot` false skips a wrapper. */
export function watchTree(root: number, includeRoot: boolean, ms = 20): { stop(): TreePeak } {
  const peak: TreePeak = { sumRss: 0, maxHwm: 0 };
  return polling(
    () => {
      const pids = includeRoot ? [root, ...descendants(root)] : descendants(root);
      let sum = 0;
      for (const p of pids) {
        const m = memoryOf(p);
        sum += m.rss;
        peak.maxHwm = Math.max(peak.maxHwm, m.hwm);
      }
      peak.sumRss = Math.max(peak.sumRss, sum);
    },
    peak,
    ms,
  );
}

/** Resets a process's VmHWM to its current RSS (needs root or the same user). */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

export interface PeakRun extends RunResult {
  /** Peak memory of the command and its children in kB: max of ru_maxrss and the tree sum. */
  peakKb: number;
  /** ru_maxrss from /usr/bin/time (largest single process), 0 without it. */
  maxrssKb: number;
  tree: TreePeak;
}

/** Runs `argv` and measures its peak memory; `scratch` is a file path for time's report. */
export async function runWithPeak(
  argv: string[],
  scratch: string,
  env?: Record<string, string>,
): Promise<PeakRun> {
  const hasTime = existsSync("/usr/bin/time");
  const full = hasTime ? ["/usr/bin/time", "-f", "%M", "-o", scratch, ...argv] : argv;
  let watch: { stop(): TreePeak } | undefined;
  // Under time the measured process is the wrapper's child, so the wrapper is left out.
  const res = await run(full, { env, onSpawn: (pid) => watch = watchTree(pid, !hasTime) });
  const tree = watch?.stop() ?? { sumRss: 0, maxHwm: 0 };
  let maxrssKb = 0;
  if (hasTime) {
    maxrssKb = Number(readOr(scratch, "0").trim().split("\n").pop()) || 0;
    rmSync(scratch, { force: true });
  }
  return { ...res, tree, maxrssKb, peakKb: Math.max(maxrssKb, tree.sumRss, tree.maxHwm) };
}

/** Summed RSS (kB) of a process and its descendants right now. */
export function treeRss(pid: number): number {
  return [pid, ...descendants(pid)].reduce((s, p) => s + memoryOf(p).rss, 0);
}

export function comm(pid: number): string {
  return readOr(join("/proc", String(pid), "comm"), "").trim();
}
